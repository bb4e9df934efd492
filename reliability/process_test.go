package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// serverProcess is the taskflow binary running as a child process, the
// way a platform runs it: configured by environment variables only.
type serverProcess struct {
	URL  string
	cmd  *exec.Cmd
	logs *apptest.LogBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
}

// processEnv is the environment of a server process: the test settings
// apptest uses, bound to a random loopback port.
func processEnv(dbURL string, overrides map[string]string) map[string]string {
	env := apptest.Env(dbURL)
	env["API_HOST"] = "127.0.0.1"
	env["API_PORT"] = "0"
	env["LOG_LEVEL"] = "info"
	for k, v := range overrides {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// startProcess launches the binary with exactly env (plus PATH and HOME) in
// an empty working directory, so no .env file or stray variable leaks in.
// It does not wait for readiness: see waitReady.
func startProcess(t testing.TB, env map[string]string) *serverProcess {
	t.Helper()
	cmd := exec.Command(taskflowBinary(t))
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &serverProcess{cmd: cmd, logs: &apptest.LogBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start taskflow: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("server log (pid %d), last lines:\n%s", cmd.Process.Pid, lastLines(p.logs.String(), 60))
		}
	})
	return p
}

// runServer starts the binary and waits until it answers /health/live.
func runServer(t testing.TB, env map[string]string) *serverProcess {
	t.Helper()
	p := startProcess(t, env)
	p.waitReady(t, 30*time.Second)
	return p
}

var listeningAddr = regexp.MustCompile(`msg=listening addr=(\S+)|"msg":"listening","addr":"([^"]+)"`)

// waitReady reads the bound address from the "listening" log line and
// polls /health/live until it answers 200.
func (p *serverProcess) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for p.URL == "" {
		if m := listeningAddr.FindStringSubmatch(p.logs.String()); m != nil {
			p.URL = "http://" + m[1] + m[2]
			break
		}
		p.failIfExited(t)
		if time.Now().After(deadline) {
			t.Fatalf("taskflow did not log its address within %s; log:\n%s", timeout, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.URL + "/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		p.failIfExited(t)
		if time.Now().After(deadline) {
			t.Fatalf("taskflow at %s not live within %s (last error %v)", p.URL, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *serverProcess) failIfExited(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("taskflow exited during start-up (%v); log:\n%s", p.err, p.logs.String())
	default:
	}
}

// Pid is the process id.
func (p *serverProcess) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *serverProcess) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// WaitExit waits up to timeout for the process to exit and returns its exit
// code; a process still running then is killed and the test fails.
func (p *serverProcess) WaitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("taskflow did not exit within %s of the signal", timeout)
	}
	var exitErr *exec.ExitError
	if errors.As(p.err, &exitErr) {
		return exitErr.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait for taskflow: %v", p.err)
	}
	return 0
}

// Logs is everything the process wrote to stdout and stderr so far.
func (p *serverProcess) Logs() string { return p.logs.String() }

// ErrorLines returns the log lines at level ERROR (text or JSON format).
func (p *serverProcess) ErrorLines() []string {
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

// RSSKiB reads the process's resident set size from /proc.
func (p *serverProcess) RSSKiB(t testing.TB) int {
	t.Helper()
	kib, err := rssKiB(p.Pid())
	if err != nil {
		t.Fatalf("read RSS of pid %d: %v", p.Pid(), err)
	}
	return kib
}

func rssKiB(pid int) (int, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, errors.New("no VmRSS line")
}

// lastLines returns the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
