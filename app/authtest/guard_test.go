package authtest_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
	"taskflow/models"
)

// betterAuthURL is the frontend's base URL in these tests: the iss and aud
// of its tokens.
const betterAuthURL = "https://auth.example.test"

// guardFixture is a server that accepts all three kinds of token, a local
// account, and the frontend's keys.
type guardFixture struct {
	s           *apptest.Server
	api         *authAPI
	jwks        *jwksServer
	ed, es, rs  signingKey
	localUserID string
}

func newGuardFixture(t *testing.T, db apptest.Database) *guardFixture {
	t.Helper()
	f := &guardFixture{ed: newEdDSAKey(t, "ed-1"), es: newES256Key(t, "es-1"), rs: newRS256Key(t, "rs-1")}
	f.jwks = newJWKSServer(t, f.ed, f.es, f.rs)
	f.s = apptest.Start(t, db, map[string]string{
		"AUTH_JWKS_URL": f.jwks.setURL(), "BETTER_AUTH_URL": betterAuthURL, "AUTH_RATE_LIMIT": "1000",
	})
	f.api = newAuthAPI(t, f.s)
	f.localUserID = f.api.register(t, "guarded@example.com", "a guarded password").User.ID
	return f
}

// external is the user_id of the frontend user sub in the fixture, whose
// frontend is betterAuthURL.
func external(sub string) string { return models.ExternalUserID(betterAuthURL, sub) }

// own returns claims of this API's access token for the local account.
func (f *guardFixture) own() jwt.MapClaims {
	c := frontendClaims(f.localUserID)
	c["iss"] = apptest.Issuer
	return c
}

// frontend returns claims of a Better Auth JWT-plugin token.
func (f *guardFixture) frontend() jwt.MapClaims {
	c := frontendClaims("ba_jwks_user")
	c["iss"], c["aud"], c["email"], c["name"] = betterAuthURL, betterAuthURL, "dana@example.com", "Dana"
	return c
}

// with returns a copy of claims with key set to value, or removed when
// value is nil.
func with(claims jwt.MapClaims, key string, value any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range claims {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

func signWith(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	signed, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return signed
}

// TestGuardRefuses presents one kind of bad token per case to GET /me:
// each is a 401 problem with an invalid_token challenge, and each would
// be accepted if its one defect were fixed (see TestGuardAccepts).
func TestGuardRefuses(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		f := newGuardFixture(t, db)
		past, future := time.Now().Add(-time.Hour).Unix(), time.Now().Add(time.Hour).Unix()
		jwtSecret, baSecret := []byte(apptest.JWTSecret), []byte(apptest.BetterAuthSecret)
		esPublic, err := x509.MarshalPKIXPublicKey(f.es.signer.Public().(*ecdsa.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		otherEd := newEdDSAKey(t, "ed-1") // same kid as the published key, other key

		cases := []struct {
			name  string
			token string
		}{
			{"not a JWT", "not-a-jwt"},
			{"two segments", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"},
			{"alg none, this API's claims", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, f.own())},
			{"alg none, frontend claims", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, f.frontend())},
			{"HS384 with this API's secret", signWith(t, jwt.SigningMethodHS384, jwtSecret, f.own())},
			{"HS512 with the shared secret", signWith(t, jwt.SigningMethodHS512, baSecret, frontendClaims("ba_user"))},
			{"HS256 keyed with a published public key", signWith(t, jwt.SigningMethodHS256, esPublic, f.frontend())},
			{"EdDSA naming the ES256 key", f.ed.signAs(t, f.es.kid, f.frontend())},
			{"ES256 naming the RSA key", f.es.signAs(t, f.rs.kid, f.frontend())},
			{"this API's issuer on an EdDSA token", f.ed.sign(t, with(f.frontend(), "iss", apptest.Issuer))},
			{"this API's token without exp", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "exp", nil))},
			{"this API's token expired", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "exp", past))},
			{"this API's token not valid yet", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "nbf", future))},
			{"this API's token with empty sub", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "sub", ""))},
			{"this API's token without sub", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "sub", nil))},
			{"this API's token with blank sub", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "sub", "   "))},
			{"this API's token with numeric sub", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "sub", 42))},
			{"this API's token with text exp", apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "exp", "tomorrow"))},
			{"this API's issuer, signed with the shared secret", apptest.SignHS256(t, apptest.BetterAuthSecret, f.own())},
			{"this API's token with a wrong secret", apptest.SignHS256(t, "another-secret-of-the-same-length-0123456", f.own())},
			{"shared-secret token signed with this API's secret", apptest.SignHS256(t, apptest.JWTSecret, frontendClaims("ba_user"))},
			{"shared-secret token without exp", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "exp", nil))},
			{"shared-secret token expired", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "exp", past))},
			{"shared-secret token with empty sub", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "sub", ""))},
			{"shared-secret token with a 256-character sub", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "sub", strings.Repeat("s", 256)))},
			{"shared-secret token of an unknown issuer", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "iss", "https://evil.example"))},
			{"shared-secret token for another audience", apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_user"), "aud", "https://evil.example"))},
			{"JWKS token without exp", f.ed.sign(t, with(f.frontend(), "exp", nil))},
			{"JWKS token expired", f.ed.sign(t, with(f.frontend(), "exp", past))},
			{"JWKS token not valid yet", f.es.sign(t, with(f.frontend(), "nbf", future))},
			{"JWKS token with empty sub", f.rs.sign(t, with(f.frontend(), "sub", ""))},
			{"JWKS token of another issuer", f.ed.sign(t, with(f.frontend(), "iss", "https://evil.example"))},
			{"JWKS token without iss", f.ed.sign(t, with(f.frontend(), "iss", nil))},
			{"JWKS token for another audience", f.ed.sign(t, with(f.frontend(), "aud", "https://evil.example"))},
			{"JWKS token without aud", f.es.sign(t, with(f.frontend(), "aud", nil))},
			{"JWKS token with a bad signature", otherEd.sign(t, f.frontend())},
			{"JWKS token with an unknown kid", otherEd.signAs(t, "not-published", f.frontend())},
			{"JWKS token with a tampered payload", tamper(t, f.ed.sign(t, f.frontend()))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				requireInvalidToken(t, f.api.me(t, tc.token))
			})
		}

		t.Run("no token", func(t *testing.T) {
			for _, header := range []string{"", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"} {
				r := f.api.do(t, apptest.Request{Method: "GET", Path: "/api/v1/auth/me", Headers: map[string]string{"Authorization": header}})
				apptest.RequireProblem(t, r, 401)
				if got := r.Header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Fatalf("Authorization %q: WWW-Authenticate = %q, want Bearer", header, got)
				}
			}
		})
	})
}

