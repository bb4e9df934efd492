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
// and the file names no variable Config does not read. README.md's
// configuration table has a row for each one too.
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
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatalf("read README.md: %v", err)
	}
	for name := range known {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("README.md's configuration table has no row for %s", name)
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
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := strings.TrimSpace(scanner.Text())
		switch {
		case strings.HasPrefix(line, "#"):
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
		}
		previousIsComment = false
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return entries
}
