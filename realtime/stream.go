package realtime

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"time"

	"taskflow/models"
)

// Store reads users' feeds (database.Events).
type Store interface {
	After(ctx context.Context, userID string, after int64) ([]models.Event, error)
	Head(ctx context.Context, userID string) (models.EventHead, error)
}

// EndReason is why a stream ends, as its last event ("end") tells the
// client: the token that opened it expired, was revoked, or its account
// was deleted.
type EndReason string

// The reasons a stream ends other than a shutdown.
const (
	EndExpired EndReason = "expired"
	EndRevoked EndReason = "revoked"
	EndDeleted EndReason = "deleted"
)

// Refusal reports why the token of a stream (of userID, issued at
// issuedAt) is no longer honoured, or "" while it is.
type Refusal func(ctx context.Context, userID string, issuedAt *time.Time) (EndReason, error)

// StreamConfig is what every stream of a server shares.
type StreamConfig struct {
	Store   Store
	Refusal Refusal
	Log     *slog.Logger
	// Ping is the longest silence between two writes (a ": ping" comment
	// fills it), so proxies keep the connection.
	Ping time.Duration
	// WriteTimeout bounds every write: a client that stops reading is
	// dropped when its socket stays full for this long.
	WriteTimeout time.Duration
	// QueryTimeout bounds each read of the table.
	QueryTimeout time.Duration
}

// Timings of a stream besides the ping.
const (
	// checkInterval is how often a stream asks whether its token was
	// revoked (a lookup in the guard's cache, refreshed every 100 ms),
	// whether it expired, and whether its client closed the connection.
	checkInterval = time.Second
	// retryAfterError is when a stream reads again after the database
	// failed it; the stream stays open (a browser's EventSource gives up
	// on a reconnect answered with an error).
	retryAfterError = time.Second
	// RetryHint is the reconnection delay the stream asks of EventSource
	// ("retry:"): after a replica restarts, the client comes back within it.
	RetryHint = time.Second
)

// Stream is one client's open feed.
type Stream struct {
	cfg StreamConfig
	sub *Subscription
	// release frees the stream's place in its user's limit.
	release func()
	// UserID, IssuedAt and ExpiresAt are those of the token that opened
	// the stream (through a ticket or directly).
	userID    string
	issuedAt  *time.Time
	expiresAt time.Time
	// lastEventID is where the client resumes (-1: not resuming).
	lastEventID int64
}

// Owner is whom a stream is for: the token it lives by.
type Owner struct {
	UserID    string
	IssuedAt  *time.Time
	ExpiresAt time.Time
}

// Open subscribes a stream of owner to hub; the caller must Serve or
// Close it. lastEventID is the id the client resumes after, or -1;
// release (may be nil) frees the stream's place in its user's limit when
// it closes.
func Open(hub *Hub, cfg StreamConfig, owner Owner, lastEventID int64, release func()) (*Stream, error) {
	sub, err := hub.Subscribe(owner.UserID)
	if err != nil {
		return nil, err
	}
	return &Stream{cfg: cfg, sub: sub, release: release, userID: owner.UserID, issuedAt: owner.IssuedAt,
		expiresAt: owner.ExpiresAt, lastEventID: lastEventID}, nil
}

// Close ends the stream's subscription and frees its place.
func (s *Stream) Close() {
	if s.release != nil {
		s.release()
	}
	s.sub.Close()
}

// Serve writes head (the answer's status line and headers, for a chunked
// body) and then the feed to conn, which it owns and closes, until the
// token expires or is revoked, the hub closes, or the client goes away
// (closes the connection, or stops reading).
func (s *Stream) Serve(conn net.Conn, head []byte) {
	defer s.Close()
	defer conn.Close()
	// The head leaves with the stream's opening, once it knows where the
	// feed stands (see start).
	out := &chunkedConn{conn: conn, timeout: s.cfg.WriteTimeout, head: head}
	reason, err := s.run(out)
	if errWrite(err) {
		return
	}
	if reason != "" {
		_ = out.write(appendEnd(nil, reason))
	}
	_ = out.end()
}

// run sends the feed until the stream must end: with a reason, or with
// none on shutdown, or with a write error when the client is gone.
func (s *Stream) run(out *chunkedConn) (EndReason, error) {
	cursor, latest, err := s.start(out)
	if err != nil {
		return "", err
	}
	tick := time.NewTicker(min(checkInterval, s.cfg.Ping))
	defer tick.Stop()
	// The first read replays what the client missed, if anything: a write
	// committed after the head was read wakes the stream (it subscribed
	// before), so a stream with nothing to replay reads nothing until then.
	retry := time.NewTimer(0)
	if cursor >= latest {
		retry.Stop()
	}
	defer retry.Stop()
	lastWrite := time.Now()
	for {
		select {
		case <-s.sub.Wake():
		case <-retry.C:
		case now := <-tick.C:
			if reason := s.ended(now); reason != "" {
				return reason, nil
			}
			if peerClosed(out.conn) {
				return "", writeError{errPeerClosed}
			}
			if now.Sub(lastWrite) >= s.cfg.Ping {
				if err := out.write([]byte(": ping\n\n")); err != nil {
					return "", err
				}
				lastWrite = now
			}
			continue
		case <-s.sub.hub.Done():
			return "", nil
		}
		sent, err := s.catchUp(out, &cursor)
		switch {
		case errWrite(err):
			return "", err
		case err != nil:
			s.cfg.Log.Warn("cannot read a change feed; retrying", "error", err.Error())
			retry.Reset(retryAfterError)
		case sent:
			lastWrite = time.Now()
		}
	}
}

