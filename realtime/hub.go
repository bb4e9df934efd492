// Package realtime serves users' change feeds: a hub per server that knows
// the open streams and wakes those of a user who has new events, the
// PostgreSQL listener that hears of events committed on any replica, the
// stream that writes a feed as Server-Sent Events, and the pruner that
// keeps the event table to its retention.
//
// Events are never passed through memory from a writer to a stream: a
// write records its event in the database, in its own transaction, and a
// notification only says "this user has new events". Each stream then
// reads the events after the last one it sent, from the table. So a stream
// can never see an event of a write that rolled back, resuming and
// catching up after a lost notification are the same code as going live,
// and a slow stream holds nothing but its cursor.
package realtime

import (
	"errors"
	"sync"
)

// MaxStreamsPerUser is how many streams one user may hold open at once,
// on all replicas together (see Slots).
const MaxStreamsPerUser = 10

// ErrTooManyStreams refuses a stream beyond MaxStreamsPerUser.
var ErrTooManyStreams = errors.New("too many open streams for this user")

// ErrClosed refuses a stream while the server shuts down.
var ErrClosed = errors.New("the server is shutting down")

// Hub is the set of open streams of one server, by user. Notify never
// blocks: it marks each of the user's streams as having something to read.
type Hub struct {
	mu     sync.Mutex
	users  map[string]map[*Subscription]struct{}
	open   int
	closed bool
	done   chan struct{}
	// running counts the subscribed streams, so Close can wait for them
	// to end.
	running sync.WaitGroup
	// gauge, when set, is told the number of open streams on each change.
	gauge func(open int)
}

// NewHub returns an empty hub; gauge (may be nil) is told the number of
// open streams whenever it changes.
func NewHub(gauge func(open int)) *Hub {
	return &Hub{users: map[string]map[*Subscription]struct{}{}, done: make(chan struct{}), gauge: gauge}
}

// Subscription is one open stream's place in the hub.
type Subscription struct {
	hub    *Hub
	userID string
	wake   chan struct{}
	once   sync.Once
}

// Subscribe registers a stream of userID. It must be called before the
// stream reads where the feed stands, so that no event committed after
// that read goes unnoticed.
func (h *Hub) Subscribe(userID string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	subs := h.users[userID]
	if subs == nil {
		subs = map[*Subscription]struct{}{}
		h.users[userID] = subs
	}
	s := &Subscription{hub: h, userID: userID, wake: make(chan struct{}, 1)}
	subs[s] = struct{}{}
	h.running.Add(1)
	h.open++
	h.report()
	return s, nil
}

// Wake receives when the stream's user may have new events. Several
// notifications before the stream reads count as one.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// Close removes the stream from the hub; closing twice is harmless.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.hub
		h.mu.Lock()
		defer h.mu.Unlock()
		subs := h.users[s.userID]
		delete(subs, s)
		if len(subs) == 0 {
			delete(h.users, s.userID)
		}
		h.open--
		h.report()
		h.running.Done()
	})
}

func (h *Hub) report() {
	if h.gauge != nil {
		h.gauge(h.open)
	}
}

func (s *Subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default: // already marked: the stream reads everything new anyway
	}
}

// Notify wakes every stream of userID.
func (h *Hub) Notify(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.users[userID] {
		s.poke()
	}
}

// WakeAll wakes every stream, so each catches up from the table: after
// the listener reconnects, notifications sent meanwhile are lost.
func (h *Hub) WakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.users {
		for s := range subs {
			s.poke()
		}
	}
}

// Open is the number of open streams.
func (h *Hub) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// Done is closed when the hub closes: every stream ends.
func (h *Hub) Done() <-chan struct{} { return h.done }

// Close refuses new streams, tells the open ones to end, and waits until
// they have: streams own their connections (the HTTP server no longer
// tracks them), so this is the drain of the change feed. Each ends within
// a write timeout: it only has to finish its body.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.running.Wait()
}
