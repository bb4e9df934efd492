package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildServer compiles the server as the deploy does (trimmed paths, no
// symbol table) into dir and returns the binary's path.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "taskflow")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=bench", "-o", bin, ".")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	return bin, nil
}

// copyServer copies a given server binary into dir, where it runs with no
// .env beside it.
func copyServer(path, dir string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--server-bin: %w", err)
	}
	bin := filepath.Join(dir, "taskflow")
	return bin, os.WriteFile(bin, data, 0o755)
}

// serverEnv is the environment of a benchmark server: production settings
// (unless the embedded SQLite is measured: production requires PostgreSQL),
// fresh secrets, quiet logs.
type serverEnv struct {
	DatabaseURL string
	Production  bool
	JWTSecret   string
	Extra       map[string]string // more variables (pool sizes, DEBUG)
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e serverEnv) environ(port int) []string {
	environment := "production"
	if !e.Production {
		environment = "development"
	}
	vars := map[string]string{
		"PATH":               os.Getenv("PATH"),
		"HOME":               os.Getenv("HOME"),
		"ENVIRONMENT":        environment,
		"DATABASE_URL":       e.DatabaseURL,
		"JWT_SECRET_KEY":     e.JWTSecret,
		"BETTER_AUTH_SECRET": newSecret(),
		"CORS_ORIGINS":       "https://bench.example.com",
		"API_HOST":           "127.0.0.1",
		"PORT":               strconv.Itoa(port),
		"LOG_LEVEL":          "warn",
		// The schema is migrated before the server starts, as the deploy's
		// pre-deploy step does; start-up is then the server's own.
		"AUTO_MIGRATE": "false",
	}
	for k, v := range e.Extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// server is a running server process.
type server struct {
	URL       string
	Pid       int
	StartupMS float64 // from exec to the first 200 from /health
	cmd       *exec.Cmd
	logs      *lockedBuffer
	exited    chan struct{}
}

// startServer runs bin in its own empty directory (so no .env is read)
// and waits until /health answers 200.
func startServer(ctx context.Context, bin string, env serverEnv) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = env.environ(port)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Pid: cmd.Process.Pid, cmd: cmd, logs: logs, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	if err := s.waitHealthy(ctx, 15*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server output:\n%s", err, logs.String())
	}
	s.StartupMS = float64(time.Since(started).Microseconds()) / 1000
	return s, nil
}

// waitHealthy polls /health every millisecond: start-up is measured to
// that resolution.
func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("the server exited during start-up")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := client.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("the server was not healthy within %s", limit)
}

// stop sends SIGTERM and waits for the graceful shutdown.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// procStats are a process's CPU time and memory, from /proc.
type procStats struct {
	CPU   time.Duration // user + system
	RSSkB int64         // VmRSS
	HWMkB int64         // VmHWM, the peak RSS since start
}

// clockTicks is USER_HZ, in which /proc/PID/stat counts CPU time: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

func readProcStats(pid int) (procStats, error) {
	var st procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(fields) < 13 {
		return st, errors.New("unexpected /proc stat format")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 of the whole line
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	st.CPU = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			st.RSSkB = kb
		case "VmHWM":
			st.HWMkB = kb
		}
	}
	return st, nil
}

// rssSampler records the largest RSS of a process while a run lasts.
type rssSampler struct {
	pid  int
	max  int64
	stop chan struct{}
	done chan struct{}
}

func sampleRSS(pid int) *rssSampler {
	r := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if st, err := readProcStats(pid); err == nil {
				r.max = max(r.max, st.RSSkB)
			}
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return r
}

// Stop ends sampling and returns the peak RSS seen, in kB.
func (r *rssSampler) Stop() int64 {
	close(r.stop)
	<-r.done
	return r.max
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
