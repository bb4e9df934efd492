package pgpool

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"gorm.io/gorm"
)

// warmTimeout bounds one round of KeepWarm: taking the connections, and
// opening those the pool lacks.
const warmTimeout = 10 * time.Second

// KeepWarm opens n connections in db's pool now and keeps n open while the
// app is quiet, so that requests do not pay a new connection's set-up (a
// TCP handshake, then TLS and SCRAM on Neon: see docs/benchmarks.md).
// database/sql has no minimum of idle connections: it closes every
// connection idle for ConnMaxIdleTime. Every every, KeepWarm takes n
// connections from the pool at once and gives them back, which restarts
// their idle time without a byte on the wire (the pool pings no connection
// it hands out), and opens the ones the pool closed meanwhile (past
// ConnMaxLifetime, or lost). A round is skipped when requests use so many
// connections that it would make them wait. n is capped at the pool's
// MaxIdleConns: more would be closed on their return.
//
// Rounds run only while requests come: lastRequest says when the last one
// came, and once none has for quietAfter the rounds stop, the pool closes
// its idle connections, and the database hears nothing from this pool (a
// database that suspends when idle, as Neon does, can). The first requests
// after the quiet spell open connections again, as they would have to on
// a database that woke up anyway. stop ends it.
func KeepWarm(db *gorm.DB, n, maxIdle int, every time.Duration, lastRequest func() time.Time, quietAfter time.Duration) (stop func()) {
	n = min(n, maxIdle)
	sqlDB, err := db.DB()
	if err != nil || n <= 0 || every <= 0 {
		return func() {}
	}
	warm(sqlDB, n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(every)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if time.Since(lastRequest()) <= quietAfter {
					warm(sqlDB, n)
				}
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// WarmInterval is how often KeepWarm must touch the idle connections so
// that none reaches maxIdleTime (0: idle connections are never closed, and
// a round a minute only replaces those closed for their lifetime).
func WarmInterval(maxIdleTime time.Duration) time.Duration {
	if maxIdleTime <= 0 {
		return time.Minute
	}
	return min(maxIdleTime/2, time.Minute)
}

// QuietAfter is how long after the last request KeepWarm goes on: as
// long as the pool would keep an idle connection itself (maxIdleTime),
// or five minutes when it keeps them for ever.
func QuietAfter(maxIdleTime time.Duration) time.Duration {
	if maxIdleTime <= 0 {
		return 5 * time.Minute
	}
	return maxIdleTime
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
