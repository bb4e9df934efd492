package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app"
	"taskflow/app/apptest"
	"taskflow/app/eventstest"
	"taskflow/realtime"
)

// session is a registered account's token pair.
type session struct{ access, refresh string }

func register(t *testing.T, srv *apptest.Server) session {
	t.Helper()
	r := srv.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/register",
		Body: map[string]any{"email": fmt.Sprintf("feed-%s@example.com", uuid.NewString()[:8]), "password": "correct horse battery"}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return sessionOf(t, r)
}

func sessionOf(t *testing.T, r apptest.Response) session {
	t.Helper()
	m := r.Map(t)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	if access == "" || refresh == "" {
		t.Fatalf("no token pair in %s", r.Body)
	}
	return session{access: access, refresh: refresh}
}

// requireEnd reads the stream's last event, end with reason, and checks
// that the body then ended cleanly.
func requireEnd(t *testing.T, s *eventstest.Stream, reason string) {
	t.Helper()
	e := s.Next(t, eventWait)
	if e.Type != "end" || e.Data != fmt.Sprintf(`{"reason":%q}`, reason) {
		t.Fatalf("event %q %s, want end {\"reason\":%q}", e.Type, e.Data, reason)
	}
	select {
	case <-s.Ended():
	case <-time.After(eventWait):
		t.Fatal("the stream is still open after its end event")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("the stream was cut rather than ended: %v", err)
	}
}

// TestEventsStreamEndsWithReason: a stream whose token expires, is revoked
// or whose account is deleted ends with an end event saying why; a client
// that then refreshes its token and reconnects with a fresh ticket and the
// last id it saw gets every event written meanwhile.
func TestEventsStreamEndsWithReason(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		srv := apptest.Start(t, db, map[string]string{"ACCESS_TOKEN_TTL": "3s"})

		t.Run("expired, then resumed with a fresh token", func(t *testing.T) {
			u := register(t, srv)
			s := openTicket(t, srv, u.access)
			first := write(t, srv, u.access, "POST", "/api/v1/tasks", map[string]any{"title": "before"}, 201, "task.created")
			requireEvent(t, s.Next(t, eventWait), 1, first)
			requireEnd(t, s, "expired")

			r := srv.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": u.refresh}})
			apptest.RequireStatus(t, r, http.StatusOK)
			fresh := sessionOf(t, r)
			missed := write(t, srv, fresh.access, "POST", "/api/v1/tasks", map[string]any{"title": "while closed"}, 201, "task.created")
			resumed := eventstest.Open(t, srv.URL+"/api/v1/events?last_event_id=1&ticket="+ticket(t, srv, fresh.access), nil)
			requireStream(t, resumed)
			requireEvent(t, resumed.Next(t, eventWait), 2, missed)
		})

		t.Run("revoked", func(t *testing.T) {
			u := register(t, srv)
			s := openBearer(t, srv, u.access, "", nil)
			apptest.RequireStatus(t, srv.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/logout-all", Token: u.access}), http.StatusNoContent)
			requireEnd(t, s, "revoked")
		})

		t.Run("deleted", func(t *testing.T) {
			u := register(t, srv)
			s := openTicket(t, srv, u.access)
			apptest.RequireStatus(t, srv.Do(t, apptest.Request{Method: http.MethodDelete, Path: "/api/v1/auth/me", Token: u.access}), http.StatusNoContent)
			requireEnd(t, s, "deleted")
		})
	})
}

// TestEventsLimitAcrossReplicas: two replicas on one database, counting in
// the database or in Redis, never hold more than MaxStreamsPerUser streams
// of one user together, even when twice that many open at once; and once
// the client closes them, their places are free within 5 s.
func TestEventsLimitAcrossReplicas(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		t.Run("database", func(t *testing.T) {
			requireLimitAcross(t, apptest.Start(t, db, nil), apptest.Start(t, db, nil))
		})
		t.Run("redis", func(t *testing.T) {
			counters := searchRedis(t)
			requireLimitAcross(t, apptest.StartWithRedis(t, db, nil, counters), apptest.StartWithRedis(t, db, nil, counters))
		})
	})
}

func requireLimitAcross(t *testing.T, a, b *apptest.Server) {
	token := newUserToken(t)
	replicas := []*apptest.Server{a, b}
	const tries = 2 * realtime.MaxStreamsPerUser
	streams := make([]*eventstest.Stream, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			streams[i] = eventstest.Open(t, replicas[i%2].URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + token})
		})
	}
	wg.Wait()
	var open []*eventstest.Stream
	for i, s := range streams {
		switch s.Status {
		case http.StatusOK:
			open = append(open, s)
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("stream %d: status %d, want 200 or 429", i, s.Status)
		}
	}
	if len(open) != realtime.MaxStreamsPerUser {
		t.Fatalf("%d of %d streams opened at once on two replicas, want %d", len(open), tries, realtime.MaxStreamsPerUser)
	}
	for _, s := range replicas {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/events", Token: token})
		apptest.RequireProblem(t, r, http.StatusTooManyRequests)
	}

	for _, s := range open {
		s.Close()
	}
	closed := time.Now()
	for {
		s := eventstest.Open(t, a.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + token})
		if s.Status == http.StatusOK {
			t.Logf("a new stream opened %s after 10 were closed", time.Since(closed).Round(time.Millisecond))
			break
		}
		if s.Status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 200 or 429", s.Status)
		}
		if time.Since(closed) > 5*time.Second {
			t.Fatal("no stream could open within 5 s of closing 10")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEventsLeasesOnlyWhileStreamsAreOpen: a replica refreshes its
// streams' leases while one is open, and once the last one ends it sends
// no statement about them at all.
func TestEventsLeasesOnlyWhileStreamsAreOpen(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		var statements atomic.Int64
		countLeaseStatements := func(g *gorm.DB) error {
			return g.Callback().Raw().After("gorm:raw").Register("test:count_lease_statements", func(tx *gorm.DB) {
				if strings.Contains(tx.Statement.SQL.String(), "stream_leases") {
					statements.Add(1)
				}
			})
		}
		srv := apptest.StartWith(t, db, nil, app.WithOpenedDatabase(countLeaseStatements))
		s := openBearer(t, srv, newUserToken(t), "", nil)
		opened := statements.Load()
		time.Sleep(realtime.LeaseRefresh + time.Second)
		if refreshed := statements.Load(); refreshed <= opened {
			t.Fatalf("%d statements on leases after %s with a stream open, want more than the %d that opened it",
				refreshed, realtime.LeaseRefresh+time.Second, opened)
		}
		s.Close()
		deadline := time.Now().Add(eventWait)
		for leases := int64(1); leases > 0; {
			if err := srv.DB.Raw("SELECT count(*) FROM stream_leases").Scan(&leases).Error; err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d leases left after the only stream closed", leases)
			}
			time.Sleep(50 * time.Millisecond)
		}
		idle := statements.Load()
		time.Sleep(2 * realtime.LeaseRefresh)
		if got := statements.Load(); got != idle {
			t.Errorf("%d statements on leases in %s with no stream open, want none", got-idle, 2*realtime.LeaseRefresh)
		}
	})
}
