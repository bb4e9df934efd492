package apptest

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TCPProxy forwards TCP connections from a loopback port to a target, so a
// test can take the network between the app and its database away and give
// it back while the app keeps running:
//
//   - Close: the port refuses connections and open ones are cut (a database
//     that is down); Reopen listens on the same port again.
//   - Cut: open connections are cut, new ones are accepted (a database restart
//     or a pooler dropping its clients).
//   - Pause: connections are accepted but no byte moves in either direction
//     (a network partition: the app sees timeouts, not errors); Resume lets
//     the held bytes through.
//   - SetLatency: every chunk of bytes waits before it is forwarded (a slow
//     or distant database).
//   - TurnAway: open connections are cut, new ones are accepted, counted and
//     closed at once (a database gone behind a front end that still answers
//     the port); Welcome forwards them again.
//
// It is safe for concurrent use and stops by itself when the test ends.
type TCPProxy struct {
	t      testing.TB
	target string
	addr   string // the loopback address, kept across Close and Reopen

	mu       sync.Mutex
	listener net.Listener // nil while closed
	conns    map[net.Conn]struct{}
	latency  time.Duration
	paused   bool
	resumed  chan struct{} // closed by Resume; replaced by Pause
	accepted int
	// turningAway closes each new connection at once; turnedAway counts them.
	turningAway bool
	turnedAway  int
	closed      bool // by the test's end: nothing restarts after it
	wg          sync.WaitGroup
}

// NewTCPProxy listens on 127.0.0.1 on a free port and forwards every
// connection to target (host:port).
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	p := &TCPProxy{t: t, target: target, conns: map[net.Conn]struct{}{}, resumed: make(chan struct{})}
	close(p.resumed)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.shutdown)
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.addr }

// URL returns rawURL (a database URL such as postgres://user@host:5432/db)
// with its host and port replaced by the proxy's.
func (p *TCPProxy) URL(rawURL string) string {
	p.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		p.t.Fatalf("proxy: %v", err)
	}
	u.Host = p.addr
	return u.String()
}

// TargetOf returns the host:port of a database URL, defaulting the port to
// PostgreSQL's.
func TargetOf(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

// Accepted is how many connections the proxy has accepted so far.
func (p *TCPProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Open is how many forwarded connections are currently open.
func (p *TCPProxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops listening, so new connections are refused at once, and cuts
// every open connection.
func (p *TCPProxy) Close() {
	p.mu.Lock()
	ln := p.listener
	p.listener = nil
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.Cut()
}

// Reopen listens on the proxy's address again after Close.
func (p *TCPProxy) Reopen() {
	p.t.Helper()
	p.mu.Lock()
	open := p.listener != nil
	p.mu.Unlock()
	if open {
		return
	}
	var ln net.Listener
	var err error
	// The port was ours a moment ago; another process taking it in between
	// is unlikely, a socket still closing is not: retry briefly.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// Cut closes every open connection; the proxy keeps accepting new ones.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Pause holds every byte in both directions until Resume; connections are
// still accepted and stay open.
func (p *TCPProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumed = make(chan struct{})
	}
}

// Resume lets held and new bytes through again.
func (p *TCPProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
}

// SetLatency delays every forwarded chunk by d (0 turns the delay off).
func (p *TCPProxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

func (p *TCPProxy) serve(ln net.Listener) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = ln.Close()
		return
	}
	p.listener = ln
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return // closed by Close or at the test's end
			}
			p.handle(ln, client)
		}
	}()
}

// TurnAway cuts every open connection and, until Welcome, closes each new
// one as soon as it is accepted.
func (p *TCPProxy) TurnAway() {
	p.mu.Lock()
	p.turningAway = true
	p.mu.Unlock()
	p.Cut()
}

// Welcome forwards new connections again after TurnAway.
func (p *TCPProxy) Welcome() {
	p.mu.Lock()
	p.turningAway = false
	p.mu.Unlock()
}

// TurnedAway is how many connections TurnAway has closed so far.
func (p *TCPProxy) TurnedAway() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.turnedAway
}

func (p *TCPProxy) handle(ln net.Listener, client net.Conn) {
	p.mu.Lock()
	if p.turningAway {
		p.turnedAway++
		p.mu.Unlock()
		_ = client.Close()
		return
	}
	p.mu.Unlock()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close() // the target is down: so is the proxy, for this client
		return
	}
	p.mu.Lock()
	if p.closed || p.listener != ln {
		// Closed while this connection was being set up: it must not outlive Close.
		p.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
		return
	}
	p.accepted++
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()

	// Each direction closes both ends when it stops, so a cut on either side
	// is seen by the other at once, as a real dropped connection would be.
	closeBoth := sync.OnceFunc(func() {
		_ = client.Close()
		_ = server.Close()
		p.mu.Lock()
		delete(p.conns, client)
		delete(p.conns, server)
		p.mu.Unlock()
	})
	go p.pipe(server, client, closeBoth)
	go p.pipe(client, server, closeBoth)
}

// pipe copies src to dst chunk by chunk, each chunk waiting for the current
// latency and for the proxy to be resumed.
func (p *TCPProxy) pipe(dst, src net.Conn, closeBoth func()) {
	defer p.wg.Done()
	defer closeBoth()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.hold(src) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a cut: either way the other side must learn of it
		}
	}
}

// hold waits for the latency and while paused; it reports false when the
// connection was cut meanwhile.
func (p *TCPProxy) hold(src net.Conn) bool {
	p.mu.Lock()
	latency, resumed := p.latency, p.resumed
	p.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	for {
		select {
		case <-resumed:
			p.mu.Lock()
			_, open := p.conns[src]
			p.mu.Unlock()
			return open
		case <-time.After(50 * time.Millisecond):
			p.mu.Lock()
			_, open := p.conns[src]
			resumed = p.resumed
			p.mu.Unlock()
			if !open {
				return false
			}
		}
	}
}

// shutdown closes everything at the test's end and waits for the goroutines.
func (p *TCPProxy) shutdown() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Resume()
	p.Close()
	p.wg.Wait()
}
