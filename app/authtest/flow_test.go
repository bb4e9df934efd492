package authtest_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
	"taskflow/client"
	"taskflow/models"
)

// highLimit lifts the auth rate limits for tests that are not about them.
var highLimit = map[string]string{"AUTH_RATE_LIMIT": "1000", "LOGIN_FAIL_LIMIT": "1000"}

// strictRotation is highLimit with no reuse interval: any second use of a
// refresh token is reuse, as it is after the interval.
var strictRotation = map[string]string{"AUTH_RATE_LIMIT": "1000", "LOGIN_FAIL_LIMIT": "1000", "REFRESH_REUSE_INTERVAL": "0s"}

// TestAuthFlow walks an account through its whole life: register, me,
// refresh, reuse of a spent refresh token, login, logout, and deletion
// with everything it owns.
func TestAuthFlow(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, strictRotation)
		api := newAuthAPI(t, s)
		password := api.usePassword("correct horse battery")

		// Register: the email is trimmed and lower-cased.
		r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
			Body: map[string]any{"email": "  Ada@Example.COM ", "password": password, "name": " Ada Lovelace "}})
		apptest.RequireStatus(t, r, 201)
		body := r.Map(t)
		requireKeys(t, body, "user", "access_token", "refresh_token", "token_type", "expires_in")
		requireKeys(t, body["user"].(map[string]any), "id", "email", "name", "created_at")
		var reg client.Session
		r.JSON(t, &reg)
		requireUUIDv7(t, reg.User.ID)
		createdAt := userCreatedAt(t, r)
		requireUTCTime(t, createdAt)
		if reg.User.Email != "ada@example.com" || reg.User.Name == nil || *reg.User.Name != "Ada Lovelace" {
			t.Fatalf("user = %+v, want ada@example.com named Ada Lovelace", reg.User)
		}
		if reg.TokenType != "bearer" || reg.ExpiresIn != 900 {
			t.Fatalf("token_type, expires_in = %q, %d; want bearer, 900", reg.TokenType, reg.ExpiresIn)
		}
		requireRefreshTokenShape(t, reg.RefreshToken)
		requireAccessToken(t, reg.AccessToken, reg.User.ID)
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Fatalf("Cache-Control = %q, want no-store", got)
		}

		// Me.
		r = api.me(t, reg.AccessToken)
		apptest.RequireStatus(t, r, 200)
		me := r.Map(t)
		requireKeys(t, me, "id", "email", "name", "created_at", "provider")
		if me["id"] != reg.User.ID || me["email"] != "ada@example.com" || me["name"] != "Ada Lovelace" ||
			me["created_at"] != createdAt || me["provider"] != "local" {
			t.Fatalf("me = %v, want the registered user with provider local (created_at %s)", me, createdAt)
		}

		// Refresh: a new pair; the old refresh token is spent.
		r = api.refresh(t, reg.RefreshToken)
		apptest.RequireStatus(t, r, 200)
		var second client.Session
		r.JSON(t, &second)
		if second.RefreshToken == reg.RefreshToken || second.User.ID != reg.User.ID || userCreatedAt(t, r) != createdAt {
			t.Fatalf("refresh gave %+v, want a new refresh token for the same user", second)
		}
		requireAccessToken(t, second.AccessToken, reg.User.ID)

		// Reuse of the spent token fails and revokes its family: the newest
		// token of the family fails too.
		apptest.RequireProblem(t, api.refresh(t, reg.RefreshToken), 401)
		apptest.RequireProblem(t, api.refresh(t, second.RefreshToken), 401)

		// Login (any case) starts a new family; logout ends it.
		r = api.login(t, "ADA@example.com", password)
		apptest.RequireStatus(t, r, 200)
		var third client.Session
		r.JSON(t, &third)
		r = api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout", Body: map[string]any{"refresh_token": third.RefreshToken}})
		apptest.RequireStatus(t, r, 204)
		if len(r.Body) != 0 {
			t.Fatalf("logout body = %q, want none", r.Body)
		}
		apptest.RequireProblem(t, api.refresh(t, third.RefreshToken), 401)
		for _, token := range []string{third.RefreshToken, "never-issued"} {
			r = api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout", Body: map[string]any{"refresh_token": token}})
			apptest.RequireStatus(t, r, 204)
		}

		// Delete the account: its data goes, another user's stays.
		r = api.login(t, "ada@example.com", password)
		apptest.RequireStatus(t, r, 200)
		var fourth client.Session
		r.JSON(t, &fourth)
		bob := api.register(t, "bob@example.com", "bob's password")
		ada := seedData(t, s, reg.User.ID)
		bobs := seedData(t, s, bob.User.ID)
		r = api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: fourth.AccessToken})
		apptest.RequireStatus(t, r, 204)
		for table, n := range ownedRows(t, s, ada) {
			if n != 0 {
				t.Errorf("%s still holds %d rows of the deleted account", table, n)
			}
		}
		for table, n := range ownedRows(t, s, bobs) {
			if n == 0 {
				t.Errorf("%s lost the other user's rows", table)
			}
		}

		// The access token is still unexpired, but its account is gone.
		requireInvalidToken(t, api.me(t, fourth.AccessToken))
		requireInvalidToken(t, api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: fourth.AccessToken}))
		apptest.RequireProblem(t, api.refresh(t, fourth.RefreshToken), 401)
		apptest.RequireProblem(t, api.login(t, "ada@example.com", password), 401)
	})
}

