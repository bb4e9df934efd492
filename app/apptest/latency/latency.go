// Package latency puts a network's distance between the app and its
// database: a TCP proxy on a loopback port that delays every byte by half a
// round-trip time in each direction, as a database in another data centre
// would, and counts how many times a client waited for its server. The
// tests that hold the app to a round-trip budget and the benchmark that
// measures it at a deployed RTT share it, so it returns errors rather than
// failing a test.
//
// A round trip, as counted here, is a turn of the conversation: bytes from
// the client, then an answer from the server. A client that sends several
// messages before it waits (a pipeline) makes one round trip; bytes the
// server sends unasked make none.
package latency

import (
	"errors"
	"net"
	"net/url"
	"sync"
	"time"
)

// queueChunks is how many chunks a direction holds while they wait out
// their delay; a reader with that many in flight waits for the writer.
const queueChunks = 256

// chunkSize is the most one read takes from a socket.
const chunkSize = 32 << 10

// keptRequests and keptRequestBytes bound what Requests returns: the
// latest requests, each cut to its first bytes.
const (
	keptRequests     = 256
	keptRequestBytes = 4 << 10
)

// Proxy forwards every connection made to its loopback address to one
// target. It is safe for concurrent use.
type Proxy struct {
	target   string
	listener net.Listener

	mu    sync.Mutex
	delay time.Duration // one way: half the RTT
	conns []*conn       // every connection since the start or the last Reset
	open  map[*conn]struct{}
	// ignore, if set, names requests that are not counted.
	ignore func(request []byte) bool
	// requests are the latest requests answered since the last Reset.
	requests [][]byte
	// messages counts the PostgreSQL messages clients sent, by type, and
	// accepted the connections, since the start or the last Reset.
	messages map[byte]int
	accepted int

	wg sync.WaitGroup
}

// Start listens on 127.0.0.1 on a free port and forwards every connection
// to target (host:port), each round trip taking rtt longer than it would.
func Start(target string, rtt time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, listener: ln, delay: rtt / 2, open: map[*conn]struct{}{}, messages: map[byte]int{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// TargetOf is the host:port of a database URL, the port defaulting to
// PostgreSQL's.
func TargetOf(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", errors.New("the database URL is not a URL")
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432"), nil
	}
	return u.Host, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// URL is databaseURL with its host and port replaced by the proxy's.
func (p *Proxy) URL(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", errors.New("the database URL is not a URL")
	}
	u.Host = p.Addr()
	return u.String(), nil
}

// SetRTT changes the round-trip time added from now on; bytes already on
// their way keep the delay they were given.
func (p *Proxy) SetRTT(rtt time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = rtt / 2
}

// RTT is the round-trip time the proxy adds.
func (p *Proxy) RTT() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return 2 * p.delay
}

// Count is the number of round trips on every connection since the
// proxy started or Reset was last called.
func (p *Proxy) Count() int {
	total := 0
	for _, n := range p.Counts() {
		total += n
	}
	return total
}

// Counts are the round trips of each connection since the start or the
// last Reset, in the order the connections were accepted; connections
// closed meanwhile are included.
func (p *Proxy) Counts() []int {
	p.mu.Lock()
	conns := append([]*conn(nil), p.conns...)
	p.mu.Unlock()
	counts := make([]int, len(conns))
	for i, c := range conns {
		counts[i] = c.roundTrips()
	}
	return counts
}

// Reset sets every count to zero and forgets the connections closed so
// far; open ones are counted afresh.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.conns[:0]
	for _, c := range p.conns {
		if _, open := p.open[c]; open {
			c.reset()
			kept = append(kept, c)
		}
	}
	clear(p.conns[len(kept):])
	p.conns = kept
	p.requests = nil
	clear(p.messages)
	p.accepted = 0
}

// Messages counts the PostgreSQL frontend messages clients sent since the
// start or the last Reset, by type byte ('Q' a simple query, 'P' 'B' 'E'
// 'S' the extended protocol's, 'X' a goodbye; StartupMessage the opening
// of a connection), whether or not the server answered. For a database
// that is not PostgreSQL the counts mean nothing.
func (p *Proxy) Messages() map[byte]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	counts := make(map[byte]int, len(p.messages))
	for kind, n := range p.messages {
		counts[kind] = n
	}
	return counts
}

// Accepted is how many connections the proxy accepted since the start or
// the last Reset.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *Proxy) countMessage(kind byte) {
	p.mu.Lock()
	p.messages[kind]++
	p.mu.Unlock()
}

