package authtest_test

// Each test here reproduces an attack that an adversarial review carried
// out against a running server, and then holds the server to refusing it.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
	"taskflow/client"
)

// TestFrontendTokenCannotReachALocalAccount reproduces a frontend token
// (shared-secret HS256, or one signed by the JWKS) whose sub is a local
// account's id: it listed, created and, through DELETE /auth/me, wiped that
// account's tasks and tags. External users now get a user_id derived from
// issuer and sub, which can never equal a local id.
func TestFrontendTokenCannotReachALocalAccount(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		f := newGuardFixture(t, db)
		own := signWith(t, jwt.SigningMethodHS256, []byte(apptest.JWTSecret), f.own())
		created := f.api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/tasks", Token: own, Body: map[string]any{"title": "local only"}})
		apptest.RequireStatus(t, created, 201)

		shared := frontendClaims(f.localUserID)
		shared["iss"], shared["aud"] = betterAuthURL, betterAuthURL
		jwks := f.frontend()
		jwks["sub"] = f.localUserID
		impostors := map[string]string{
			"shared secret": apptest.SignHS256(t, apptest.BetterAuthSecret, shared),
			"JWKS":          f.ed.sign(t, jwks),
		}
		for name, token := range impostors {
			list := f.api.do(t, apptest.Request{Method: "GET", Path: "/api/v1/tasks", Token: token})
			apptest.RequireStatus(t, list, 200)
			if total := list.Map(t)["total"]; total != float64(0) {
				t.Fatalf("%s token with the local id as sub lists %v of the local account's tasks", name, total)
			}
			me := f.api.me(t, token)
			apptest.RequireStatus(t, me, 200)
			if id := me.Map(t)["id"]; id == f.localUserID {
				t.Fatalf("%s token is the local account (id %v)", name, id)
			}
		}
		// Both tokens are one external user's: deleting its account
		// revokes the other token with it.
		apptest.RequireStatus(t, f.api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: impostors["shared secret"]}), 204)
		requireInvalidToken(t, f.api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: impostors["JWKS"]}))
		if n := count(t, f.s, "SELECT COUNT(*) FROM tasks WHERE user_id = ?", f.localUserID); n != 1 {
			t.Fatalf("the local account has %d tasks after the impostors' calls, want 1", n)
		}
		apptest.RequireStatus(t, f.api.me(t, own), 200)
	})
}

// loginFrom logs in to email from clientIP, through the trusted proxy header.
func loginFrom(t testing.TB, api *authAPI, clientIP, email, password string) apptest.Response {
	t.Helper()
	api.usePassword(password)
	return api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Headers: map[string]string{"X-Real-IP": clientIP},
		Body:    map[string]any{"email": email, "password": password}})
}

// TestNoOneCanLockAnotherOut reproduces five wrong passwords for the
// victim's email from one address, which gave the victim a 429 for 15
// minutes from any other address, right password and all. Failures now
// count per (email, client).
func TestNoOneCanLockAnotherOut(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{
			"LOGIN_FAIL_LIMIT": "5", "AUTH_RATE_LIMIT": "1000", "TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP",
		})
		api := newAuthAPI(t, s)
		createAccount(t, s, "victim@example.com", api.usePassword("the victim's password"))
		for i := range 5 {
			apptest.RequireProblem(t, loginFrom(t, api, "198.51.100.66", "victim@example.com", fmt.Sprintf("guess %d", i)), 401)
		}
		requireRateLimited(t, loginFrom(t, api, "198.51.100.66", "victim@example.com", "the victim's password"), 15*60)
		apptest.RequireStatus(t, loginFrom(t, api, "203.0.113.10", "victim@example.com", "the victim's password"), 200)
		apptest.RequireStatus(t, loginFrom(t, api, "203.0.113.10", "VICTIM@example.com", "the victim's password"), 200)
	})
}

// TestIPv6ClientsCountByTheirSlash64: one IPv6 client holds a whole /64, so
// stepping through its addresses must not buy more guesses.
func TestIPv6ClientsCountByTheirSlash64(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"LOGIN_FAIL_LIMIT": "3", "AUTH_RATE_LIMIT": "1000", "TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP",
	})
	api := newAuthAPI(t, s)
	createAccount(t, s, "six@example.com", api.usePassword("the right password"))
	for i := range 3 {
		apptest.RequireProblem(t, loginFrom(t, api, fmt.Sprintf("2001:db8:1:2::%x", i+1), "six@example.com", "wrong"), 401)
	}
	requireRateLimited(t, loginFrom(t, api, "2001:db8:1:2:ffff::9", "six@example.com", "wrong"), 15*60)
	apptest.RequireProblem(t, loginFrom(t, api, "2001:db8:1:3::1", "six@example.com", "wrong"), 401)
}

