package authtest_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

// revocationDeadline is how soon after an event that revokes tokens every
// replica must refuse them (the contract's bound).
const revocationDeadline = time.Second

// guardedCalls are requests on each authenticated group, every one of
// which a revoked token must fail.
var guardedCalls = []apptest.Request{
	{Method: "GET", Path: "/api/v1/tasks"},
	{Method: "POST", Path: "/api/v1/tasks", Body: map[string]any{"title": "written by a revoked token"}},
	{Method: "GET", Path: "/api/v1/tags"},
	{Method: "POST", Path: "/api/v1/tags", Body: map[string]any{"name": "revoked"}},
	{Method: "GET", Path: "/api/v1/auth/me"},
}

// requireGuardedCallsWork asserts token is honoured on every guarded group.
func requireGuardedCallsWork(t *testing.T, s *apptest.Server, token string) {
	t.Helper()
	for _, path := range []string{"/api/v1/tasks", "/api/v1/tags", "/api/v1/auth/me"} {
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: "GET", Path: path, Token: token}), 200)
	}
}

// requireRevokedWithin asserts that, from at most revocationDeadline after
// since, every guarded call with token is a 401 on s, and that it stays
// so. Nothing a refused call tried may have been written.
func requireRevokedWithin(t *testing.T, s *apptest.Server, token string, since time.Time) {
	t.Helper()
	deadline := since.Add(revocationDeadline)
	for {
		refused := 0
		for _, call := range guardedCalls {
			call.Token = token
			if s.Do(t, call).Status == 401 {
				refused++
			}
		}
		if refused == len(guardedCalls) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d guarded calls still accept the token %v after the event", len(guardedCalls)-refused, len(guardedCalls), time.Since(since))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, call := range guardedCalls {
		call.Token = token
		requireInvalidToken(t, s.Do(t, call))
	}
}

// revocationEvent revokes a session's tokens through one of the three
// endpoints that do so and returns when it answered.
type revocationEvent struct {
	name   string
	revoke func(t *testing.T, api *authAPI, session client.Session, password string)
	// newPassword is the password to log in with afterwards; "" means the
	// account is gone.
	newPassword func(old string) string
}

var revocationEvents = []revocationEvent{
	{
		name: "logout-all",
		revoke: func(t *testing.T, api *authAPI, session client.Session, _ string) {
			apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: session.AccessToken}), 204)
		},
		newPassword: func(old string) string { return old },
	},
	{
		name: "password change",
		revoke: func(t *testing.T, api *authAPI, session client.Session, password string) {
			r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/password", Token: session.AccessToken,
				Body: map[string]any{"current_password": password, "new_password": api.usePassword(password + " changed")}})
			apptest.RequireStatus(t, r, 204)
			if len(r.Body) != 0 {
				t.Fatalf("password change answered a body: %s", r.Body)
			}
		},
		newPassword: func(old string) string { return old + " changed" },
	},
	{
		name: "account deletion",
		revoke: func(t *testing.T, api *authAPI, session client.Session, _ string) {
			apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: session.AccessToken}), 204)
		},
		newPassword: func(string) string { return "" },
	},
}

// TestRevokedAccessTokensAreRefused: after each revoking event the old
// access token (and a token issued in the same second before it) is a
// 401 on tasks, tags and /me within a second, on the replica that
// handled the event and on another one that had the user cached; the old
// refresh token is dead; a new login works again.
func TestRevokedAccessTokensAreRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		first := apptest.Start(t, db, highLimit)
		second := apptest.Start(t, db, highLimit)
		for _, event := range revocationEvents {
			t.Run(event.name, func(t *testing.T) {
				api := newAuthAPI(t, first)
				password := api.usePassword("correct horse battery")
				email := "revoked-" + randomSuffix(t) + "@example.com"
				session := api.register(t, email, password)
				requireGuardedCallsWork(t, first, session.AccessToken)
				requireGuardedCallsWork(t, second, session.AccessToken) // the second replica caches the user

				event.revoke(t, api, session, password)
				answered := time.Now()
				// The replica that revoked refuses at once, without waiting to hear of it.
				requireInvalidToken(t, first.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/tasks", Token: session.AccessToken, Body: map[string]any{"title": "x"}}))
				requireRevokedWithin(t, first, session.AccessToken, answered)
				requireRevokedWithin(t, second, session.AccessToken, answered)
				apptest.RequireProblem(t, api.refresh(t, session.RefreshToken), 401)

				newPassword := event.newPassword(password)
				if newPassword == "" {
					apptest.RequireProblem(t, api.login(t, email, password), 401)
					return
				}
				r := api.login(t, email, newPassword)
				apptest.RequireStatus(t, r, 200)
				var fresh client.Session
				r.JSON(t, &fresh)
				requireGuardedCallsWork(t, first, fresh.AccessToken)
				requireGuardedCallsWork(t, second, fresh.AccessToken)
				if event.name == "password change" {
					apptest.RequireProblem(t, api.login(t, email, password), 401)
				}
			})
		}
	})
}

// TestExternalTokensAreRevoked: an external user's logout-all refuses its
// tokens issued before (on both replicas), while a token the frontend
// issues afterwards works.
func TestExternalTokensAreRevoked(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		first := apptest.Start(t, db, highLimit)
		second := apptest.Start(t, db, highLimit)
		sub := "frontend-user-" + randomSuffix(t)
		old := apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims(sub))
		requireGuardedCallsWork(t, first, old)
		requireGuardedCallsWork(t, second, old)
		apptest.RequireStatus(t, first.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: old}), 204)
		answered := time.Now()
		requireRevokedWithin(t, first, old, answered)
		requireRevokedWithin(t, second, old, answered)
		fresh := apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims(sub))
		requireGuardedCallsWork(t, first, fresh)
		requireGuardedCallsWork(t, second, fresh)
	})
}

// TestAccessTokensCarryTheirSession: this API's access tokens carry when
// their session began (auth_time), and a cutoff refuses every token of a
// session begun before it, however late the token was issued: a refresh
// in flight as a logout-all committed mints one after it.
func TestAccessTokensCarryTheirSession(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		session := api.register(t, "auth-time-"+randomSuffix(t)+"@example.com", "correct horse battery")
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(session.AccessToken, claims); err != nil {
			t.Fatal(err)
		}
		authTime, _ := claims["auth_time"].(float64)
		if iat, _ := claims["iat"].(float64); authTime == 0 || authTime > iat {
			t.Fatalf("auth_time %v, iat %v: want the session's start, at or before iat", claims["auth_time"], claims["iat"])
		}
		began := time.Unix(int64(authTime), 0)

		apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: session.AccessToken}), 204)
		issuedNow := ownClaims(session.User.ID)
		apptest.RequireStatus(t, api.me(t, apptest.SignHS256(t, apptest.JWTSecret, issuedNow)), 200)
		issuedNow["auth_time"] = began.Unix()
		requireInvalidToken(t, api.me(t, apptest.SignHS256(t, apptest.JWTSecret, issuedNow)))
	})
}

// randomSuffix makes emails and subjects unique within a database.
func randomSuffix(t testing.TB) string {
	t.Helper()
	return uuid.Must(uuid.NewV7()).String()[24:]
}