// ended is why the stream must end now, or "". The token's refusal is
// asked first: an expired token whose account was deleted meanwhile ends
// as deleted.
func (s *Stream) ended(now time.Time) EndReason {
	if reason := s.refusal(); reason != "" {
		return reason
	}
	if !now.Before(s.expiresAt) {
		return EndExpired
	}
	return ""
}

// start writes the stream's opening and returns the id after which it
// sends events (the last one the client saw when it resumes with an id
// still kept, else the user's latest: after a reset, when the client
// missed events no longer kept) and the user's latest event id.
//
// Where the feed stands is read before anything is written, so a client
// that has the answer's headers knows the stream is live: every write
// committed from then on reaches it.
func (s *Stream) start(w *chunkedConn) (cursor, latest int64, err error) {
	for {
		head, err := s.head()
		if err == nil {
			cursor, err := s.resumeFrom(w, head)
			return cursor, head.Latest, err
		}
		s.cfg.Log.Warn("cannot read where a change feed stands; retrying", "error", err.Error())
		select {
		case <-time.After(retryAfterError):
		case <-s.sub.hub.Done():
			return 0, 0, err
		}
	}
}

func (s *Stream) resumeFrom(w *chunkedConn, head models.EventHead) (int64, error) {
	// Flushed at once, so that the client has the answer's headers
	// without waiting for the first event.
	opening := strconv.AppendInt([]byte("retry: "), RetryHint.Milliseconds(), 10)
	opening = append(opening, "\n: connected\n\n"...)
	last := s.lastEventID
	if last < 0 {
		return head.Latest, w.write(opening)
	}
	missedNone := last == head.Latest
	replayable := last < head.Latest && head.Oldest > 0 && head.Oldest <= last+1
	if missedNone || replayable {
		return last, w.write(opening)
	}
	// Missed events are gone (or the id is not one this feed gave).
	reset := models.Event{Seq: head.Latest, Type: models.EventReset, Data: []byte("{}")}
	return head.Latest, w.write(appendEvent(opening, reset))
}

func (s *Stream) head() (models.EventHead, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
	defer cancel()
	return s.cfg.Store.Head(ctx, s.userID)
}

// catchUp sends every event after *cursor, advancing it, and reports
// whether it sent any.
func (s *Stream) catchUp(w *chunkedConn, cursor *int64) (bool, error) {
	sent := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
		events, err := s.cfg.Store.After(ctx, s.userID, *cursor)
		cancel()
		if err != nil || len(events) == 0 {
			return sent, err
		}
		var buf []byte
		for _, e := range events {
			buf = appendEvent(buf, e)
		}
		if err := w.write(buf); err != nil {
			return sent, err
		}
		*cursor, sent = events[len(events)-1].Seq, true
	}
}

// refusal is why the stream's token is no longer honoured, or "".
func (s *Stream) refusal() EndReason {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
	defer cancel()
	reason, err := s.cfg.Refusal(ctx, s.userID, s.issuedAt)
	if err != nil {
		// A lookup that fails keeps the stream: the guard refuses the next
		// request anyway, and a database blip should not end every stream.
		return ""
	}
	return reason
}

// writeError marks a failed write: the client is gone or stopped reading.
type writeError struct{ error }

func errWrite(err error) bool {
	_, ok := err.(writeError)
	return ok
}

var errPeerClosed = errors.New("the client closed the connection")

// chunkedConn writes an HTTP/1.1 chunked body to a connection, each write
// one chunk sent at once, within the write timeout.
type chunkedConn struct {
	conn    net.Conn
	timeout time.Duration
	// head is the answer's status line and headers, sent with the first
	// chunk.
	head []byte
	buf  []byte
}

func (c *chunkedConn) write(b []byte) error {
	c.buf = append(c.buf[:0], c.head...)
	c.head = nil
	c.buf = strconv.AppendInt(c.buf, int64(len(b)), 16)
	c.buf = append(c.buf, "\r\n"...)
	c.buf = append(c.buf, b...)
	c.buf = append(c.buf, "\r\n"...)
	err := c.writeRaw(c.buf)
	if cap(c.buf) > 4<<10 {
		c.buf = nil // an idle stream keeps no large buffer
	}
	return err
}

// end writes the body's last chunk (after the head, if nothing was sent:
// a stream that ends before it starts still answers).
func (c *chunkedConn) end() error {
	b := append(c.head, "0\r\n\r\n"...)
	c.head = nil
	return c.writeRaw(b)
}

func (c *chunkedConn) writeRaw(b []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return writeError{err}
	}
	if _, err := c.conn.Write(b); err != nil {
		return writeError{err}
	}
	return nil
}

// appendEnd appends the stream's last event: why it ends.
func appendEnd(b []byte, reason EndReason) []byte {
	b = append(b, "event: end\ndata: {\"reason\":\""...)
	b = append(b, reason...)
	return append(b, "\"}\n\n"...)
}

// appendEvent appends e in the event-stream format. Data is one line of
// JSON (the stores' encoders escape every newline).
func appendEvent(b []byte, e models.Event) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, e.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, e.Data...)
	return append(b, "\n\n"...)
}
