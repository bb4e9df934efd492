package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// statement is one SQL statement as PostgreSQL logged it: its text, with
// $n placeholders, and the values bound to them as SQL literals.
type statement struct {
	SQL    string   `json:"sql"`
	Params []string `json:"-"`
}

// Literal is the statement with its parameters written in as literals.
func (s statement) Literal() string {
	return placeholder.ReplaceAllStringFunc(s.SQL, func(p string) string {
		n, _ := strconv.Atoi(p[1:])
		if n < 1 || n > len(s.Params) {
			return p
		}
		return s.Params[n-1]
	})
}

var placeholder = regexp.MustCompile(`\$[0-9]+`)

// captured is what one HTTP request made the server run.
type captured struct {
	Request    request
	Status     int
	Statements []statement
}

// statementLog reads what PostgreSQL logs for one database while
// log_statement = 'all' is set on it.
type statementLog struct {
	path   string
	dbName string
}

// findServerLog returns the file PostgreSQL logs to: the logging
// collector's current file when it runs, else Debian's per-cluster file.
func findServerLog(ctx context.Context, admin *gorm.DB, override string) (string, error) {
	if override != "" {
		return override, nil
	}
	var current *string
	if err := admin.WithContext(ctx).Raw("SELECT pg_current_logfile()").Scan(&current).Error; err == nil && current != nil && *current != "" {
		path := *current
		if !filepath.IsAbs(path) {
			var dataDir string
			if err := admin.WithContext(ctx).Raw("SHOW data_directory").Scan(&dataDir).Error; err != nil {
				return "", err
			}
			path = filepath.Join(dataDir, path)
		}
		return path, nil
	}
	var major string
	if err := admin.WithContext(ctx).Raw("SHOW server_version_num").Scan(&major).Error; err != nil {
		return "", err
	}
	if len(major) >= 2 {
		major = major[:len(major)-4]
	}
	matches, _ := filepath.Glob(fmt.Sprintf("/var/log/postgresql/postgresql-%s-*.log", major))
	if len(matches) == 0 {
		return "", errors.New("cannot find PostgreSQL's log file (pass --pg-log)")
	}
	return matches[0], nil
}

// during returns the statements the database logged while fn ran; fn runs
// one request at a time, so nothing else of this database interleaves.
func (l statementLog) during(fn func() error) ([]statement, error) {
	start, err := fileSize(l.path)
	if err != nil {
		return nil, err
	}
	if err := fn(); err != nil {
		return nil, err
	}
	// The backend writes its log line before it answers, but give the
	// kernel's pipe to the log file a moment all the same.
	time.Sleep(20 * time.Millisecond)
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil, err
	}
	return parseStatementLog(f, l.dbName)
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// logEntryStart matches the first line of an entry with Debian's prefix
// "%m [%p] %q%u@%d ".
var logEntryStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \S+ \[\d+\] (?:(\S*)@(\S*) )?([A-Z]+):  (.*)$`)

// parseStatementLog reads log entries of database db: "statement: SQL",
// "execute NAME: SQL" and the "parameters: $1 = '...'" detail after it.
// Continuation lines of a multi-line entry start with a tab.
func parseStatementLog(r io.Reader, db string) ([]statement, error) {
	var out []statement
	var entry *[]string // lines of the current entry of db: level, then text
	var level string
	flush := func() error {
		if entry == nil {
			return nil
		}
		text := strings.Join(*entry, "\n")
		entry = nil
		switch {
		case level == "LOG" && strings.HasPrefix(text, "statement: "):
			out = append(out, statement{SQL: strings.TrimPrefix(text, "statement: ")})
		case level == "LOG" && strings.HasPrefix(text, "execute "):
			_, sql, ok := strings.Cut(text, ": ")
			if ok {
				out = append(out, statement{SQL: sql})
			}
		case level == "DETAIL" && strings.HasPrefix(text, "parameters: ") && len(out) > 0:
			params, err := parseParams(strings.TrimPrefix(text, "parameters: "))
			if err != nil {
				return err
			}
			out[len(out)-1].Params = params
		}
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := logEntryStart.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return nil, err
			}
			if m[3] == db {
				level = m[4]
				entry = &[]string{m[5]}
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "\t"); ok && entry != nil {
			*entry = append(*entry, rest)
			continue
		}
		// Output of another kind (no prefix, no tab) ends the entry.
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, sc.Err()
}

// parseParams reads "$1 = 'a', $2 = NULL, ..." into SQL literals.
func parseParams(s string) ([]string, error) {
	var params []string
	for len(s) > 0 {
		var n int
		var rest string
		if _, err := fmt.Sscanf(s, "$%d = ", &n); err != nil {
			return nil, fmt.Errorf("unreadable parameters %q", s)
		}
		_, rest, _ = strings.Cut(s, " = ")
		var value string
		switch {
		case strings.HasPrefix(rest, "NULL"):
			value, rest = "NULL", rest[len("NULL"):]
		case strings.HasPrefix(rest, "'"):
			end := 1
			for end < len(rest) {
				if rest[end] == '\'' {
					if end+1 < len(rest) && rest[end+1] == '\'' {
						end += 2
						continue
					}
					break
				}
				end++
			}
			if end >= len(rest) {
				return nil, fmt.Errorf("unterminated parameter in %q", s)
			}
			value, rest = rest[:end+1], rest[end+1:]
		default:
			return nil, fmt.Errorf("unreadable parameter value in %q", s)
		}
		if n != len(params)+1 {
			return nil, fmt.Errorf("parameters out of order in %q", s)
		}
		params = append(params, value)
		s = strings.TrimPrefix(rest, ", ")
	}
	return params, nil
}

// captureStatements turns log_statement on for the benchmark database,
// starts a server (whose new connections take the setting), sends each
// request once, one at a time and in order (reads before writes, so no
// read sees a task a write added), and turns logging off again. The server is
// stopped after: its connections would keep logging.
func captureStatements(ctx context.Context, admin *gorm.DB, log statementLog, bin string, env serverEnv,
	reqs []workload) (map[string][]captured, error) {
	db := quoteIdent(log.dbName)
	if err := admin.WithContext(ctx).Exec("ALTER DATABASE " + db + " SET log_statement = 'all'").Error; err != nil {
		return nil, fmt.Errorf("turn statement logging on: %w", err)
	}
	defer admin.WithContext(context.Background()).Exec("ALTER DATABASE " + db + " RESET log_statement")
	srv, err := startServer(ctx, bin, env)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := &http.Client{Timeout: 10 * time.Second}
	out := map[string][]captured{}
	for _, w := range reqs {
		kind := w.Name
		for _, req := range w.Requests {
			c := captured{Request: req}
			stmts, err := log.during(func() error {
				status, sendErr := send(ctx, client, srv.URL, req)
				c.Status = status
				return sendErr
			})
			if err != nil {
				return nil, fmt.Errorf("capture %s: %w", kind, err)
			}
			if c.Status >= 300 {
				return nil, fmt.Errorf("capture %s: %s %s answered %d", kind, req.Method, req.Path, c.Status)
			}
			c.Statements = stmts
			out[kind] = append(out[kind], c)
		}
	}
	return out, nil
}

func send(ctx context.Context, client *http.Client, base string, r request) (int, error) {
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
