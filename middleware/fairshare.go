package middleware

import (
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// FairShareConfig sets up FairShare.
type FairShareConfig struct {
	// Slots is how many requests may use the database at once: the
	// pool's connections.
	Slots int
	// Wait is the longest a request waits in its user's line; past it,
	// a 429 with Retry-After.
	Wait time.Duration
	// UserOf names the caller a request is counted for; "" lets it
	// through uncounted (a request the guard will refuse).
	UserOf func(*fiber.Ctx) string
	// Observer watches the lines (the metrics).
	Observer QueueObserver
	// Refused, when not nil, is told of each 429.
	Refused func()
	// MaxLine is how many requests one user may have waiting: beyond it a
	// request is refused at once. Zero means DefaultMaxLine.
	MaxLine int
}

// QueueObserver watches FairShare's lines: the metrics.
type QueueObserver interface {
	// Queued is told +1 when a request joins a line and -1 when it
	// leaves it (admitted, or out of time).
	Queued(delta int)
	// Waited is told how long a request stood in line.
	Waited(d time.Duration)
}

// DefaultMaxLine bounds a user's line: a user alone in the bench waits
// with some fifty requests, a few milliseconds each. The bound is on
// memory; Wait bounds the time.
const DefaultMaxLine = 1024

// FairShare lets at most Slots requests use the database at once, and each
// user at most its share of them: all of them while it is the only user
// asking, else Slots divided by the users asking, rounded up. A request
// past its user's share waits in that user's own line, first come first
// served, and a freed slot goes to the next user in turn that is under
// its share, so one user sending many requests, or costly ones, holds at
// most its share of the connections (and of the database's CPU) while
// others wait at most for one of its statements to end. A request that
// has waited Wait is answered 429 with Retry-After; one whose deadline
// (Deadline) passes first, 503, as when waiting in the pool.
func FairShare(cfg FairShareConfig) fiber.Handler {
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	lines := newFairLines(cfg.Slots)
	return func(c *fiber.Ctx) error {
		user := cfg.UserOf(c)
		if user == "" {
			return c.Next()
		}
		u, err := lines.acquire(c, user, cfg)
		if err != nil {
			return err
		}
		defer lines.release(u)
		return c.Next()
	}
}

// fairLines holds the slots and every user's line.
type fairLines struct {
	mu    sync.Mutex
	slots int
	free  int
	users map[string]*userLine // users holding or waiting for a slot
	turns []*userLine          // users with a request waiting, in turn
}

// userLine is one user's slots and waiting requests.
type userLine struct {
	id      string
	holding int
	waiting []*waiter
}

// waiter is a request in line; granted is written under fairLines.mu.
type waiter struct {
	ready   chan struct{}
	granted bool
}

func newFairLines(slots int) *fairLines {
	return &fairLines{slots: slots, free: slots, users: map[string]*userLine{}}
}

// share is how many slots each user may hold now.
func (l *fairLines) share() int {
	active := max(len(l.users), 1)
	return (l.slots + active - 1) / active
}

// acquire takes a slot for user, waiting in its line if need be, and
// returns the line to release it to.
func (l *fairLines) acquire(c *fiber.Ctx, user string, cfg FairShareConfig) (*userLine, error) {
	l.mu.Lock()
	u := l.users[user]
	if u == nil {
		u = &userLine{id: strings.Clone(user)} // user may be a request's buffer
		l.users[u.id] = u
	}
	if len(u.waiting) == 0 && l.free > 0 && u.holding < l.share() {
		u.holding++
		l.free--
		l.mu.Unlock()
		return u, nil
	}
	if len(u.waiting) >= cfg.MaxLine {
		l.forgetIfIdle(u)
		l.mu.Unlock()
		return nil, refuse(cfg)
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	u.waiting = append(u.waiting, w)
	if len(u.waiting) == 1 {
		l.turns = append(l.turns, u)
	}
	l.mu.Unlock()
	return u, l.wait(c, u, w, cfg)
}

// wait blocks until w is granted a slot, its wait is over (429) or its
// deadline passes (503).
func (l *fairLines) wait(c *fiber.Ctx, u *userLine, w *waiter, cfg FairShareConfig) error {
	cfg.Observer.Queued(1)
	start := time.Now()
	defer func() {
		cfg.Observer.Queued(-1)
		cfg.Observer.Waited(time.Since(start))
	}()
	timer := time.NewTimer(cfg.Wait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-timer.C:
		err = refuse(cfg)
	case <-c.UserContext().Done():
		err = models.Unavailable(c.UserContext().Err())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted { // granted while giving up: keep it
		return nil
	}
	l.leaveLine(u, w)
	return err
}

// release gives back a slot of u and hands the free slots on.
func (l *fairLines) release(u *userLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u.holding--
	l.free++
	l.forgetIfIdle(u)
	l.grant()
}

// grant hands free slots to waiting requests: each to the first request of
// the next user in turn that is under its share, that user then going to
// the back of the turn.
func (l *fairLines) grant() {
	for l.free > 0 && len(l.turns) > 0 {
		share := l.share()
		i := 0
		for i < len(l.turns) && l.turns[i].holding >= share {
			i++
		}
		if i == len(l.turns) {
			return // everyone waiting holds its share already
		}
		u := l.turns[i]
		w := u.waiting[0]
		u.waiting = u.waiting[1:]
		l.turns = append(l.turns[:i], l.turns[i+1:]...)
		if len(u.waiting) > 0 {
			l.turns = append(l.turns, u)
		}
		u.holding++
		l.free--
		w.granted = true
		w.ready <- struct{}{}
	}
}

// leaveLine takes w out of u's line.
func (l *fairLines) leaveLine(u *userLine, w *waiter) {
	for i, other := range u.waiting {
		if other == w {
			u.waiting = append(u.waiting[:i], u.waiting[i+1:]...)
			break
		}
	}
	if len(u.waiting) == 0 {
		for i, other := range l.turns {
			if other == u {
				l.turns = append(l.turns[:i], l.turns[i+1:]...)
				break
			}
		}
	}
	l.forgetIfIdle(u)
	// One user fewer may raise everyone's share.
	l.grant()
}

// forgetIfIdle drops u once it neither holds nor waits for a slot.
func (l *fairLines) forgetIfIdle(u *userLine) {
	if u.holding == 0 && len(u.waiting) == 0 {
		delete(l.users, u.id)
	}
}

// userLineRetryAfter is the Retry-After of a request that waited its
// user's line out: by then that user's earlier requests have had a second
// to finish.
const userLineRetryAfter = time.Second

func refuse(cfg FairShareConfig) error {
	if cfg.Refused != nil {
		cfg.Refused()
	}
	return models.RateLimited(userLineRetryAfter)
}
