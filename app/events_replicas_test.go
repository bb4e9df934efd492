package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/realtime"
)

// listenerPids returns the backends of the change-feed listeners on the
// database of db that have run their LISTEN.
func listenerPids(t *testing.T, db *gorm.DB) []int {
	t.Helper()
	var pids []int
	err := db.Raw(`SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = ? AND query LIKE 'LISTEN%'
		ORDER BY pid`, realtime.ListenerName).Scan(&pids).Error
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// awaitListeners polls until exactly n listeners listen on db's database
// and returns their pids.
func awaitListeners(t *testing.T, db *gorm.DB, n int) []int {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for {
		pids := listenerPids(t, db)
		if len(pids) == n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("listeners %v after %s, want %d", pids, eventWait, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeTaskChange makes the i-th write of a sequence: even ones create a
// task, odd ones patch the task created just before.
func writeTaskChange(t *testing.T, srv *apptest.Server, token string, i int, last expected) expected {
	t.Helper()
	if i%2 == 0 {
		return write(t, srv, token, http.MethodPost, "/api/v1/tasks",
			map[string]any{"title": fmt.Sprintf("replica write %d", i)}, http.StatusCreated, "task.created")
	}
	return write(t, srv, token, http.MethodPatch, "/api/v1/tasks/"+last.id,
		map[string]any{"title": fmt.Sprintf("replica write %d", i)}, http.StatusOK, "task.updated")
}

// Two servers on one PostgreSQL database: every write on B reaches a
// stream on A, in order, through A's listener; and when A's listener
// connection is killed, the events written while it reconnects are not
// lost.
func TestEventsAcrossReplicas(t *testing.T) {
	db := apptest.Postgres(t)
	a := apptest.Start(t, db, nil)
	// A's listener is the only one until B starts: that is how it is told
	// apart from B's, which has the same application_name.
	aListener := awaitListeners(t, a.DB, 1)[0]
	b := apptest.Start(t, db, nil)
	awaitListeners(t, a.DB, 2)

	token := newUserToken(t)
	stream := openBearer(t, a, token, "", nil)

	const writes = 100
	delays := make([]time.Duration, 0, writes)
	var last expected
	early := 0 // events read before B's answer was
	for i := range writes {
		last = writeTaskChange(t, b, token, i, last)
		answered := time.Now()
		got := stream.Next(t, eventWait)
		requireEvent(t, got, int64(i+1), last)
		// The event may arrive before B's answer is read: that counts as 0.
		if got.Received.Before(answered) {
			early++
		}
		delays = append(delays, max(0, got.Received.Sub(answered)))
	}
	median, p99 := percentile(delays, 50), percentile(delays, 99)
	t.Logf("write on B → event on A, %d writes: median %s, p99 %s, max %s (%d events arrived before B's answer, counted as 0)",
		writes, median, p99, percentile(delays, 100), early)
	if p99 >= 2*time.Second {
		t.Errorf("p99 %s from a write on B to its event on A, want under 2s", p99)
	}

	t.Run("listener connection killed", func(t *testing.T) {
		var killed bool
		if err := a.DB.Raw("SELECT pg_terminate_backend(?)", aListener).Scan(&killed).Error; err != nil || !killed {
			t.Fatalf("terminate A's listener (pid %d): %v, terminated %v", aListener, err, killed)
		}
		start := time.Now()
		var want []expected
		for i := range 5 {
			last = writeTaskChange(t, b, token, writes+i, last)
			want = append(want, last)
		}
		requireEvents(t, stream, writes+1, want)
		t.Logf("the 5 writes made while A's listener reconnected arrived %s after it was killed", time.Since(start).Round(time.Millisecond))
		pids := awaitListeners(t, a.DB, 2)
		if slices.Contains(pids, aListener) {
			t.Fatalf("listeners %v still include the killed backend %d", pids, aListener)
		}
		stream.None(t, quiet)
	})
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}
