package apptest

import (
	"bufio"
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest/proc"
)

// BinaryVersion is the version Binary stamps into the program.
const BinaryVersion = "v0.0.0-test"

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary builds the taskflow program once per test binary, with the flags
// a deploy uses, and returns its path. The package's TestMain removes it:
// see RunMain.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "taskflow-bin-")
		if built.err == nil {
			built.path, built.err = proc.Build(context.Background(), built.dir, BinaryVersion)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func removeBinary() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}

// FreePort returns a loopback port nothing listens on just now.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Process is the taskflow binary running as a child of the test.
type Process struct {
	URL string // the base URL, once WaitReady has seen the server live
	p   *proc.Process
}

// StartProcess runs the binary (see Binary) with opts, in a new empty
// directory unless opts.Dir says otherwise. It does not wait for the
// server to be ready: see WaitReady. A process still running when the
// test ends is killed; if the test failed, its output is logged.
func StartProcess(t testing.TB, opts proc.Options) *Process {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	p, err := proc.Start(Binary(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("taskflow output (pid %d), last lines:\n%s", p.Pid(), lastLines(p.Output(), 60))
		}
	})
	return &Process{p: p}
}

// Pid is the process id.
func (p *Process) Pid() int { return p.p.Pid() }

// Stdout is what the process wrote to its standard output so far.
func (p *Process) Stdout() string { return p.p.Stdout() }

// Stderr is what the process wrote to its standard error so far.
func (p *Process) Stderr() string { return p.p.Stderr() }

// Logs is stdout and stderr together, in the order they were written.
func (p *Process) Logs() string { return p.p.Output() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.p.Exited() }

// Signal sends sig to the process.
func (p *Process) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.p.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// WaitExit waits up to timeout for the process to exit and returns its exit
// code; a process still running then is killed and the test fails.
func (p *Process) WaitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := p.p.Wait(ctx)
	if err != nil {
		p.p.Kill()
		t.Fatalf("%v within %s", err, timeout)
	}
	return code
}

// Stop sends SIGTERM and waits up to timeout for the process to exit, then
// kills it.
func (p *Process) Stop(timeout time.Duration) { p.p.Stop(timeout) }

// WaitReady waits until the server has logged its address (it must log at
// level info) and answers /health/live there, and sets and returns URL.
func (p *Process) WaitReady(t testing.TB, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url, err := p.p.WaitReady(ctx)
	if err != nil {
		t.Fatalf("taskflow not ready within %s: %v; log:\n%s", timeout, err, lastLines(p.Logs(), 60))
	}
	p.URL = url
	return url
}

// WaitStatus polls url until it answers want, and returns that body.
func (p *Process) WaitStatus(t testing.TB, url string, want int, timeout time.Duration) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	body, err := p.p.WaitStatus(ctx, url, want, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("within %s: %v", timeout, err)
	}
	return body
}

// ErrorLines returns the log lines at level ERROR (text or JSON format).
func (p *Process) ErrorLines() []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(p.Logs()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`) {
			lines = append(lines, line)
		}
	}
	return lines
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// RunMain runs the tests of a package that uses Binary, removes the binary
// and exits: TestMain(m) is apptest.RunMain(m).
func RunMain(m *testing.M) {
	code := m.Run()
	removeBinary()
	os.Exit(code)
}