// TestLoginFailuresAreReservedBeforeTheCheck reproduces 30 concurrent wrong
// logins from 3 addresses with a limit of 5, all of which had their
// password checked. The count is now reserved before the check, so a burst
// gets no more guesses than a sequence: at most 5 per address.
func TestLoginFailuresAreReservedBeforeTheCheck(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		// A generous query deadline: 15 password checks at once on a
		// loaded machine must not turn into 503s.
		s := apptest.Start(t, db, map[string]string{
			"LOGIN_FAIL_LIMIT": "5", "AUTH_RATE_LIMIT": "1000", "TRUSTED_PROXIES": "127.0.0.1", "PROXY_HEADER": "X-Real-IP",
			"DB_QUERY_TIMEOUT": "60s",
		})
		api := newAuthAPI(t, s)
		createAccount(t, s, "burst@example.com", api.usePassword("the right password"))
		statuses := make(chan int, 30)
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				ip := fmt.Sprintf("192.0.2.%d", i%3+1)
				statuses <- apptest.Do(t, s.URL, apptest.Request{Method: "POST", Path: "/api/v1/auth/login",
					Headers: map[string]string{"X-Real-IP": ip},
					Body:    map[string]any{"email": "burst@example.com", "password": fmt.Sprintf("guess %d", i)}}).Status
			})
		}
		wg.Wait()
		close(statuses)
		counts := map[int]int{}
		for status := range statuses {
			counts[status]++
		}
		if counts[401] != 15 || counts[429] != 15 {
			t.Fatalf("answers = %v, want 15 checked passwords (401) and 15 refused (429)", counts)
		}
	})
}

// TestLenientTokenClaimsAreRefused reproduces tokens the guard accepted:
// iat a year ahead, a crit header it does not understand (RFC 7515 4.1.11:
// must be rejected), exp as a string, and a frontend token valid until the
// year 3000 (or for longer than EXTERNAL_TOKEN_MAX_AGE).
func TestLenientTokenClaimsAreRefused(t *testing.T) {
	f := newGuardFixture(t, apptest.SQLite(t))
	year := 365 * 24 * time.Hour
	now := time.Now()
	critical := jwt.NewWithClaims(jwt.SigningMethodHS256, f.own())
	critical.Header["crit"] = []string{"urn:example:unknown"}
	criticalToken, err := critical.SignedString([]byte(apptest.JWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	own := func(claims jwt.MapClaims) string {
		return signWith(t, jwt.SigningMethodHS256, []byte(apptest.JWTSecret), claims)
	}
	refused := map[string]string{
		"iat a year ahead":             own(with(f.own(), "iat", now.Add(year).Unix())),
		"crit names an unknown header": criticalToken,
		"exp as a string":              own(with(f.own(), "exp", fmt.Sprint(now.Add(time.Minute).Unix()))),
		"iat as a string":              own(with(f.own(), "iat", fmt.Sprint(now.Unix()))),
		"frontend exp in the year 3000": f.ed.sign(t, with(f.frontend(), "exp",
			time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix())),
		"frontend token for 25 hours": apptest.SignHS256(t, apptest.BetterAuthSecret,
			with(frontendClaims("ba_long"), "exp", now.Add(25*time.Hour).Unix())),
		"frontend token without iat for 25 hours": apptest.SignHS256(t, apptest.BetterAuthSecret,
			with(with(frontendClaims("ba_long"), "iat", nil), "exp", now.Add(25*time.Hour).Unix())),
	}
	for name, token := range refused {
		t.Run(name, func(t *testing.T) {
			requireInvalidToken(t, f.api.me(t, token))
		})
	}
	accepted := map[string]string{
		"iat a few seconds ahead (clock skew)": own(with(f.own(), "iat", now.Add(5*time.Second).Unix())),
		"frontend token for 23 hours": apptest.SignHS256(t, apptest.BetterAuthSecret,
			with(frontendClaims("ba_day"), "exp", now.Add(23*time.Hour).Unix())),
	}
	for name, token := range accepted {
		t.Run(name, func(t *testing.T) {
			apptest.RequireStatus(t, f.api.me(t, token), 200)
		})
	}
}

// TestSessionsEnd reproduces a session kept alive forever: each refresh
// granted another REFRESH_TOKEN_TTL. A family now ends SESSION_MAX_AGE
// after the login that began it, however often it is refreshed.
func TestSessionsEnd(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"SESSION_MAX_AGE": "3s", "AUTH_RATE_LIMIT": "1000"})
		api := newAuthAPI(t, s)
		pair := api.register(t, "session@example.com", "a session password")
		deadline := time.Now().Add(3 * time.Second)
		token := pair.RefreshToken
		for time.Until(deadline) > time.Second {
			r := api.refresh(t, token)
			apptest.RequireStatus(t, r, 200)
			var next client.Session
			r.JSON(t, &next)
			token = next.RefreshToken
			time.Sleep(700 * time.Millisecond)
		}
		time.Sleep(time.Until(deadline) + 200*time.Millisecond)
		requireInvalidRefresh(t, api.refresh(t, token))
		apptest.RequireStatus(t, api.login(t, "session@example.com", "a session password"), 200)
	})
}

