package authtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/client"
)

// raceRTT is the round trip the PostgreSQL runs of the race tests add
// between the servers and the database, as deployed (Railway to Neon is
// about 20 ms): the windows these races need are a few round trips wide.
const raceRTT = 10 * time.Millisecond

// raceSpread is how long the requests raced against a revocation are
// spread over.
const raceSpread = 250 * time.Millisecond

// raceTrials is how many times each race is run.
const raceTrials = 3

// raceEnv lifts the auth rate limits, and gives requests time to wait
// for the password hasher's slots: a dozen logins at once on a loaded
// machine would otherwise end in 503s, not in the race.
var raceEnv = map[string]string{"AUTH_RATE_LIMIT": "1000", "LOGIN_FAIL_LIMIT": "1000", "DB_QUERY_TIMEOUT": "30s"}

// startReplicas starts two servers on one database, as two replicas of a
// deployment; on PostgreSQL they reach it through a proxy adding raceRTT.
func startReplicas(t *testing.T, db apptest.Database) (*apptest.Server, *apptest.Server) {
	t.Helper()
	if db.Name == "postgres" {
		_, db = apptest.LatencyProxy(t, db, raceRTT)
	}
	return apptest.Start(t, db, raceEnv), apptest.Start(t, db, raceEnv)
}

// answer is one raced request's outcome.
type answer struct {
	status int
	body   []byte
}

// rawPost sends a JSON POST from any goroutine (apptest.Do may only be
// called from the test's own), with an optional bearer token.
func rawPost(baseURL, path, token string, body any) answer {
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	return rawPostWith(baseURL, path, headers, body)
}

// rawPostFrom is rawPost from the client address ip, as a trusted proxy
// reports it (X-Real-IP).
func rawPostFrom(baseURL, path, ip string, body any) answer {
	return rawPostWith(baseURL, path, map[string]string{"X-Real-IP": ip}, body)
}

// rawPostWith is rawPost with the given request headers. A request that
// gets no answer comes back with status 0.
func rawPostWith(baseURL, path string, headers map[string]string, body any) answer {
	var payload io.Reader
	if body != nil {
		encoded, _ := json.Marshal(body)
		payload = bytes.NewReader(encoded)
	}
	req, err := http.NewRequest(http.MethodPost, baseURL+path, payload)
	if err != nil {
		return answer{}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: data}
}

// racedCall is one request fired at an offset from the start of a race.
type racedCall struct {
	at   time.Duration
	send func() answer
}

// race fires every call at its offset, each from its own goroutine, and
// the revoking call, revoke, at revokeAt; it returns the calls' answers in
// order, revoke's, and the instant revoke was answered.
func race(calls []racedCall, revokeAt time.Duration, revoke func() answer) ([]answer, answer, time.Time) {
	answers := make([]answer, len(calls))
	var revoked answer
	var revokedAt time.Time
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(revokeAt)
		revoked = revoke()
		revokedAt = time.Now()
	})
	for i, call := range calls {
		wg.Go(func() {
			time.Sleep(time.Until(start.Add(call.at)))
			answers[i] = call.send()
		})
	}
	wg.Wait()
	return answers, revoked, revokedAt
}

// spread is the offset of the i-th of n calls evenly spread over raceSpread.
func spread(i, n int) time.Duration {
	return time.Duration(i) * raceSpread / time.Duration(n-1)
}

// requireSessionsDead asserts that, from revokedAt+1.2s, no refresh token
// in sessions rotates on either replica and every access token in them is
// refused on both. It reports how many refresh tokens still rotated.
func requireSessionsDead(t *testing.T, api *authAPI, replicas [2]*apptest.Server, sessions []client.Session, revokedAt time.Time) int {
	t.Helper()
	time.Sleep(time.Until(revokedAt.Add(1200 * time.Millisecond)))
	rotated := 0
	for i, session := range sessions {
		other := replicas[(i+1)%2]
		r := other.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": session.RefreshToken}})
		if r.Status != 401 {
			rotated++
			var next client.Session
			r.JSON(t, &next)
			if me := api.me(t, next.AccessToken); me.Status == 200 {
				t.Errorf("session %d: its refresh token rotated %s after the revocation's answer and the new access token works",
					i, time.Since(revokedAt).Round(time.Millisecond))
			}
		}
		for _, s := range replicas {
			if me := s.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/auth/me", Token: session.AccessToken}); me.Status != 401 {
				t.Errorf("session %d: its access token still works (%d) %s after the revocation's answer", i, me.Status, time.Since(revokedAt).Round(time.Millisecond))
			}
		}
	}
	if rotated > 0 {
		t.Errorf("%d of %d refresh tokens of sessions begun before the revocation still rotated 1.2 s after its answer", rotated, len(sessions))
	}
	return rotated
}

// sessionsOf decodes the token pairs of the answers that were 200s.
func sessionsOf(t *testing.T, answers []answer) []client.Session {
	t.Helper()
	var sessions []client.Session
	for _, a := range answers {
		if a.status != 200 {
			continue
		}
		var s client.Session
		if err := json.Unmarshal(a.body, &s); err != nil {
			t.Fatalf("a 200 that is not a token pair: %s", a.body)
		}
		sessions = append(sessions, s)
	}
	return sessions
}

