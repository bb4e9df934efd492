package realtime

import (
	"context"
	"log/slog"
	"time"
)

// Retention is how long events are kept at least: a client may resume
// from any id younger than this.
const Retention = 24 * time.Hour

// pruneInterval is how often each server looks whether to prune; every
// replica does, which costs nothing when another just did.
const (
	pruneInterval = 10 * time.Minute
	pruneTimeout  = time.Minute
)

// PruneStore deletes events recorded before keepSince, and expired tickets.
type PruneStore interface {
	Prune(ctx context.Context, keepSince time.Time) (int64, error)
}

// Pruner prunes the event table in the background until Close.
type Pruner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartPruner prunes at once, then every pruneInterval in which this
// server served a request (lastRequest says when it last did). Rows
// only expire after being written, and writes come with requests: a
// replica nobody uses leaves the database alone, so a database that
// suspends when idle can, and what expired meanwhile goes at the first
// round after the next request.
func StartPruner(store PruneStore, log *slog.Logger, lastRequest func() time.Time) *Pruner {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pruner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ticker := time.NewTicker(pruneInterval)
		defer ticker.Stop()
		lastRound := time.Now()
		pruneOnce(ctx, store, log)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			if lastRequest().After(lastRound) {
				lastRound = time.Now()
				pruneOnce(ctx, store, log)
			}
		}
	}()
	return p
}

func pruneOnce(ctx context.Context, store PruneStore, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, pruneTimeout)
	defer cancel()
	if _, err := store.Prune(ctx, time.Now().Add(-Retention)); err != nil && ctx.Err() == nil {
		log.Warn("cannot prune expired events and idempotency keys", "error", err.Error())
	}
}

// Close stops pruning and waits for a prune under way to end.
func (p *Pruner) Close() {
	p.cancel()
	<-p.done
}