// requireRefreshTokenShape asserts token is 256 bits of base64url.
func requireRefreshTokenShape(t testing.TB, token string) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("refresh token %q is not 32 bytes of base64url", token)
	}
}

// requireAccessToken asserts token is one of this API's access tokens for sub.
func requireAccessToken(t testing.TB, token, sub string) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(apptest.JWTSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(apptest.Issuer), jwt.WithSubject(sub),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || !parsed.Valid {
		t.Fatalf("access token does not verify: %v", err)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) != 15*time.Minute {
		t.Fatalf("access token lives from %v to %v, want 15 minutes", iat, exp)
	}
}

// TestConcurrentRefresh presents one refresh token many times at once,
// with no reuse interval: exactly one request wins.
func TestConcurrentRefresh(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, strictRotation)
		api := newAuthAPI(t, s)
		pair := api.register(t, "racer@example.com", "a racing password")
		const racers = 8
		statuses := make([]int, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				statuses[i] = s.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/refresh",
					Body: map[string]any{"refresh_token": pair.RefreshToken}}).Status
			})
		}
		wg.Wait()
		won := 0
		for _, status := range statuses {
			switch status {
			case 200:
				won++
			case 401:
			default:
				t.Fatalf("a concurrent refresh got %d, want 200 or 401 (all: %v); logs:\n%s", status, statuses, s.Logs())
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent refreshes of one token succeeded, want exactly 1 (all: %v)", won, statuses)
		}
	})
}

