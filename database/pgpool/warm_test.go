package pgpool_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/database/pgpool"
)

// TestKeepWarmHoldsIdleConnections opens a pool whose idle connections
// are closed after two seconds: with KeepWarm and requests touching it,
// the pool holds its warm connections from the start and still holds them
// after that time has passed twice; without it, or with it but no request,
// the same pool closes them.
func TestKeepWarmHoldsIdleConnections(t *testing.T) {
	const warmConns, maxIdleTime = 3, 2 * time.Second
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		openPool := func() (*gorm.DB, *sql.DB) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			gdb, err := database.Open(ctx, database.Options{URL: db.URL, MaxOpenConns: 6, MaxIdleConns: 4,
				ConnMaxLifetime: time.Hour, ConnMaxIdleTime: maxIdleTime})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = database.Close(gdb) })
			sqlDB, err := gdb.DB()
			if err != nil {
				t.Fatal(err)
			}
			return gdb, sqlDB
		}

		keptGorm, kept := openPool()
		warmer := pgpool.KeepWarm(keptGorm, warmConns, 4, pgpool.WarmInterval(maxIdleTime))
		t.Cleanup(warmer.Stop)
		requests, stopRequests := time.NewTicker(100*time.Millisecond), make(chan struct{})
		defer func() { requests.Stop(); close(stopRequests) }()
		go func() {
			for {
				select {
				case <-requests.C:
					warmer.Touch()
				case <-stopRequests:
					return
				}
			}
		}()
		quietGorm, quiet := openPool()
		t.Cleanup(pgpool.KeepWarm(quietGorm, warmConns, 4, pgpool.WarmInterval(maxIdleTime)).Stop)
		if st := kept.Stats(); st.OpenConnections != warmConns || st.Idle != warmConns {
			t.Fatalf("after KeepWarm: %d open, %d idle; want %d and %d", st.OpenConnections, st.Idle, warmConns, warmConns)
		}

		_, unkept := openPool()
		holdAndRelease(t, unkept, warmConns)

		time.Sleep(2*maxIdleTime + time.Second)
		if st := kept.Stats(); st.OpenConnections < warmConns || st.MaxIdleTimeClosed != 0 {
			t.Errorf("with KeepWarm, after %s: %d open, %d closed for idleness; want %d open, none closed",
				2*maxIdleTime+time.Second, st.OpenConnections, st.MaxIdleTimeClosed, warmConns)
		}
		if st := quiet.Stats(); st.OpenConnections != 0 || st.MaxIdleTimeClosed < warmConns {
			t.Errorf("with KeepWarm but no request for %s: %d open, %d closed for idleness; want all %d closed",
				2*maxIdleTime+time.Second, st.OpenConnections, st.MaxIdleTimeClosed, warmConns)
		}
		if st := unkept.Stats(); st.MaxIdleTimeClosed == 0 {
			t.Errorf("without KeepWarm the pool closed no idle connection (%d open): the test proves nothing", st.OpenConnections)
		}
	})
}

func TestKeepWarmNeverTakesMoreThanMaxIdle(t *testing.T) {
	db := open(t, apptest.SQLite(t).URL)
	defer pgpool.KeepWarm(db, 10, 2, time.Hour).Stop()
	sqlDB, _ := db.DB()
	if st := sqlDB.Stats(); st.OpenConnections != 2 {
		t.Fatalf("KeepWarm(10) with 2 idle connections allowed: %d open, want 2", st.OpenConnections)
	}
}

func holdAndRelease(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	var held []*sql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		_ = c.Close()
	}
}
