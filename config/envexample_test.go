package config_test

import (
	"bufio"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"taskflow/config"
)

// TestEnvExampleDocumentsEveryVariable keeps .env.example in step with
// Config: every variable appears once, with its default, under a comment,
// and the file names no variable Config does not read. docs/configuration.md
// has a row for each one too.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	documented := readEnvExample(t, "../.env.example")
	known := map[string]bool{}
	typ := reflect.TypeFor[config.Config]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		name, _, _ := strings.Cut(field.Tag.Get("env"), ",")
		if name == "" || name == "-" {
			continue
		}
		known[name] = true
		entry, ok := documented[name]
		if !ok {
			t.Errorf(".env.example does not document %s (Config.%s)", name, field.Name)
			continue
		}
		if def := field.Tag.Get("envDefault"); def != "" && !sameDefault(entry.value, def) {
			t.Errorf(".env.example: %s=%s, but the default is %s", name, entry.value, def)
		}
		if !entry.commented {
			t.Errorf(".env.example: %s has no comment line above it saying what it does", name)
		}
	}
	for name := range documented {
		if !known[name] {
			t.Errorf(".env.example documents %s, which Config does not read", name)
		}
	}
	readme, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	for name := range known {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("docs/configuration.md has no row for %s", name)
		}
	}
}

// sameDefault compares a documented value with a tag default, allowing
// equivalent duration spellings (60s for 1m).
func sameDefault(documented, def string) bool {
	if documented == def {
		return true
	}
	a, errA := time.ParseDuration(documented)
	b, errB := time.ParseDuration(def)
	return errA == nil && errB == nil && a == b
}

type envEntry struct {
	value     string
	commented bool
	comment   string // the comment lines above it, joined by spaces
}

func readEnvExample(t *testing.T, path string) map[string]envEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open .env.example: %v", err)
	}
	defer f.Close()
	entries := map[string]envEntry{}
	previousIsComment := false
	var comment []string
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		switch {
		case strings.HasPrefix(line, "#"):
			if !previousIsComment {
				comment = comment[:0]
			}
			comment = append(comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			previousIsComment = true
			continue
		case line == "":
		default:
			name, value, ok := strings.Cut(line, "=")
			if !ok {
				t.Errorf(".env.example:%d: not NAME=value: %q", n, line)
				break
			}
			if _, dup := entries[name]; dup {
				t.Errorf(".env.example:%d: %s appears twice", n, name)
			}
			entries[name] = envEntry{value: value, commented: previousIsComment}
			if previousIsComment {
				entries[name] = envEntry{value: value, commented: true, comment: strings.Join(comment, " ")}
			}
		}
		previousIsComment = false
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestProductionCapsAreDocumented: each lifetime production caps is
// documented with the cap production enforces, in .env.example's comment
// and in docs/configuration.md, in the words of the refusal.
func TestProductionCapsAreDocumented(t *testing.T) {
	documented := readEnvExample(t, "../.env.example")
	readme, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	for name, limit := range map[string]time.Duration{
		"ACCESS_TOKEN_TTL":       config.MaxProductionAccessTokenTTL,
		"EXTERNAL_TOKEN_MAX_AGE": config.MaxProductionExternalTokenMaxAge,
		"SESSION_MAX_AGE":        config.MaxProductionSessionMaxAge,
	} {
		_, err := load(with(production(), map[string]string{name: (limit + time.Second).String()}))
		problems := problemsOf(t, err)
		if len(problems) != 1 || !strings.HasPrefix(problems[0], name+": must be ") {
			t.Errorf("%s over its cap: problems %q, want one naming it", name, problems)
			continue
		}
		want := strings.TrimPrefix(problems[0], name+": must be ")
		if !strings.Contains(documented[name].comment, want) {
			t.Errorf(".env.example's comment on %s does not say %q: %q", name, want, documented[name].comment)
		}
		if row := readmeRow(string(readme), name); !strings.Contains(strings.ReplaceAll(row, "`", ""), want) {
			t.Errorf("docs/configuration.md row for %s does not say %q: %q", name, want, row)
		}
	}
}

// readmeRow returns the configuration table's row for name, or "".
func readmeRow(readme, name string) string {
	for line := range strings.Lines(readme) {
		if strings.HasPrefix(line, "| `"+name+"` |") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
