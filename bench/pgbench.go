package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pgScript is one pgbench transaction script: SQL commands ending in ';'
// and meta-commands (\set, \startpipeline...), one per line.
type pgScript []string

// newIDVar is the pgbench variable that stands for a new task's id: a
// random 63-bit number, written as text into the id column. pgbench has no
// string variables, and the captured id would collide on the second run.
const newIDVar = ":id"

// scriptFromCapture replays exactly the statements the server ran for one
// request, parameters written in as literals. newID, if set, is the id the
// request created: it becomes a fresh pgbench variable each transaction.
func scriptFromCapture(c captured, newID string) pgScript {
	var s pgScript
	if newID != "" {
		s = append(s, `\set id random(1, 9000000000000000000)`)
	}
	for _, st := range c.Statements {
		params := make([]string, len(st.Params))
		for i, p := range st.Params {
			if newID != "" && p == "'"+newID+"'" {
				params[i] = newIDVar
			} else {
				params[i] = pgbenchLiteral(p)
			}
		}
		sql := statement{SQL: oneLine(st.SQL), Params: params}.Literal()
		s = append(s, sql+";")
	}
	return s
}

// oneLine folds a statement's whitespace: pgbench reads one command per
// line. The app's SQL has no line breaks inside string literals.
func oneLine(sql string) string { return strings.Join(strings.Fields(sql), " ") }

// pgbenchLiteral keeps pgbench from reading ":00" in a literal (a time) as
// a variable: such a literal is written as an escape string with the colon
// as \x3a, which PostgreSQL reads back as the same text.
func pgbenchLiteral(lit string) string {
	if !strings.HasPrefix(lit, "'") || !strings.Contains(lit, ":") {
		return lit
	}
	inner := lit[1 : len(lit)-1]
	inner = strings.ReplaceAll(inner, `\`, `\\`)
	inner = strings.ReplaceAll(inner, ":", `\x3a`)
	return "E'" + inner + "'"
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlArray(ids []string) string { return sqlString("{"+strings.Join(ids, ",")+"}") + "::varchar[]" }

// The best SQL known for each endpoint: what the server's work would cost
// with the fewest round trips (count and page pipelined, then the page's
// tags by = ANY) and prepared statements. It bounds what any server on
// this database can do, whatever its own query shapes.
const (
	bestTaskColumns = `id, title, description, completed, priority, due_date, created_at, updated_at, completed_at, version`
	bestTagColumns  = `tg.id, tg.name, tg.color, tg.created_at, (SELECT count(*) FROM task_tags c WHERE c.tag_id = tg.id)`
)

// filterSQL is filterQuery as SQL conditions.
const filterSQL = ` AND completed = false AND (title ILIKE '%review%' OR description ILIKE '%review%')`

func bestListScript(userID string, pageIDs []string, filter string) pgScript {
	u := sqlString(userID)
	return pgScript{
		`\startpipeline`,
		`SELECT count(*) FROM tasks WHERE user_id = ` + u + filter + `;`,
		`SELECT ` + bestTaskColumns + ` FROM tasks WHERE user_id = ` + u + filter + ` ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;`,
		`\endpipeline`,
		bestTagsOf(userID, sqlArray(pageIDs)),
	}
}

// bestTagsOf reads the tags of some tasks with their task counts: each
// distinct tag once (its count computed once), then the links. It measured
// faster than one row per link with the count repeated (by 40-80%) and
// than a grouped count joined to the links (by 30%).
func bestTagsOf(userID, taskIDs string) string {
	return `WITH links AS MATERIALIZED (SELECT task_id, tag_id FROM task_tags WHERE task_id = ANY(` + taskIDs + `))` +
		` SELECT ` + bestTagColumns + `, NULL FROM tags tg WHERE tg.user_id = ` + sqlString(userID) + ` AND tg.id IN (SELECT tag_id FROM links)` +
		` UNION ALL SELECT tag_id, NULL, NULL, NULL, NULL, task_id FROM links;`
}

func bestGetScript(userID, taskID string) pgScript {
	return pgScript{
		`\startpipeline`,
		`SELECT ` + bestTaskColumns + ` FROM tasks WHERE id = ` + sqlString(taskID) + ` AND user_id = ` + sqlString(userID) + `;`,
		bestTagsOf(userID, sqlArray([]string{taskID})),
		`\endpipeline`,
	}
}

// bestCreateScript is a create in one round trip: the transaction, the
// per-user lock, the insert with the cap check folded in, the tag links and
// the tags' read-back, pipelined.
func bestCreateScript(userID string, tagIDs []string, maxTasks int) pgScript {
	u := sqlString(userID)
	return pgScript{
		`\set id random(1, 9000000000000000000)`,
		`\startpipeline`,
		`BEGIN;`,
		fmt.Sprintf(`SELECT pg_advisory_xact_lock(1, %d);`, userLockKey(userID)),
		`INSERT INTO tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at)` +
			` SELECT ` + newIDVar + `, ` + u + `, 'Benchmark task', 'Created by the benchmark.', false, 1, NULL, NULL, 1, now(), now()` +
			fmt.Sprintf(` WHERE (SELECT count(*) FROM tasks WHERE user_id = %s) < %d;`, u, maxTasks),
		`INSERT INTO task_tags (task_id, tag_id) SELECT ` + newIDVar + `, id FROM tags WHERE user_id = ` + u + ` AND id = ANY(` + sqlArray(tagIDs) + `);`,
		`SELECT ` + bestTagColumns + ` FROM tags tg WHERE tg.user_id = ` + u + ` AND tg.id = ANY(` + sqlArray(tagIDs) + `) ORDER BY tg.name_key, tg.id;`,
		`COMMIT;`,
		`\endpipeline`,
	}
}

// userLockKey is the app's per-user advisory lock key (database.userLockKey).
func userLockKey(userID string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int32(h.Sum32())
}

// boundResult is one pgbench run's outcome.
type boundResult struct {
	TPS          float64 `json:"tps"`
	Transactions int64   `json:"transactions"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	Failed       int64   `json:"failed"`
	Seconds      float64 `json:"measured_s"`
}