// TestPasswordChangeRacingLogins reproduces twelve logins with the old
// password on one replica, spread over 250 ms across a password change
// made on the other: the logins whose password check read the account
// before the change committed inserted their refresh token after the
// change had revoked the rows it saw, and those tokens kept rotating after
// its 204. Now no session begun before the change outlives it, whatever
// was in flight.
func TestPasswordChangeRacingLogins(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		a, b := startReplicas(t, db)
		replicas := [2]*apptest.Server{a, b}
		api := newAuthAPI(t, a)
		raced := 0
		for trial := range raceTrials {
			password := api.usePassword("correct horse battery")
			newPassword := api.usePassword("a new password entirely")
			email := "race-" + randomSuffix(t) + "@example.com"
			owner := api.register(t, email, password)

			// The logins go to one replica, the change to the other, so that
			// the change's two password hashes do not wait behind the
			// logins' and it commits inside their spread.
			const logins = 12
			calls := make([]racedCall, logins)
			for i := range calls {
				calls[i] = racedCall{at: spread(i, logins), send: func() answer {
					return rawPost(b.URL, "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
				}}
			}
			began := time.Now()
			answers, changed, changedAt := race(calls, 0, func() answer {
				return rawPost(a.URL, "/api/v1/auth/password", owner.AccessToken,
					map[string]any{"current_password": password, "new_password": newPassword})
			})
			if changed.status != 204 {
				t.Fatalf("password change: %d %s", changed.status, changed.body)
			}
			for _, answer := range answers {
				if answer.status != 200 && answer.status != 401 {
					t.Fatalf("a raced login answered %d: %s", answer.status, answer.body)
				}
			}
			sessions := sessionsOf(t, answers)
			if len(sessions) == 0 {
				// On a busy machine the change can commit before the first
				// login's hash is done: that trial proves nothing, the next
				// may.
				t.Logf("trial %d: no login with the old password succeeded before the change", trial)
				continue
			}
			raced++
			sessions = append(sessions, owner)
			rotated := requireSessionsDead(t, api, replicas, sessions, changedAt)
			t.Logf("trial %d: %d of %d logins with the old password succeeded; %d of their refresh tokens rotated 1.2 s after the 204 (answered %s after the race began)",
				trial, len(sessions)-1, logins, rotated, changedAt.Sub(began).Round(time.Millisecond))
			r := api.login(t, email, newPassword)
			apptest.RequireStatus(t, r, 200)
		}
		if raced == 0 {
			t.Fatalf("in none of %d trials did a login with the old password succeed: the race did not happen", raceTrials)
		}
	})
}

// TestLogoutAllRacingRefreshes reproduces refreshes in flight around a
// logout-all, on two replicas: rotations of live tokens, and spent tokens
// presented again within the reuse interval, which got a sibling. A
// sibling made while the logout-all was committing was not among the rows
// it revoked, and outlived it. Now no refresh token of a session begun
// before the logout-all works after its 204.
func TestLogoutAllRacingRefreshes(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		a, b := startReplicas(t, db)
		replicas := [2]*apptest.Server{a, b}
		api := newAuthAPI(t, a)
		for trial := range raceTrials {
			password := api.usePassword("correct horse battery")
			email := "race-" + randomSuffix(t) + "@example.com"
			owner := api.register(t, email, password)

			// Six sessions, each refreshed once: its spent token and its live one.
			const sessionCount = 6
			var spent, live []string
			for range sessionCount {
				r := api.login(t, email, password)
				apptest.RequireStatus(t, r, 200)
				first := r.Map(t)["refresh_token"].(string)
				r = api.refresh(t, first)
				apptest.RequireStatus(t, r, 200)
				spent, live = append(spent, first), append(live, r.Map(t)["refresh_token"].(string))
			}
			calls := make([]racedCall, 2*sessionCount)
			for i := range calls {
				token := spent[i/2]
				if i%2 == 1 {
					token = live[i/2]
				}
				replica := replicas[i%2]
				calls[i] = racedCall{at: spread(i, len(calls)), send: func() answer {
					return rawPost(replica.URL, "/api/v1/auth/refresh", "", map[string]any{"refresh_token": token})
				}}
			}
			answers, loggedOut, loggedOutAt := race(calls, raceSpread/2, func() answer {
				return rawPost(a.URL, "/api/v1/auth/logout-all", owner.AccessToken, nil)
			})
			if loggedOut.status != 204 {
				t.Fatalf("logout-all: %d %s", loggedOut.status, loggedOut.body)
			}
			for _, answer := range answers {
				if answer.status != 200 && answer.status != 401 {
					t.Fatalf("a raced refresh answered %d: %s", answer.status, answer.body)
				}
			}
			sessions := sessionsOf(t, answers)
			got := len(sessions)
			for _, token := range append(spent, live...) {
				sessions = append(sessions, client.Session{RefreshToken: token, AccessToken: owner.AccessToken})
			}
			rotated := requireSessionsDead(t, api, replicas, sessions, loggedOutAt)
			t.Logf("trial %d: %d of %d raced refreshes got a pair; %d refresh tokens rotated 1.2 s after the 204", trial, got, len(calls), rotated)
		}
	})
}
