// Package proc runs the built taskflow binary as a child process, the way
// a platform runs it: configured by its environment only, ready once it
// answers /health/live, stopped by a signal. The tests that run the real
// program and the benchmark share it, so it returns errors rather than
// failing a test (apptest wraps it for tests).
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Build compiles the taskflow program as the deploy does (trimmed paths,
// no symbol table, version stamped into main.version) into dir and
// returns the binary's path. It runs from anywhere inside the module.
func Build(ctx context.Context, dir, version string) (string, error) {
	bin := filepath.Join(dir, "taskflow")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "taskflow")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Options say how to run the binary.
type Options struct {
	// Dir is the working directory: an empty one, so no .env file is read.
	Dir string
	// Env is the whole environment; nothing is inherited (nil is empty).
	Env  []string
	Args []string
	// OwnProcessGroup starts the child in a process group of its own, so
	// a Ctrl-C meant for the parent does not stop it halfway: the parent
	// stops it, in order.
	OwnProcessGroup bool
}

// Environ turns vars into an environment, sorted so runs are alike.
func Environ(vars map[string]string) []string {
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// Process is the binary running as a child.
type Process struct {
	cmd                    *exec.Cmd
	stdout, stderr, output Buffer
	done                   chan struct{} // closed once the process has exited
	err                    error         // Wait's result, set before done is closed
}

// Start runs bin with opts. It does not wait for readiness: see WaitReady.
func Start(bin string, opts Options) (*Process, error) {
	cmd := exec.Command(bin, opts.Args...)
	cmd.Dir = opts.Dir
	cmd.Env = opts.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would mean "inherit this process's environment"
	}
	if opts.OwnProcessGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(&p.stdout, &p.output)
	cmd.Stderr = io.MultiWriter(&p.stderr, &p.output)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start taskflow: %w", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stdout is what the process wrote to its standard output so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr is what the process wrote to its standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Output is stdout and stderr together, in the order they were written.
func (p *Process) Output() string { return p.output.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits, until ctx ends, for the process to exit and returns its
// exit code (-1 when a signal ended it). A process still running then is
// left running, and Wait says so.
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return 0, fmt.Errorf("taskflow (pid %d) did not exit: %w", p.Pid(), ctx.Err())
	}
	var exitErr *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exitErr) {
		return -1, fmt.Errorf("wait for taskflow: %w", p.err)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Kill ends the process at once, if it still runs, and waits for it.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout for the graceful shutdown,
// then kills the process.
func (p *Process) Stop(timeout time.Duration) {
	_ = p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := p.Wait(ctx); err != nil {
		p.Kill()
	}
}

// listeningAddr finds the address in the server's "listening" line, in
// either log format.
var listeningAddr = regexp.MustCompile(`msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"`)

// pollEvery is how often the waits below look again.
const pollEvery = 5 * time.Millisecond

// Addr waits for the "listening" log line (logged at level info) and
// returns the address it names.
func (p *Process) Addr(ctx context.Context) (string, error) {
	for {
		if m := listeningAddr.FindStringSubmatch(p.Output()); m != nil {
			return m[1] + m[2], nil
		}
		if err := p.pause(ctx); err != nil {
			return "", fmt.Errorf("taskflow did not log its address: %w", err)
		}
	}
}

// WaitReady waits for the address the server logs, then until it answers
// /health/live, and returns its base URL.
func (p *Process) WaitReady(ctx context.Context) (string, error) {
	addr, err := p.Addr(ctx)
	if err != nil {
		return "", err
	}
	url := "http://" + addr
	if _, err := p.WaitStatus(ctx, url+"/health/live", http.StatusOK, pollEvery); err != nil {
		return "", err
	}
	return url, nil
}

var pollClient = &http.Client{Timeout: time.Second}

// WaitStatus polls url every so often until it answers want, and returns
// that answer's body.
func (p *Process) WaitStatus(ctx context.Context, url string, want int, every time.Duration) ([]byte, error) {
	for {
		body, err := get(ctx, url, want)
		if err == nil {
			return body, nil
		}
		if waitErr := p.pauseFor(ctx, every); waitErr != nil {
			return nil, fmt.Errorf("GET %s never answered %d: %v (%w)", url, want, err, waitErr)
		}
	}
}

func get(ctx context.Context, url string, want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := pollClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

func (p *Process) pause(ctx context.Context) error { return p.pauseFor(ctx, pollEvery) }

// pauseFor waits d, and fails early when the process exits or ctx ends.
func (p *Process) pauseFor(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return fmt.Errorf("taskflow exited (%v)", p.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// FreePort returns a loopback TCP port nothing listens on just now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Buffer collects output written from several goroutines (a server's
// logs, a child process's stdout) while another reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
