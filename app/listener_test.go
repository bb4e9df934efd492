package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
)

// requireRefusedWithin asserts that token is a 401 on s within a second
// of since (the contract's bound for a revocation).
func requireRefusedWithin(t *testing.T, s *apptest.Server, token string, since time.Time) {
	t.Helper()
	for {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token})
		if r.Status == http.StatusUnauthorized {
			return
		}
		apptest.RequireStatus(t, r, http.StatusOK)
		if time.Since(since) > time.Second {
			t.Fatalf("the token is still honoured %s after its revocation", time.Since(since))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// registerOn makes an account on s and returns its access token.
func registerOn(t *testing.T, s *apptest.Server) string {
	t.Helper()
	r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/register",
		Body: map[string]any{"email": "listener-" + uuid.NewString() + "@example.com", "password": "correct horse battery"}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return r.Map(t)["access_token"].(string)
}

// TestListenerDoesNotCallADatabaseThatWentAway: when the database behind
// the listener goes away (Neon closes its connections as it suspends),
// the listener does not dial it again until something needs it: no
// attempt while nobody uses the replica, a few with backoff while
// requests come, and it listens again once the database is back. Until
// then the replica reads each token's cutoff from the database, so a
// revocation on another replica is still honoured within a second.
func TestListenerDoesNotCallADatabaseThatWentAway(t *testing.T) {
	db := apptest.Postgres(t)
	// The listener's connection goes to the server itself, past any pooler
	// the tests run behind.
	direct := db.URL
	if db.DirectURL != "" {
		direct = db.DirectURL
	}
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, direct))
	a := apptest.Start(t, db, map[string]string{"DIRECT_DATABASE_URL": proxy.URL(direct), "AUTH_RATE_LIMIT": "1000"})
	b := apptest.Start(t, db, map[string]string{"AUTH_RATE_LIMIT": "1000"})
	awaitListeners(t, a.DB, 2)

	proxy.TurnAway()
	const quietSpell = 8 * time.Second
	time.Sleep(quietSpell)
	if n := proxy.TurnedAway(); n != 0 {
		t.Fatalf("with nobody using the replica, its listener dialled a database that went away %d times in %s, want none", n, quietSpell)
	}

	token := registerOn(t, b)
	apptest.RequireStatus(t, a.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}), http.StatusOK)
	apptest.RequireStatus(t, b.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/logout-all", Token: token}), http.StatusNoContent)
	requireRefusedWithin(t, a, token, time.Now())

	const busySpell = 3 * time.Second
	other := registerOn(t, b)
	for start := time.Now(); time.Since(start) < busySpell; time.Sleep(50 * time.Millisecond) {
		apptest.RequireStatus(t, a.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: other}), http.StatusOK)
	}
	// 60 requests; the backoff from 100 ms doubles: 0.1, 0.3, 0.7, 1.5, 3.1 s.
	if n := proxy.TurnedAway(); n < 1 || n > 5 {
		t.Fatalf("requests for %s made the listener dial %d times, want 1 to 5 (with backoff)", busySpell, n)
	}

	proxy.Welcome()
	deadline := time.Now().Add(15 * time.Second)
	for len(listenerPids(t, a.DB)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the listener did not listen again within 15 s of requests once the database was back")
		}
		apptest.RequireStatus(t, a.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: other}), http.StatusOK)
		time.Sleep(100 * time.Millisecond)
	}
	apptest.RequireStatus(t, b.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/logout-all", Token: other}), http.StatusNoContent)
	requireRefusedWithin(t, a, other, time.Now())
}

// awaitListenerCount polls, sending nothing to s, until n listeners
// listen on db's database.
func awaitListenerCount(t *testing.T, s *apptest.Server, n int, within time.Duration, poke func()) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(listenerPids(t, s.DB)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d listeners after %s, want %d", len(listenerPids(t, s.DB)), within, n)
		}
		if poke != nil {
			poke()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestListenerLetsGoAfterAQuietSpell: with no request for
// DB_CONN_MAX_IDLE_TIME and no stream open, the listener closes its
// connection, so an idle replica holds no session; an open stream keeps
// it; the next request has it listen again, and meanwhile a revocation
// on another replica is honoured within a second all the same.
func TestListenerLetsGoAfterAQuietSpell(t *testing.T) {
	const idleAfter = 2 * time.Second
	db := apptest.Postgres(t)
	// A ping a second finds the closed stream soon.
	a := apptest.Start(t, db, map[string]string{"DB_CONN_MAX_IDLE_TIME": idleAfter.String(), "EVENTS_PING_INTERVAL": "1s", "AUTH_RATE_LIMIT": "1000"})
	awaitListenerCount(t, a, 1, 10*time.Second, nil)

	stream := openBearer(t, a, newUserToken(t), "", nil)
	time.Sleep(2*idleAfter + time.Second)
	if n := len(listenerPids(t, a.DB)); n != 1 {
		t.Fatalf("with a stream open, %d listeners after a quiet spell, want 1", n)
	}
	stream.Close()
	awaitListenerCount(t, a, 0, 3*idleAfter+6*time.Second, nil)

	b := apptest.Start(t, db, map[string]string{"AUTH_RATE_LIMIT": "1000"})
	token := registerOn(t, b)
	get := func() {
		apptest.RequireStatus(t, a.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}), http.StatusOK)
	}
	get()
	awaitListenerCount(t, b, 2, 10*time.Second, get)
	apptest.RequireStatus(t, b.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/logout-all", Token: token}), http.StatusNoContent)
	requireRefusedWithin(t, a, token, time.Now())
}
