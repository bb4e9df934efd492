package auth

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"taskflow/models"
)

// How the guard learns of revoked tokens without asking the database on
// a timer (an idle replica sends it nothing, so a database that suspends
// when idle can). The cache is trusted in one of two ways:
//
//   - Pushed: something that hears every cutoff as it commits (a LISTEN
//     on PostgreSQL, fed by a trigger on the cutoffs table; or Redis
//     pub/sub) says Listening, then Heard for each user. The cache is
//     trusted from Listening until Lost, and only for what was read after
//     Listening: before it, a cutoff may have gone unheard. While it is not
//     trusted each lookup reads the database and asks for the listener back.
//   - Checked (Start): a lookup that finds the cache older than
//     revocationMaxStaleness reads the cutoffs changed since the last
//     check, once for all the lookups waiting on it. So a cutoff committed
//     at C is honoured by every replica from C+revocationMaxStaleness on:
//     either a check that began after C has been applied, or the lookup
//     waits for one. That bound is inside the contract's one second.
//
// With neither, the cache is never trusted and every lookup reads the
// database (correct, only slower).
const (
	revocationMaxStaleness = 800 * time.Millisecond
	revocationCheckTimeout = 2 * time.Second
	// revocationOverlap is how far before the previous check's start each
	// check reads again: it covers clock skew between replicas (each writer
	// stamps changed_at with its own clock) and a transaction that commits
	// some time after it stamped its row.
	revocationOverlap = 10 * time.Second
	// revocationMaxEntries bounds the cache; when full it starts afresh
	// (lookups then read the database once per user again).
	revocationMaxEntries = 100_000
)

// Ways the cache is kept trustworthy.
const (
	modeNone int32 = iota
	modeChecked
	modePushed
)

// CutoffStore reads users' token cutoffs. Cutoff returns the zero cutoff
// for a user who has none; ChangedSince those written at or after since.
type CutoffStore interface {
	Cutoff(ctx context.Context, userID string) (models.TokenCutoff, error)
	ChangedSince(ctx context.Context, since time.Time) ([]models.TokenCutoff, error)
}

// Revocations tells the guard each user's token cutoff from an in-process
// cache, so that the guard stays off the database on the hot path: a user
// costs one query per replica when first seen, then none.
type Revocations struct {
	store CutoffStore
	log   *slog.Logger
	mode  atomic.Int32

	mu      sync.RWMutex
	entries map[string]cachedCutoff

	// Pushed: trustedSince is when the pusher last said Listening (Unix
	// nanoseconds), 0 while it is not listening; reconnect asks for it back.
	trustedSince atomic.Int64
	reconnect    func()
	// publish, if set, tells the other replicas of a cutoff this one wrote.
	publish func(userID string)

	// Checked: freshAt is when the last successful check began (Unix
	// nanoseconds); check is the one under way, since where the next reads.
	freshAt   atomic.Int64
	checkMu   sync.Mutex
	check     *cutoffCheck
	since     time.Time
	unhealthy bool
}

// cutoffCheck is one read of the changed cutoffs, shared by every lookup
// that waits for it.
type cutoffCheck struct {
	done chan struct{}
	err  error
}

// cachedCutoff is a cutoff as the database had it at asOf (when the read
// began): an older read never replaces a newer one.
type cachedCutoff struct {
	cutoff models.TokenCutoff
	asOf   time.Time
	// unknown marks a user whose cutoff just changed: the next lookup
	// reads it, and no read begun before the change may replace it.
	unknown bool
}

// NewRevocations returns the cache over store, trusted by nothing yet.
func NewRevocations(store CutoffStore, log *slog.Logger) *Revocations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Revocations{store: store, log: log, entries: make(map[string]cachedCutoff)}
}

// Start keeps the cache trustworthy by checks that lookups drive: the
// way for a database nothing can LISTEN to (SQLite, or PostgreSQL reached
// only through a transaction pooler) and no Redis.
func (r *Revocations) Start() {
	r.checkMu.Lock()
	r.since = time.Now().Add(-revocationOverlap)
	r.checkMu.Unlock()
	r.mode.Store(modeChecked)
}

// Pushed makes the cache trusted between Listening and Lost, as told by
// something that hears every cutoff committed. reconnect (may be nil) is
// called by a lookup that found it not listening; publish (may be nil) by
// Forget, to tell the other replicas.
func (r *Revocations) Pushed(reconnect func(), publish func(userID string)) {
	r.reconnect, r.publish = reconnect, publish
	r.mode.Store(modePushed)
}

// Listening says every cutoff committed from now on will be Heard.
func (r *Revocations) Listening() { r.trustedSince.Store(time.Now().UnixNano()) }

