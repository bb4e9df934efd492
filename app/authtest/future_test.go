package authtest_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
)

// TestTokensFromTheFutureDoNotOutliveLogoutAll reproduces frontend tokens
// that survived a logout-all because their iat claimed a time after it:
// one stamped 50 s ahead (which the guard accepted, allowing a minute of
// clock skew) and one stamped 4 s ahead, within the guard's leeway. Now
// the first is refused outright, and no token minted before the
// logout-all works after it, not even once its iat has been reached. The
// frontend's next token, minted as soon as logout-all answered, works.
func TestTokensFromTheFutureDoNotOutliveLogoutAll(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		f := newGuardFixture(t, db)
		signers := map[string]func(*testing.T, jwt.MapClaims) string{
			"shared secret": func(t *testing.T, c jwt.MapClaims) string { return apptest.SignHS256(t, apptest.BetterAuthSecret, c) },
			"JWKS":          func(t *testing.T, c jwt.MapClaims) string { return f.ed.sign(t, c) },
		}
		for name, sign := range signers {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				api := newAuthAPI(t, f.s) // one per subtest: an authAPI is not safe for concurrent use
				sub := "ba_future_" + randomSuffix(t)
				issuedAt := func(iat time.Time) string {
					c := with(f.frontend(), "sub", sub)
					c["iat"], c["exp"] = iat.Unix(), iat.Add(10*time.Minute).Unix()
					return sign(t, c)
				}
				now := time.Now()
				current, ahead, farAhead := issuedAt(now), issuedAt(now.Add(4*time.Second)), issuedAt(now.Add(50*time.Second))
				requireStatus(t, "a current token", api.me(t, current), 200)
				requireStatus(t, "a token 4 s ahead (clock skew)", api.me(t, ahead), 200)
				requireStatus(t, "a token 50 s ahead", api.me(t, farAhead), 401)

				apptest.RequireStatus(t, api.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/logout-all", Token: current}), 204)
				requireStatus(t, "the frontend's next token", api.me(t, issuedAt(time.Now())), 200)
				requireStatus(t, "the current token after logout-all", api.me(t, current), 401)
				requireStatus(t, "the token 4 s ahead after logout-all", api.me(t, ahead), 401)
				requireStatus(t, "the token 50 s ahead after logout-all", api.me(t, farAhead), 401)

				time.Sleep(time.Until(now.Add(5 * time.Second)))
				requireStatus(t, "the token 4 s ahead once its iat is reached", api.me(t, ahead), 401)
			})
		}
	})
}

// requireStatus reports, without stopping the test, an answer whose
// status is not status; what names the request.
func requireStatus(t *testing.T, what string, r apptest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
}