type pgbench struct {
	WarmUp           time.Duration
	ConnectAllowance time.Duration
	Path             string
	URL              string
	Dir              string
	Clients          int
	Threads          int
}

// findPgbench looks on PATH, then in Debian's PostgreSQL directories.
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(matches) > 0 {
		slices.Sort(matches)
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("pgbench not found: install PostgreSQL's client tools (apt-get install postgresql-contrib)")
}

var failedLine = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)

// Every pgbench run leaves a warm-up out of its measurement: the clients
// connect (64 backends start) and prepare each script's statements first,
// which on two busy cores takes a second or two. Throughput and latency
// are read from pgbench's per-transaction log, for the transactions that
// ended at least WarmUp after the first one; ConnectAllowance is added to
// -T for the connections, which pgbench counts in its duration.
const (
	pgbenchWarmUp           = 2 * time.Second
	pgbenchConnectAllowance = 2 * time.Second
)

// run runs the scripts (equally weighted, one picked per transaction) for
// d with prepared statements.
func (p pgbench) run(ctx context.Context, name string, scripts []pgScript, d time.Duration) (boundResult, error) {
	dir, err := os.MkdirTemp(p.Dir, "pgbench-"+strings.NewReplacer(" ", "-", "+", "-").Replace(name)+"-")
	if err != nil {
		return boundResult{}, err
	}
	total := d + p.WarmUp + p.ConnectAllowance
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(p.Clients), "-j", strconv.Itoa(p.Threads),
		"-T", strconv.Itoa(int(total.Round(time.Second).Seconds())), "-l", "--log-prefix", filepath.Join(dir, "tx")}
	for i, s := range scripts {
		file := filepath.Join(dir, fmt.Sprintf("script-%03d.sql", i))
		if err := os.WriteFile(file, []byte(strings.Join(s, "\n")+"\n"), 0o600); err != nil {
			return boundResult{}, err
		}
		args = append(args, "-f", file+"@1")
	}
	args = append(args, p.URL)
	cmd := exec.CommandContext(ctx, p.Path, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return boundResult{}, fmt.Errorf("pgbench %s: %w\n%s", name, err, tail(out.String(), 40))
	}
	res := boundResult{}
	if f := failedLine.FindStringSubmatch(out.String()); f != nil {
		res.Failed, _ = strconv.ParseInt(f[1], 10, 64)
	}
	txs, err := readTxLog(dir)
	if err != nil {
		return boundResult{}, err
	}
	lat, window := steadyState(txs, p.WarmUp)
	if len(lat) == 0 || window <= 0 {
		return boundResult{}, fmt.Errorf("pgbench %s: no transaction after the warm-up:\n%s", name, tail(out.String(), 20))
	}
	res.Transactions = int64(len(lat))
	res.Seconds = window.Seconds()
	res.TPS = float64(len(lat)) / window.Seconds()
	res.P50ms, res.P99ms = percentileMS(lat, 50), percentileMS(lat, 99)
	return res, nil
}

// txRecord is one line of pgbench's transaction log.
type txRecord struct {
	end     time.Time // when the transaction ended
	latency int64     // µs
}

// readTxLog reads pgbench's per-transaction logs in dir: client, number,
// latency (µs), script, end time (s and µs since the epoch).
func readTxLog(dir string) ([]txRecord, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "tx.*"))
	var txs []txRecord
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 6 {
				continue
			}
			lat, err1 := strconv.ParseInt(fields[2], 10, 64)
			sec, err2 := strconv.ParseInt(fields[4], 10, 64)
			usec, err3 := strconv.ParseInt(fields[5], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			txs = append(txs, txRecord{end: time.Unix(sec, usec*1000), latency: lat})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return txs, nil
}

// steadyState returns the sorted latencies of the transactions that ended
// after the warm-up, and the length of that window.
func steadyState(txs []txRecord, warmUp time.Duration) ([]int64, time.Duration) {
	if len(txs) == 0 {
		return nil, 0
	}
	first, last := txs[0].end, txs[0].end
	for _, t := range txs {
		if t.end.Before(first) {
			first = t.end
		}
		if t.end.After(last) {
			last = t.end
		}
	}
	from := first.Add(warmUp)
	var lat []int64
	for _, t := range txs {
		if !t.end.Before(from) {
			lat = append(lat, t.latency)
		}
	}
	slices.Sort(lat)
	return lat, last.Sub(from)
}

func percentileMS(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return float64(sorted[i]) / 1000
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