// TestRegisterValidation checks what register refuses, and the edges it
// accepts.
func TestRegisterValidation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		api.register(t, "taken@example.com", "a fine password")

		invalid := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"no email", map[string]any{"password": "a fine password"}, "email"},
			{"blank email", map[string]any{"email": "   ", "password": "a fine password"}, "email"},
			{"no at sign", map[string]any{"email": "ada.example.com", "password": "a fine password"}, "email"},
			{"no domain", map[string]any{"email": "ada@", "password": "a fine password"}, "email"},
			{"two at signs", map[string]any{"email": "ada@@example.com", "password": "a fine password"}, "email"},
			{"space inside", map[string]any{"email": "ada lovelace@example.com", "password": "a fine password"}, "email"},
			{"too long", map[string]any{"email": strings.Repeat("a", 250) + "@example.com", "password": "a fine password"}, "email"},
			{"no password", map[string]any{"email": "new@example.com"}, "password"},
			{"7-byte password", map[string]any{"email": "new@example.com", "password": "1234567"}, "password"},
			{"73-byte password", map[string]any{"email": "new@example.com", "password": strings.Repeat("p", 73)}, "password"},
			{"25 three-byte characters", map[string]any{"email": "new@example.com", "password": strings.Repeat("€", 25)}, "password"},
			{"101-character name", map[string]any{"email": "new@example.com", "password": "a fine password", "name": strings.Repeat("n", 101)}, "name"},
		}
		for _, tc := range invalid {
			t.Run(tc.name, func(t *testing.T) {
				if pw, ok := tc.body["password"].(string); ok {
					api.usePassword(pw)
				}
				r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register", Body: tc.body})
				p := apptest.RequireProblem(t, r, 422)
				fields, _ := p["errors"].([]any)
				if len(fields) != 1 || fields[0].(map[string]any)["field"] != tc.field {
					t.Fatalf("errors = %v, want one for %q", p["errors"], tc.field)
				}
			})
		}

		accepted := []struct{ name, email, password, wantName string }{
			{"72-byte password", "seventy-two@example.com", strings.Repeat("p", 72), ""},
			{"24 three-byte characters", "euro@example.com", strings.Repeat("€", 24), ""},
			{"8-byte password", "eight@example.com", "12345678", ""},
			{"100-character name", "named@example.com", "a fine password", strings.Repeat("n", 100)},
		}
		for _, tc := range accepted {
			t.Run(tc.name, func(t *testing.T) {
				body := map[string]any{"email": tc.email, "password": api.usePassword(tc.password)}
				if tc.wantName != "" {
					body["name"] = tc.wantName
				}
				r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register", Body: body})
				apptest.RequireStatus(t, r, 201)
				apptest.RequireStatus(t, api.login(t, tc.email, tc.password), 200)
			})
		}

		t.Run("blank name is no name", func(t *testing.T) {
			r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
				Body: map[string]any{"email": "blank-name@example.com", "password": api.usePassword("a fine password"), "name": "  "}})
			apptest.RequireStatus(t, r, 201)
			if user := r.Map(t)["user"].(map[string]any); user["name"] != nil {
				t.Fatalf("name = %v, want null", user["name"])
			}
		})

		t.Run("duplicate email in another case", func(t *testing.T) {
			r := api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
				Body: map[string]any{"email": " TAKEN@Example.com", "password": "another password"}})
			apptest.RequireProblem(t, r, 409)
			if n := count(t, s, "SELECT COUNT(*) FROM users WHERE email = ?", "taken@example.com"); n != 1 {
				t.Fatalf("%d accounts with the email, want 1", n)
			}
		})

		malformed := []struct {
			name        string
			path        string
			body        string
			contentType string
			status      int
		}{
			{"register: broken JSON", "/api/v1/auth/register", `{"email": "a@example.com",`, "application/json", 400},
			{"register: not an object", "/api/v1/auth/register", `["a@example.com"]`, "application/json", 400},
			{"register: form body", "/api/v1/auth/register", "email=a%40example.com&password=12345678", "application/x-www-form-urlencoded", 415},
			{"register: no content type", "/api/v1/auth/register", `{"email":"a@example.com","password":"12345678"}`, "", 415},
			{"register: email is a number", "/api/v1/auth/register", `{"email": 42, "password": "12345678"}`, "application/json", 422},
			{"login: broken JSON", "/api/v1/auth/login", `{"email"`, "application/json", 400},
			{"login: text body", "/api/v1/auth/login", "hello", "text/plain", 415},
			{"login: missing password", "/api/v1/auth/login", `{"email":"taken@example.com"}`, "application/json", 422},
			{"refresh: broken JSON", "/api/v1/auth/refresh", `{`, "application/json", 400},
			{"refresh: text body", "/api/v1/auth/refresh", "token", "text/plain", 415},
			{"refresh: missing token", "/api/v1/auth/refresh", `{}`, "application/json", 422},
			{"logout: missing token", "/api/v1/auth/logout", `{}`, "application/json", 422},
		}
		for _, tc := range malformed {
			t.Run(tc.name, func(t *testing.T) {
				headers := map[string]string{"Content-Type": tc.contentType}
				r := api.do(t, apptest.Request{Method: "POST", Path: tc.path, Body: tc.body, Headers: headers})
				apptest.RequireProblem(t, r, tc.status)
			})
		}
	})
}

