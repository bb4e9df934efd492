// Command testsummary reads `go test -json` events on stdin, prints one line
// per package as it finishes, then the output of every failed test and a
// closing count line. It exits 1 when anything failed, so CI can trust it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output and build-fail events
	FailedBuild string
}

type summary struct {
	passed, failed, skipped int
	failedPackages          []string
	output                  map[string]*strings.Builder // package/test → its output lines
	failedTests             []string                    // keys of output, in order of failure
	buildOutput             strings.Builder
}

func main() {
	s := &summary{output: map[string]*strings.Builder{}}
	if err := s.read(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	s.report(os.Stdout)
	if s.failed > 0 || len(s.failedPackages) > 0 {
		os.Exit(1)
	}
}

func (s *summary) read(r io.Reader, progress io.Writer) error {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		line := scanner.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// Not an event: something printed outside the test binary (go's own errors).
			fmt.Fprintln(progress, string(line))
			continue
		}
		s.add(e, progress)
	}
	return scanner.Err()
}

func (s *summary) add(e event, progress io.Writer) {
	key := e.Package + " " + e.Test
	switch e.Action {
	case "build-output":
		s.buildOutput.WriteString(e.Output)
	case "build-fail":
		s.failedPackages = append(s.failedPackages, e.ImportPath+" [build failed]")
	case "output":
		b, ok := s.output[key]
		if !ok {
			b = &strings.Builder{}
			s.output[key] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			s.finishPackage(e, progress)
			return
		}
		switch e.Action {
		case "pass":
			s.passed++
			delete(s.output, key)
		case "skip":
			s.skipped++
			delete(s.output, key)
		case "fail":
			s.failed++
			s.failedTests = append(s.failedTests, key)
		}
	}
}

func (s *summary) finishPackage(e event, progress io.Writer) {
	status := map[string]string{"pass": "ok  ", "fail": "FAIL", "skip": "none"}[e.Action] // skip: no test files
	fmt.Fprintf(progress, "%s %-40s %7.1fs\n", status, e.Package, e.Elapsed)
	if e.Action == "fail" {
		s.failedPackages = append(s.failedPackages, e.Package)
	}
}

func (s *summary) report(w io.Writer) {
	if s.buildOutput.Len() > 0 {
		fmt.Fprintf(w, "\n--- build output\n%s", s.buildOutput.String())
	}
	for _, key := range s.failedTests {
		// A parent test fails with its subtest: print the innermost only.
		if s.hasFailedChild(key) {
			continue
		}
		fmt.Fprintf(w, "\n--- FAIL: %s\n%s", key, s.output[key].String())
	}
	// Package-level output of failed packages: panics, TestMain errors, timeouts.
	for _, pkg := range s.failedPackages {
		if b, ok := s.output[pkg+" "]; ok && s.failedTestsIn(pkg) == 0 {
			fmt.Fprintf(w, "\n--- FAIL: package %s\n%s", pkg, b.String())
		}
	}
	slices.Sort(s.failedPackages)
	if len(s.failedPackages) > 0 {
		fmt.Fprintf(w, "\nfailed packages: %s\n", strings.Join(slices.Compact(s.failedPackages), ", "))
	}
	// Tests and subtests alike; the closing line is the one CI reads.
	fmt.Fprintf(w, "\ntests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}

func (s *summary) hasFailedChild(key string) bool {
	for _, other := range s.failedTests {
		if strings.HasPrefix(other, key+"/") {
			return true
		}
	}
	return false
}

func (s *summary) failedTestsIn(pkg string) int {
	n := 0
	for _, key := range s.failedTests {
		if strings.HasPrefix(key, pkg+" ") {
			n++
		}
	}
	return n
}