func requireInvalidRefresh(t testing.TB, r apptest.Response) {
	t.Helper()
	apptest.RequireProblem(t, r, 401)
}

// TestLookAlikeEmailsAreOneAccount reproduces accounts registered under
// emails that look the same: NFC and NFD forms, fullwidth letters, a
// zero-width space. Emails are now NFKC-normalised, and invisible
// characters refused.
func TestLookAlikeEmailsAreOneAccount(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		register := func(email string) apptest.Response {
			return api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
				Body: map[string]any{"email": email, "password": api.usePassword("a look-alike password")}})
		}
		apptest.RequireStatus(t, register("ren\u00e9e@example.com"), 201)   // é precomposed (NFC)
		apptest.RequireProblem(t, register("rene\u0301e@example.com"), 409) // e + combining acute (NFD)
		apptest.RequireStatus(t, register("victim@example.com"), 201)
		apptest.RequireProblem(t, register("\uff56ictim@example.com"), 409) // fullwidth v
		for _, invisible := range []string{"vic\u200btim@example.com", "victim\u200d@example.com", "\ufeffvictim@example.com", "vic\u00adtim@example.com"} {
			p := apptest.RequireProblem(t, register(invisible), 422)
			if !strings.Contains(fmt.Sprint(p["errors"]), "email") {
				t.Fatalf("invisible character: errors = %v, want one naming email", p["errors"])
			}
		}
		apptest.RequireStatus(t, api.login(t, "rene\u0301e@example.com", "a look-alike password"), 200)
		apptest.RequireStatus(t, api.login(t, "\uff56ictim@EXAMPLE.com", "a look-alike password"), 200)
		if n := count(t, s, "SELECT COUNT(*) FROM users"); n != 2 {
			t.Fatalf("%d accounts, want 2", n)
		}
	})
}

// TestAuthenticatedAnswersAreNotCached reproduces task and tag answers with
// no Cache-Control, which a shared cache between the app and its users may
// keep and serve to the next person.
func TestAuthenticatedAnswersAreNotCached(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), highLimit)
	api := newAuthAPI(t, s)
	token := api.register(t, "cache@example.com", "a cached password").AccessToken
	task := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/tasks", Token: token, Body: map[string]any{"title": "t"}})
	apptest.RequireStatus(t, task, 201)
	tag := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/tags", Token: token, Body: map[string]any{"name": "n"}})
	apptest.RequireStatus(t, tag, 201)
	taskPath, tagPath := "/api/v1/tasks/"+task.Map(t)["id"].(string), "/api/v1/tags/"+tag.Map(t)["id"].(string)
	for _, c := range []struct {
		method, path string
		status       int
		want         string
	}{
		{http.MethodGet, "/api/v1/tasks", 200, "no-store"},
		{http.MethodGet, taskPath, 200, "private, no-cache"},
		{http.MethodGet, "/api/v1/tags", 200, "no-store"},
		{http.MethodGet, tagPath, 200, "no-store"},
		{http.MethodGet, "/api/v1/auth/me", 200, "no-store"},
		{http.MethodGet, "/api/v1/tasks/00000000-0000-0000-0000-000000000000", 404, "no-store"},
		{http.MethodDelete, taskPath, 204, "no-store"},
	} {
		r := api.do(t, apptest.Request{Method: c.method, Path: c.path, Token: token})
		apptest.RequireStatus(t, r, c.status)
		if got := r.Header.Get("Cache-Control"); got != c.want {
			t.Errorf("%s %s: Cache-Control = %q, want %q", c.method, c.path, got, c.want)
		}
	}
	if task.Header.Get("Cache-Control") != "no-store" || tag.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("creates: Cache-Control = %q and %q, want no-store", task.Header.Get("Cache-Control"), tag.Header.Get("Cache-Control"))
	}
}
