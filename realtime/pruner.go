package realtime

import (
	"context"
	"log/slog"
	"time"
)

// Retention is how long events are kept at least: a client may resume
// from any id younger than this.
const Retention = 24 * time.Hour

// pruneInterval is how often each server prunes; every replica does, which
// costs nothing when another just did.
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

// StartPruner prunes at once, then every pruneInterval.
func StartPruner(store PruneStore, log *slog.Logger) *Pruner {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pruner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ticker := time.NewTicker(pruneInterval)
		defer ticker.Stop()
		for {
			pruneOnce(ctx, store, log)
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
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