// TestLoginFailuresLookAlike checks that an unknown email and a wrong
// password get the same answer.
func TestLoginFailuresLookAlike(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)
		api.register(t, "known@example.com", "the right password")
		wrongPassword := api.login(t, "known@example.com", "the wrong password")
		unknownEmail := api.login(t, "unknown@example.com", "the wrong password")
		for _, r := range []apptest.Response{wrongPassword, unknownEmail} {
			p := apptest.RequireProblem(t, r, 401)
			delete(p, "request_id")
			if p["detail"] != "invalid email or password" {
				t.Fatalf("detail = %v, want invalid email or password", p["detail"])
			}
		}
		a, b := wrongPassword.Map(t), unknownEmail.Map(t)
		delete(a, "request_id")
		delete(b, "request_id")
		if len(a) != len(b) || a["type"] != b["type"] || a["title"] != b["title"] || a["detail"] != b["detail"] {
			t.Fatalf("wrong password gives %v, unknown email %v: want the same", a, b)
		}
		if wrongPassword.Header.Get("WWW-Authenticate") != unknownEmail.Header.Get("WWW-Authenticate") {
			t.Fatal("the two failures carry different WWW-Authenticate headers")
		}
	})
}

// TestExternalCaller checks me and delete for a frontend user, who has no
// account here: deleting erases its data and revokes its tokens, and the
// frontend's next token is a new, empty account.
func TestExternalCaller(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, highLimit)
		api := newAuthAPI(t, s)

		withProfile := frontendClaims("ba_user_1")
		withProfile["email"], withProfile["name"] = "carol@example.com", "Carol"
		r := api.me(t, apptest.SignHS256(t, apptest.BetterAuthSecret, withProfile))
		apptest.RequireStatus(t, r, 200)
		me := r.Map(t)
		requireKeys(t, me, "id", "email", "name", "created_at", "provider")
		if me["id"] != models.ExternalUserID("", "ba_user_1") || me["email"] != "carol@example.com" || me["name"] != "Carol" ||
			me["created_at"] != nil || me["provider"] != "external" {
			t.Fatalf("me = %v, want ba_user_1 carol@example.com Carol, no created_at, external", me)
		}

		bare := apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims("ba_user_2"))
		r = api.me(t, bare)
		apptest.RequireStatus(t, r, 200)
		me = r.Map(t)
		if me["id"] != models.ExternalUserID("", "ba_user_2") || me["email"] != nil || me["name"] != nil || me["provider"] != "external" {
			t.Fatalf("me = %v, want ba_user_2 with null email and name", me)
		}

		mine, theirs := seedData(t, s, models.ExternalUserID("", "ba_user_2")), seedData(t, s, models.ExternalUserID("", "ba_user_1"))
		r = api.do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: bare})
		apptest.RequireStatus(t, r, 204)
		for table, n := range ownedRows(t, s, mine) {
			if n != 0 {
				t.Errorf("%s still holds %d rows of the external user", table, n)
			}
		}
		if rows := ownedRows(t, s, theirs); rows["tasks"] != 2 || rows["tags"] != 2 || rows["task_tags"] != 2 {
			t.Errorf("the other external user's rows changed: %v", rows)
		}
		requireInvalidToken(t, api.me(t, bare)) // its account is gone
		apptest.RequireStatus(t, api.me(t, apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims("ba_user_2"))), 200)
	})
}
