package auth

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"taskflow/models"
)

// How the guard learns of revoked tokens. Every replica polls the cutoffs
// changed lately every revocationPollInterval; its cache is trusted only
// while the last successful poll began less than revocationMaxStaleness
// ago, and otherwise each lookup reads the database. So a cutoff committed
// at C is honoured by every replica from C+revocationMaxStaleness on: either
// a poll that began after C has been applied, or the lookup reads the row
// itself. That bound is inside the contract's one second, with room for
// polls that take several hundred milliseconds on a loaded database before
// lookups fall back to reading it per request.
const (
	revocationPollInterval = 100 * time.Millisecond
	revocationMaxStaleness = 800 * time.Millisecond
	revocationPollTimeout  = 2 * time.Second
	// revocationOverlap is how far before the previous poll's start each
	// poll reads again: it covers clock skew between replicas (each writer
	// stamps changed_at with its own clock) and a transaction that commits
	// some time after it stamped its row.
	revocationOverlap = 10 * time.Second
	// revocationMaxEntries bounds the cache; when full it starts afresh
	// (lookups then read the database once per user again).
	revocationMaxEntries = 100_000
)

// CutoffStore reads users' token cutoffs. Cutoff returns the zero cutoff
// for a user who has none; ChangedSince those written at or after since.
type CutoffStore interface {
	Cutoff(ctx context.Context, userID string) (models.TokenCutoff, error)
	ChangedSince(ctx context.Context, since time.Time) ([]models.TokenCutoff, error)
}

// Revocations tells the guard each user's token cutoff from an in-process
// cache, so that the guard stays off the database on the hot path: a user
// costs one query per replica when first seen, then none. Start polls for
// changes in the background until Close. Without Start the cache is never
// fresh and every lookup reads the database (correct, only slower).
type Revocations struct {
	store CutoffStore
	log   *slog.Logger

	mu      sync.RWMutex
	entries map[string]cachedCutoff

	// freshAt is when the last successful poll began (Unix nanoseconds).
	freshAt atomic.Int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// cachedCutoff is a cutoff as the database had it at asOf (when the read
// began): an older read never replaces a newer one.
type cachedCutoff struct {
	cutoff models.TokenCutoff
	asOf   time.Time
	// unknown marks a user whose cutoff this process just changed: the next
	// lookup reads it, and no read begun before the change may replace it.
	unknown bool
}

// NewRevocations returns the cache over store.
func NewRevocations(store CutoffStore, log *slog.Logger) *Revocations {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Revocations{
		store: store, log: log, entries: make(map[string]cachedCutoff),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Start polls for changed cutoffs in the background until Close.
func (r *Revocations) Start() {
	go r.run()
}

// Close stops the polling Start began and waits for it to end.
func (r *Revocations) Close() {
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-time.After(revocationPollTimeout + time.Second):
	}
}

func (r *Revocations) run() {
	defer close(r.done)
	since := time.Now().Add(-revocationOverlap)
	healthy := true
	ticker := time.NewTicker(revocationPollInterval)
	defer ticker.Stop()
	for {
		var err error
		since, err = r.poll(since)
		if (err == nil) != healthy {
			healthy = err == nil
			if healthy {
				r.log.Info("token revocations are polled again")
			} else {
				r.log.Warn("cannot poll token revocations; the guard reads them from the database per request", "error", err.Error())
			}
		}
		select {
		case <-r.stop:
			return
		case <-ticker.C:
		}
	}
}

// poll applies the cutoffs changed since since and returns where the next
// poll starts reading; on error nothing changes and the next poll reads
// from since again.
func (r *Revocations) poll(since time.Time) (time.Time, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), revocationPollTimeout)
	defer cancel()
	cutoffs, err := r.store.ChangedSince(ctx, since)
	if err != nil {
		return since, err
	}
	r.mu.Lock()
	for _, cutoff := range cutoffs {
		r.put(cutoff, start)
	}
	r.mu.Unlock()
	r.freshAt.Store(start.UnixNano())
	return start.Add(-revocationOverlap), nil
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

// Forget tells the cache that userID's cutoff has just been written by
// this process, so that this replica honours it at once rather than at its
// next poll.
func (r *Revocations) Forget(userID string) {
	r.mu.Lock()
	if len(r.entries) >= revocationMaxEntries {
		clear(r.entries)
	}
	r.entries[userID] = cachedCutoff{cutoff: models.TokenCutoff{UserID: userID}, asOf: time.Now(), unknown: true}
	r.mu.Unlock()
}

func (r *Revocations) fresh(now time.Time) bool {
	return now.Sub(time.Unix(0, r.freshAt.Load())) < revocationMaxStaleness
}

// Cutoff returns userID's cutoff: from the cache while it is fresh and
// holds the user, else read from the database (and cached).
func (r *Revocations) Cutoff(ctx context.Context, userID string) (models.TokenCutoff, error) {
	now := time.Now()
	if r.fresh(now) {
		r.mu.RLock()
		entry, ok := r.entries[userID]
		r.mu.RUnlock()
		if ok && !entry.unknown {
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
