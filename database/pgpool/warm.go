package pgpool

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// warmTimeout bounds one round of warming: taking the connections, and
// opening those the pool lacks.
const warmTimeout = 10 * time.Second

// Warmer keeps n connections of a pool open while requests come, so that
// requests do not pay a new connection's set-up (a TCP handshake, then
// TLS and SCRAM on Neon: see docs/benchmarks.md). database/sql has no
// minimum of idle connections: it closes every connection idle for
// ConnMaxIdleTime. A round takes n connections from the pool at once and
// gives them back, which restarts their idle time without a byte on the
// wire (the pool pings no connection it hands out), and opens the ones
// the pool closed meanwhile (past ConnMaxLifetime, or lost).
//
// Rounds are driven by requests (Touch), never by a timer: once no
// request has come for ConnMaxIdleTime the pool closes its idle
// connections, and the database hears nothing from this pool (a database
// that suspends when idle, as Neon does, can). The first requests after
// the quiet spell open connections again, as they would have to on a
// database that woke up anyway.
type Warmer struct {
	db    *sql.DB
	n     int
	every time.Duration

	last    atomic.Int64 // when the last round began, Unix nanoseconds
	running atomic.Bool
	wg      sync.WaitGroup
}

// KeepWarm opens n connections in db's pool now and returns the Warmer
// that keeps them open while requests come. n is capped at the pool's
// MaxIdleConns (maxIdle): more would be closed on their return. A nil
// Warmer (n <= 0, or not a database/sql pool) does nothing.
func KeepWarm(db *gorm.DB, n, maxIdle int, every time.Duration) *Warmer {
	n = min(n, maxIdle)
	sqlDB, err := db.DB()
	if err != nil || n <= 0 || every <= 0 {
		return nil
	}
	w := &Warmer{db: sqlDB, n: n, every: every}
	w.last.Store(time.Now().UnixNano())
	warm(sqlDB, n)
	return w
}

// Touch runs a round in the background when the last one began every or
// more ago and none is under way. A request calls it: it never blocks.
func (w *Warmer) Touch() {
	if w == nil || time.Since(time.Unix(0, w.last.Load())) < w.every || !w.running.CompareAndSwap(false, true) {
		return
	}
	w.last.Store(time.Now().UnixNano())
	w.wg.Go(func() {
		defer w.running.Store(false)
		warm(w.db, w.n)
	})
}

// Stop waits for a round under way; Touch does nothing afterwards.
func (w *Warmer) Stop() {
	if w == nil {
		return
	}
	w.running.Store(true)
	w.wg.Wait()
}

// WarmInterval is how often requests must have the idle connections
// touched so that none reaches maxIdleTime while they come (0: idle
// connections are never closed, and a round a minute only replaces those
// closed for their lifetime).
func WarmInterval(maxIdleTime time.Duration) time.Duration {
	if maxIdleTime <= 0 {
		return time.Minute
	}
	return min(maxIdleTime/2, time.Minute)
}

// warm holds n of the pool's connections at once, opening the missing
// ones, and releases them all.
func warm(db *sql.DB, n int) {
	stats := db.Stats()
	if stats.MaxOpenConnections > 0 && stats.InUse+n > stats.MaxOpenConnections {
		return // the requests need the pool more than the next one does
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmTimeout)
	defer cancel()
	held := make([]*sql.Conn, 0, n)
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			break // the database is away: the next round tries again
		}
		held = append(held, c)
	}
	for _, c := range held {
		_ = c.Close()
	}
}
