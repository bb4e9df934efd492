package realtime

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Retention is how long events are kept at least: a client may resume
// from any id younger than this.
const Retention = 24 * time.Hour

// pruneInterval is how long a server waits between prunes; every replica
// prunes, which costs nothing when another just did.
const (
	pruneInterval = 10 * time.Minute
	pruneTimeout  = time.Minute
)

// PruneStore deletes events recorded before keepSince, and expired tickets.
type PruneStore interface {
	Prune(ctx context.Context, keepSince time.Time) (int64, error)
}

// Pruner keeps the event table to its retention. It prunes when it
// starts, then on a request (Poke) that comes pruneInterval or more after
// the last prune, in the background. Rows expire only after being written,
// and writes come with requests: a replica nobody uses sends its database
// nothing, so a database that suspends when idle can, and what expired
// meanwhile goes with the first request after.
type Pruner struct {
	store PruneStore
	log   *slog.Logger
	every time.Duration

	ctx     context.Context
	cancel  context.CancelFunc
	last    atomic.Int64 // when the last prune began, Unix nanoseconds
	running atomic.Bool
	wg      sync.WaitGroup
}

// StartPruner prunes at once, in the background.
func StartPruner(store PruneStore, log *slog.Logger) *Pruner {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pruner{store: store, log: log, every: pruneInterval, ctx: ctx, cancel: cancel}
	p.running.Store(true)
	p.prune()
	return p
}

// Poke prunes in the background when the last prune began pruneInterval
// ago or more and none is under way. It never blocks: a request calls it.
func (p *Pruner) Poke() {
	if time.Since(time.Unix(0, p.last.Load())) < p.every || !p.running.CompareAndSwap(false, true) {
		return
	}
	p.prune()
}

// prune prunes in the background; p.running must have been set.
func (p *Pruner) prune() {
	p.last.Store(time.Now().UnixNano())
	p.wg.Go(func() {
		defer p.running.Store(false)
		ctx, cancel := context.WithTimeout(p.ctx, pruneTimeout)
		defer cancel()
		if _, err := p.store.Prune(ctx, time.Now().Add(-Retention)); err != nil && ctx.Err() == nil {
			p.log.Warn("cannot prune expired events and idempotency keys", "error", err.Error())
		}
	})
}

// Close stops a prune under way and waits for it to end; Poke does
// nothing afterwards.
func (p *Pruner) Close() {
	p.running.Store(true)
	p.cancel()
	p.wg.Wait()
}
