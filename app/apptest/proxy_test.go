package apptest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// echoServer answers every line it reads with the same line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes line and reads the echo within timeout.
func roundTrip(c net.Conn, line string, timeout time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func requireEcho(t *testing.T, c net.Conn, line string) {
	t.Helper()
	got, err := roundTrip(c, line, 2*time.Second)
	if err != nil || got != line {
		t.Fatalf("echo of %q = %q, %v", line, got, err)
	}
}

func TestTCPProxyForwards(t *testing.T) {
	p := apptest.NewTCPProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	requireEcho(t, c, "hello")
	if p.Accepted() != 1 || p.Open() != 2 {
		t.Fatalf("accepted = %d, open = %d; want 1 connection (2 sockets)", p.Accepted(), p.Open())
	}
}

func TestTCPProxyCloseRefusesAndReopenRestores(t *testing.T) {
	p := apptest.NewTCPProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	requireEcho(t, c, "before")

	p.Close()
	if _, err := roundTrip(c, "during", 2*time.Second); err == nil {
		t.Fatal("an open connection survived Close")
	}
	start := time.Now()
	_, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while closed: %v, want connection refused", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("refusal took %v, want it at once", elapsed)
	}

	p.Reopen()
	requireEcho(t, dial(t, p.Addr()), "after")
}

func TestTCPProxyCutKeepsListening(t *testing.T) {
	p := apptest.NewTCPProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	requireEcho(t, c, "one")
	p.Cut()
	if _, err := roundTrip(c, "two", 2*time.Second); err == nil {
		t.Fatal("a cut connection still answered")
	}
	requireEcho(t, dial(t, p.Addr()), "three")
}

func TestTCPProxyPauseHoldsBytes(t *testing.T) {
	p := apptest.NewTCPProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	requireEcho(t, c, "warm")

	p.Pause()
	_, err := roundTrip(c, "held", 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while paused: %v, want a timeout", err)
	}
	p.Resume()
	// The held line arrives now; read it without writing again.
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("after Resume got %q, %v; want the held line", got, err)
	}
}

func TestTCPProxyLatency(t *testing.T) {
	p := apptest.NewTCPProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	p.SetLatency(150 * time.Millisecond)
	start := time.Now()
	requireEcho(t, c, "slow")
	// Two hops (there and back), each delayed.
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Fatalf("round trip took %v, want at least 300ms", elapsed)
	}
	p.SetLatency(0)
	start = time.Now()
	requireEcho(t, c, "fast")
	if elapsed := time.Since(start); elapsed >= 300*time.Millisecond {
		t.Fatalf("round trip took %v after the latency was removed", elapsed)
	}
}

func TestTargetOf(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/x?sslmode=disable": "127.0.0.1:5432",
		"postgres://db.example.com/x":                          "db.example.com:5432",
		"postgresql://u:p@[::1]:6432/x":                        "[::1]:6432",
	} {
		if got := apptest.TargetOf(t, raw); got != want {
			t.Errorf("TargetOf(%q) = %q, want %q", raw, got, want)
		}
	}
}
