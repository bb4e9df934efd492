package realtime

import (
	"bufio"
	"context"
	"log/slog"
	"strconv"
	"time"

	"taskflow/models"
)

// Store reads users' feeds (database.Events).
type Store interface {
	After(ctx context.Context, userID string, after int64) ([]models.Event, error)
	Head(ctx context.Context, userID string) (models.EventHead, error)
}

// Revoked reports whether the token of a stream (of userID, issued at
// issuedAt) is no longer honoured: revoked, or its account deleted.
type Revoked func(ctx context.Context, userID string, issuedAt *time.Time) (bool, error)

// StreamConfig is what every stream of a server shares.
type StreamConfig struct {
	Store   Store
	Revoked Revoked
	Log     *slog.Logger
	// Ping is the longest silence between two writes (a ": ping" comment
	// fills it), so proxies keep the connection and a client that is gone
	// is noticed.
	Ping time.Duration
	// WriteTimeout bounds every write: a client that stops reading is
	// dropped when its socket stays full for this long.
	WriteTimeout time.Duration
	// QueryTimeout bounds each read of the table.
	QueryTimeout time.Duration
	// RecheckAfterWake re-reads the table a few times, backing off, after
	// a wake that found nothing: needed where a wake can come before the
	// commit (SQLite's in-process notification under a caller's
	// transaction), not where it comes after (PostgreSQL's NOTIFY), where
	// it would multiply every write's reads by each open stream.
	RecheckAfterWake bool
}

// Timings of a stream besides the ping.
const (
	// revocationCheck is how often a stream asks whether its token was
	// revoked (a lookup in the guard's cache, refreshed every 100 ms).
	revocationCheck = time.Second
	// recheckFirst and recheckLast bound the re-reads after a wake that
	// found nothing: an in-process notification can come before the
	// transaction of a caller (an idempotent request, say) commits.
	recheckFirst = 25 * time.Millisecond
	recheckLast  = 2 * time.Second
	// retryAfterError is when a stream reads again after the database
	// failed it; the stream stays open (a browser's EventSource gives up
	// on a reconnect answered with an error).
	retryAfterError = time.Second
)

// Stream is one client's open feed.
type Stream struct {
	cfg StreamConfig
	sub *Subscription
	// UserID, IssuedAt and ExpiresAt are those of the token that opened
	// the stream (through a ticket or directly).
	userID    string
	issuedAt  *time.Time
	expiresAt time.Time
	// lastEventID is where the client resumes (-1: not resuming).
	lastEventID int64
	// setDeadline sets the connection's write deadline.
	setDeadline func(time.Time) error
}

// Open subscribes a stream of userID to hub; the caller must Run or
// Close it. lastEventID is the id the client resumes after, or -1.
func Open(hub *Hub, cfg StreamConfig, userID string, issuedAt *time.Time, expiresAt time.Time,
	lastEventID int64, setDeadline func(time.Time) error) (*Stream, error) {
	sub, err := hub.Subscribe(userID)
	if err != nil {
		return nil, err
	}
	return &Stream{cfg: cfg, sub: sub, userID: userID, issuedAt: issuedAt, expiresAt: expiresAt,
		lastEventID: lastEventID, setDeadline: setDeadline}, nil
}

// Close ends the stream's subscription.
func (s *Stream) Close() { s.sub.Close() }

// Run writes the feed to w until the token expires or is revoked, the hub
// closes, the client goes away (a write fails) or stops reading.
func (s *Stream) Run(w *bufio.Writer) {
	defer s.Close()
	cursor, err := s.start(w)
	if err != nil {
		return
	}
	expiry := time.NewTimer(time.Until(s.expiresAt))
	defer expiry.Stop()
	ping := time.NewTicker(s.cfg.Ping)
	defer ping.Stop()
	revocation := time.NewTicker(revocationCheck)
	defer revocation.Stop()
	recheck := time.NewTimer(0) // the first read: catch up, or replay after lastEventID
	defer recheck.Stop()
	recheckDelay := recheckFirst
	for {
		select {
		case <-s.sub.Wake():
			recheckDelay = recheckFirst
		case <-recheck.C:
		case <-ping.C:
			if s.write(w, []byte(": ping\n\n")) != nil {
				return
			}
			continue
		case <-revocation.C:
			if s.revoked() {
				return
			}
			continue
		case <-expiry.C:
			return
		case <-s.sub.hub.Done():
			return
		}
		sent, err := s.catchUp(w, &cursor)
		switch {
		case errWrite(err):
			return
		case err != nil:
			s.cfg.Log.Warn("cannot read a change feed; retrying", "error", err.Error())
			recheck.Reset(retryAfterError)
		case sent:
			ping.Reset(s.cfg.Ping)
		case s.cfg.RecheckAfterWake && recheckDelay <= recheckLast:
			recheck.Reset(recheckDelay)
			recheckDelay *= 2
		}
	}
}

// start writes the stream's opening and returns the id after which it
// sends events: the last one the client saw when it resumes with an id
// still kept, else the user's latest (after a reset, when the client
// missed events no longer kept).
//
// Where the feed stands is read before anything is written, so a client
// that has the answer's headers knows the stream is live: every write
// committed from then on reaches it.
func (s *Stream) start(w *bufio.Writer) (int64, error) {
	for {
		head, err := s.head()
		if err == nil {
			return s.resumeFrom(w, head)
		}
		s.cfg.Log.Warn("cannot read where a change feed stands; retrying", "error", err.Error())
		select {
		case <-time.After(retryAfterError):
		case <-s.sub.hub.Done():
			return 0, err
		}
	}
}

func (s *Stream) resumeFrom(w *bufio.Writer, head models.EventHead) (int64, error) {
	// Flushed at once, so that the client has the answer's headers
	// without waiting for the first event.
	opening := []byte(": connected\n\n")
	last := s.lastEventID
	if last < 0 {
		return head.Latest, s.write(w, opening)
	}
	missedNone := last == head.Latest
	replayable := last < head.Latest && head.Oldest > 0 && head.Oldest <= last+1
	if missedNone || replayable {
		return last, s.write(w, opening)
	}
	// Missed events are gone (or the id is not one this feed gave).
	reset := models.Event{Seq: head.Latest, Type: models.EventReset, Data: []byte("{}")}
	return head.Latest, s.write(w, appendEvent(opening, reset))
}

func (s *Stream) head() (models.EventHead, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
	defer cancel()
	return s.cfg.Store.Head(ctx, s.userID)
}

// catchUp sends every event after *cursor, advancing it, and reports
// whether it sent any.
func (s *Stream) catchUp(w *bufio.Writer, cursor *int64) (bool, error) {
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
		if err := s.write(w, buf); err != nil {
			return sent, err
		}
		*cursor, sent = events[len(events)-1].Seq, true
	}
}

func (s *Stream) revoked() bool {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
	defer cancel()
	revoked, err := s.cfg.Revoked(ctx, s.userID, s.issuedAt)
	// A lookup that fails keeps the stream: the guard refuses the next
	// request anyway, and a database blip should not end every stream.
	return err == nil && revoked
}

// writeError marks a failed write: the client is gone or stopped reading.
type writeError struct{ error }

func errWrite(err error) bool {
	_, ok := err.(writeError)
	return ok
}

// write writes b and flushes it within the write timeout.
func (s *Stream) write(w *bufio.Writer, b []byte) error {
	if s.setDeadline != nil {
		if err := s.setDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
			return writeError{err}
		}
	}
	if _, err := w.Write(b); err != nil {
		return writeError{err}
	}
	if err := w.Flush(); err != nil {
		return writeError{err}
	}
	return nil
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