// tamper swaps the payload of token for one naming another subject,
// keeping the header and signature.
func tamper(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(payload), `"ba_jwks_user"`, `"someone_else"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	return strings.Join(parts, ".")
}

// TestGuardAccepts presents each kind of valid token to GET /me.
func TestGuardAccepts(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		f := newGuardFixture(t, db)
		big := with(frontendClaims("ba_big_user"), "picture", "")
		for pad := 5500; ; pad += 50 {
			big["picture"] = strings.Repeat("p", pad)
			if len(apptest.SignHS256(t, apptest.BetterAuthSecret, big)) >= 8*1024-100 {
				break
			}
		}
		bigToken := apptest.SignHS256(t, apptest.BetterAuthSecret, big)
		if len(bigToken) > 8*1024 {
			t.Fatalf("test token is %d bytes, want at most 8 KiB", len(bigToken))
		}

		cases := []struct {
			name, token, wantID, wantProvider, wantEmail string
		}{
			{"this API's token", apptest.Token(t, f.localUserID), f.localUserID, "local", "guarded@example.com"},
			{"shared-secret token without iss", apptest.SignHS256(t, apptest.BetterAuthSecret, frontendClaims("ba_user")), external("ba_user"), "external", ""},
			{"shared-secret token with the frontend's iss and aud",
				apptest.SignHS256(t, apptest.BetterAuthSecret, with(with(frontendClaims("ba_user"), "iss", betterAuthURL), "aud", betterAuthURL)),
				external("ba_user"), "external", ""},
			{"shared-secret token of almost 8 KiB", bigToken, external("ba_big_user"), "external", ""},
			{"JWKS EdDSA token", f.ed.sign(t, f.frontend()), external("ba_jwks_user"), "external", "dana@example.com"},
			{"JWKS ES256 token", f.es.sign(t, f.frontend()), external("ba_jwks_user"), "external", "dana@example.com"},
			{"JWKS RS256 token", f.rs.sign(t, f.frontend()), external("ba_jwks_user"), "external", "dana@example.com"},
			{"JWKS token with an audience list", f.ed.sign(t, with(f.frontend(), "aud", []string{"other", betterAuthURL})), external("ba_jwks_user"), "external", "dana@example.com"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := f.api.me(t, tc.token)
				apptest.RequireStatus(t, r, 200)
				me := r.Map(t)
				if me["id"] != tc.wantID || me["provider"] != tc.wantProvider {
					t.Fatalf("me = %v, want id %s, provider %s", me, tc.wantID, tc.wantProvider)
				}
				if tc.wantEmail != "" && me["email"] != tc.wantEmail {
					t.Fatalf("me.email = %v, want %s", me["email"], tc.wantEmail)
				}
			})
		}
	})
}

// TestJWKSUnknownKIDRefreshesOnce checks that a new kid is fetched on
// demand, and that unknown kids cannot make the server fetch the set more
// than once a minute.
func TestJWKSUnknownKIDRefreshesOnce(t *testing.T) {
	first := newEdDSAKey(t, "first")
	j := newJWKSServer(t, first)
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"AUTH_JWKS_URL": j.setURL()})
	api := newAuthAPI(t, s)
	waitForLog(t, s, "JSON Web Key Set loaded")
	claims := frontendClaims("ba_rotating_user")
	apptest.RequireStatus(t, api.me(t, first.sign(t, claims)), 200)
	fetched := j.fetches.Load()

	// A key published after start is fetched when its kid first shows up.
	rotated := newES256Key(t, "rotated")
	j.publish(rotated)
	apptest.RequireStatus(t, api.me(t, rotated.sign(t, claims)), 200)
	if got := j.fetches.Load(); got != fetched+1 {
		t.Fatalf("the new kid caused %d fetches, want 1", got-fetched)
	}

	// Within the minute, neither a key published since nor made-up kids
	// cause another fetch.
	later := newRS256Key(t, "later")
	j.publish(later)
	requireInvalidToken(t, api.me(t, later.sign(t, claims)))
	for _, kid := range []string{"made-up-1", "made-up-2", "made-up-3"} {
		requireInvalidToken(t, api.me(t, first.signAs(t, kid, claims)))
	}
	if got := j.fetches.Load(); got != fetched+1 {
		t.Fatalf("unknown kids caused %d more fetches within a minute, want none", got-fetched-1)
	}
	apptest.RequireStatus(t, api.me(t, rotated.sign(t, claims)), 200)
}

// TestJWKSDownAtStart starts the server while the key set cannot be
// fetched: it starts, serves its own tokens, and accepts the frontend's
// once the set is reachable.
func TestJWKSDownAtStart(t *testing.T) {
	key := newEdDSAKey(t, "k1")
	j := newJWKSServer(t, key)
	j.setDown(true)
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"AUTH_JWKS_URL": j.setURL(), "AUTH_RATE_LIMIT": "1000"})
	api := newAuthAPI(t, s)
	waitForLog(t, s, "cannot fetch the JSON Web Key Set")

	apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "GET", Path: "/health/live"}), 200)
	local := api.register(t, "while-down@example.com", "jwks is down")
	apptest.RequireStatus(t, api.me(t, local.AccessToken), 200)

	j.setDown(false)
	r := api.me(t, key.sign(t, frontendClaims("ba_patient_user")))
	apptest.RequireStatus(t, r, 200)
	if me := r.Map(t); me["id"] != models.ExternalUserID("", "ba_patient_user") || me["provider"] != "external" {
		t.Fatalf("me = %v, want the frontend user", me)
	}
}

// waitForLog waits up to 10 seconds for the server to log message.
func waitForLog(t testing.TB, s *apptest.Server, message string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.Logs(), message) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q; logs:\n%s", message, s.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGuardRechecksARememberedToken: the guard remembers tokens it
// verified with a secret, and still refuses one that has expired since,
// or that its user revoked since, however often it was accepted before.
func TestGuardRechecksARememberedToken(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		f := newGuardFixture(t, db)
		exp := time.Now().Add(2 * time.Second).Unix()
		own := apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "exp", exp))
		shared := apptest.SignHS256(t, apptest.BetterAuthSecret, with(frontendClaims("ba_short_lived"), "exp", exp))
		for _, token := range []string{own, shared, own, shared} {
			if r := f.api.me(t, token); r.Status != 200 {
				t.Fatalf("before exp: status %d, want 200: %s", r.Status, r.Body)
			}
		}
		time.Sleep(time.Until(time.Unix(exp, 0)) + 50*time.Millisecond)
		for name, token := range map[string]string{"this API's": own, "shared-secret": shared} {
			r := f.api.me(t, token)
			if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Errorf("%s token after exp: status %d (%s), want 401 invalid_token: %s", name, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
			}
		}

		token := apptest.SignHS256(t, apptest.JWTSecret, with(f.own(), "iat", time.Now().Add(-time.Minute).Unix()))
		if r := f.api.me(t, token); r.Status != 200 {
			t.Fatalf("fresh token: status %d, want 200: %s", r.Status, r.Body)
		}
		if r := f.api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: token}); r.Status != 204 {
			t.Fatalf("logout-all: status %d, want 204: %s", r.Status, r.Body)
		}
		if r := f.api.me(t, token); r.Status != 401 {
			t.Fatalf("a remembered token after logout-all: status %d, want 401: %s", r.Status, r.Body)
		}
	})
}