// Lost says cutoffs may go unheard from now on, until Listening again.
func (r *Revocations) Lost() { r.trustedSince.Store(0) }

// Heard says userID's cutoff has changed (on any replica).
func (r *Revocations) Heard(userID string) { r.markUnknown(userID) }

// Forget tells the cache that userID's cutoff has just been written by
// this process, so that this replica honours it at once, and the others
// as soon as they hear of it.
func (r *Revocations) Forget(userID string) {
	r.markUnknown(userID)
	if r.publish != nil {
		r.publish(userID)
	}
}

func (r *Revocations) markUnknown(userID string) {
	r.mu.Lock()
	if len(r.entries) >= revocationMaxEntries {
		clear(r.entries)
	}
	r.entries[userID] = cachedCutoff{cutoff: models.TokenCutoff{UserID: userID}, asOf: time.Now(), unknown: true}
	r.mu.Unlock()
}

// Cutoff returns userID's cutoff: from the cache while it is trusted and
// holds the user, else read from the database (and cached).
func (r *Revocations) Cutoff(ctx context.Context, userID string) (models.TokenCutoff, error) {
	now := time.Now()
	if trustedSince, ok := r.trusted(ctx, now); ok {
		r.mu.RLock()
		entry, ok := r.entries[userID]
		r.mu.RUnlock()
		if ok && !entry.unknown && !entry.asOf.Before(trustedSince) {
			return entry.cutoff, nil
		}
	}
	cutoff, err := r.store.Cutoff(ctx, userID)
	if err != nil {
		return models.TokenCutoff{}, err
	}
	r.mu.Lock()
	r.put(cutoff, now)
	r.mu.Unlock()
	return cutoff, nil
}

// trusted says whether the cache may answer a lookup made at now, and
// from which instant on its reads are: a check brought it up to date, or
// the pusher has listened since.
func (r *Revocations) trusted(ctx context.Context, now time.Time) (time.Time, bool) {
	switch r.mode.Load() {
	case modePushed:
		since := r.trustedSince.Load()
		if since == 0 {
			if r.reconnect != nil {
				r.reconnect()
			}
			return time.Time{}, false
		}
		return time.Unix(0, since), true
	case modeChecked:
		if !r.fresh(now) && r.checkChanges(ctx) != nil {
			return time.Time{}, false
		}
		return time.Time{}, true
	}
	return time.Time{}, false
}

func (r *Revocations) fresh(now time.Time) bool {
	return now.Sub(time.Unix(0, r.freshAt.Load())) < revocationMaxStaleness
}

// checkChanges brings the cache up to date with the cutoffs changed since
// the last check, or waits for the check under way to do so.
func (r *Revocations) checkChanges(ctx context.Context) error {
	r.checkMu.Lock()
	if r.fresh(time.Now()) {
		r.checkMu.Unlock()
		return nil
	}
	if c := r.check; c != nil {
		r.checkMu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := &cutoffCheck{done: make(chan struct{})}
	r.check, c.err = c, nil
	since := r.since
	r.checkMu.Unlock()

	// The check serves every lookup waiting on it: one request giving up
	// must not cancel it for the others.
	start := time.Now()
	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revocationCheckTimeout)
	cutoffs, err := r.store.ChangedSince(checkCtx, since)
	cancel()
	if err == nil {
		r.mu.Lock()
		for _, cutoff := range cutoffs {
			r.put(cutoff, start)
		}
		r.mu.Unlock()
		r.freshAt.Store(start.UnixNano())
	}

	r.checkMu.Lock()
	r.check = nil
	if err == nil {
		r.since = start.Add(-revocationOverlap)
	}
	r.noteHealth(err)
	r.checkMu.Unlock()
	c.err = err
	close(c.done)
	return err
}

// noteHealth logs when checks start failing and when they work again;
// r.checkMu must be held.
func (r *Revocations) noteHealth(err error) {
	switch {
	case err != nil && !r.unhealthy:
		r.unhealthy = true
		r.log.Warn("cannot read changed token cutoffs; the guard reads them from the database per request", "error", err.Error())
	case err == nil && r.unhealthy:
		r.unhealthy = false
		r.log.Info("changed token cutoffs are read again")
	}
}

// put caches cutoff as read at asOf; r.mu must be held for writing.
func (r *Revocations) put(cutoff models.TokenCutoff, asOf time.Time) {
	if old, ok := r.entries[cutoff.UserID]; ok && old.asOf.After(asOf) {
		return
	}
	if len(r.entries) >= revocationMaxEntries {
		clear(r.entries)
	}
	r.entries[cutoff.UserID] = cachedCutoff{cutoff: cutoff, asOf: asOf}
}