// SetIgnore leaves uncounted, from now on, every round trip whose request
// (the client's bytes of that turn, up to 4 KiB) ignore matches: traffic
// of the app's own in the background, say, that a test must tell apart
// from a request's. nil counts everything again.
func (p *Proxy) SetIgnore(ignore func(request []byte) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignore = ignore
}

// Requests are the client's bytes of the latest round trips since the
// start or the last Reset (at most 256, each cut to 4 KiB), oldest
// first, ignored ones included.
func (p *Proxy) Requests() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.requests...)
}

// answered records a round trip's request and reports whether it counts.
func (p *Proxy) answered(request []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.requests) == keptRequests {
		p.requests = append(p.requests[:0], p.requests[1:]...)
	}
	p.requests = append(p.requests, request)
	return p.ignore == nil || !p.ignore(request)
}

// Open is how many forwarded connections are open.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.open)
}

// Close stops listening, cuts every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	err := p.listener.Close()
	p.mu.Lock()
	open := make([]*conn, 0, len(p.open))
	for c := range p.open {
		open = append(open, c)
	}
	p.mu.Unlock()
	for _, c := range open {
		c.close()
	}
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = client.Close() // the target is down: so is the proxy, for this client
			continue
		}
		c := &conn{client: client, server: server, proxy: p}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.open[c] = struct{}{}
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward runs both directions of c until either side closes.
func (p *Proxy) forward(c *conn) {
	defer p.wg.Done()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pipe(c, c.server, c.client, c.clientSpoke) }()
	go func() { defer both.Done(); p.pipe(c, c.client, c.server, c.serverAnswered) }()
	both.Wait()
	c.close()
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
}

// chunk is bytes read from one side, due on the other at a given time.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, every chunk delayed by the one-way delay current
// when it was read. The reader stamps and queues chunks while the writer
// sends each when it is due, so the delay is added once per chunk and
// does not hold back the chunks behind it: a direction carries as much as
// it would without the proxy, only later. seen is told of every chunk as
// it is read, for the round-trip count.
func (p *Proxy) pipe(c *conn, dst, src net.Conn, seen func([]byte)) {
	queue := make(chan chunk, queueChunks)
	written := make(chan struct{})
	go func() {
		defer close(written)
		for ch := range queue {
			if wait := time.Until(ch.due); wait > 0 {
				time.Sleep(wait)
			}
			if _, err := dst.Write(ch.data); err != nil {
				c.close()
				for range queue { // let the reader finish
				}
				return
			}
		}
	}()
	for {
		buf := make([]byte, chunkSize)
		n, err := src.Read(buf)
		if n > 0 {
			seen(buf[:n])
			p.mu.Lock()
			due := time.Now().Add(p.delay)
			p.mu.Unlock()
			queue <- chunk{data: buf[:n], due: due}
		}
		if err != nil {
			break
		}
	}
	close(queue)
	<-written
	// The other side learns of the end once what was read before it has
	// been delivered, as it would of a closed connection.
	if tcp, ok := dst.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	} else {
		c.close()
	}
}

// conn is one forwarded connection and its turn-taking state.
type conn struct {
	client, server net.Conn
	proxy          *Proxy

	mu        sync.Mutex
	awaiting  bool   // the client spoke and the server has not answered yet
	request   []byte // what the client said this turn, up to keptRequestBytes
	trips     int
	closeOnce sync.Once
	// messages splits the client's bytes into PostgreSQL messages; only
	// the client's reading goroutine uses it.
	messages frontendParser
}

func (c *conn) clientSpoke(data []byte) {
	c.messages.feed(data, c.proxy.countMessage)
	c.mu.Lock()
	c.awaiting = true
	if room := keptRequestBytes - len(c.request); room > 0 {
		c.request = append(c.request, data[:min(room, len(data))]...)
	}
	c.mu.Unlock()
}

func (c *conn) serverAnswered([]byte) {
	c.mu.Lock()
	awaiting, request := c.awaiting, c.request
	c.awaiting, c.request = false, nil
	c.mu.Unlock()
	// The proxy's lock is taken with no connection's held: Reset takes
	// them in the other order.
	if awaiting && c.proxy.answered(request) {
		c.mu.Lock()
		c.trips++
		c.mu.Unlock()
	}
}

func (c *conn) roundTrips() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.trips
}

func (c *conn) reset() {
	c.mu.Lock()
	c.trips = 0
	c.mu.Unlock()
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		_ = c.client.Close()
		_ = c.server.Close()
	})
}
