package authtest_test

import (
	"net/http"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
)

// Secrets of the rotation: the tokens of the first deployment are signed
// with the old ones.
const (
	oldJWTSecret        = "old-jwt-secret-0123456789abcdef0123456789"
	newJWTSecret        = "new-jwt-secret-0123456789abcdef0123456789"
	oldBetterAuthSecret = "old-better-auth-secret-0123456789abcdef01"
	newBetterAuthSecret = "new-better-auth-secret-0123456789abcdef01"
)

// A rotation as an operator runs it, one deployment after another on the
// same database: the old secrets; the new ones with the old as
// _PREVIOUS; the new ones alone. Tokens of the old secrets keep working
// through the middle deployment, which signs with the new secret only,
// and are refused once the previous secrets are removed.
func TestSecretRotation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		before := newAuthAPI(t, apptest.Start(t, db, map[string]string{
			"JWT_SECRET_KEY": oldJWTSecret, "BETTER_AUTH_SECRET": oldBetterAuthSecret,
		}))
		oldSession := before.register(t, "rotation@example.com", "correct horse battery")
		requireSignedWith(t, oldSession.AccessToken, oldJWTSecret)
		oldFrontend := apptest.SignHS256(t, oldBetterAuthSecret, frontendClaims("frontend-user"))

		during := newAuthAPI(t, apptest.Start(t, db, map[string]string{
			"JWT_SECRET_KEY": newJWTSecret, "JWT_SECRET_KEY_PREVIOUS": oldJWTSecret,
			"BETTER_AUTH_SECRET": newBetterAuthSecret, "BETTER_AUTH_SECRET_PREVIOUS": oldBetterAuthSecret,
		}))
		apptest.RequireStatus(t, during.me(t, oldSession.AccessToken), http.StatusOK)
		apptest.RequireStatus(t, during.do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: oldFrontend}), http.StatusOK)
		newFrontend := apptest.SignHS256(t, newBetterAuthSecret, frontendClaims("frontend-user"))
		apptest.RequireStatus(t, during.do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: newFrontend}), http.StatusOK)
		login := during.login(t, "rotation@example.com", "correct horse battery")
		apptest.RequireStatus(t, login, http.StatusOK)
		newToken, _ := login.Map(t)["access_token"].(string)
		requireSignedWith(t, newToken, newJWTSecret)
		refreshed := during.refresh(t, oldSession.RefreshToken)
		apptest.RequireStatus(t, refreshed, http.StatusOK)
		requireSignedWith(t, refreshed.Map(t)["access_token"].(string), newJWTSecret)

		// A previous secret still belongs to its issuer only: the old
		// frontend secret does not sign this API's tokens, nor the old
		// API secret the frontend's.
		crossed := apptest.SignHS256(t, oldBetterAuthSecret, ownClaims(oldSession.User.ID))
		requireInvalidToken(t, during.me(t, crossed))
		crossed = apptest.SignHS256(t, oldJWTSecret, frontendClaims("frontend-user"))
		requireInvalidToken(t, during.do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: crossed}))

		after := newAuthAPI(t, apptest.Start(t, db, map[string]string{
			"JWT_SECRET_KEY": newJWTSecret, "BETTER_AUTH_SECRET": newBetterAuthSecret,
		}))
		requireInvalidToken(t, after.me(t, oldSession.AccessToken))
		requireInvalidToken(t, after.do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: oldFrontend}))
		apptest.RequireStatus(t, after.me(t, newToken), http.StatusOK)
		apptest.RequireStatus(t, after.do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: newFrontend}), http.StatusOK)
	})
}

// ownClaims are the claims of one of this API's access tokens for sub.
func ownClaims(sub string) jwt.MapClaims {
	claims := frontendClaims(sub)
	claims["iss"] = apptest.Issuer
	return claims
}

// requireSignedWith asserts token verifies with secret.
func requireSignedWith(t testing.TB, token, secret string) {
	t.Helper()
	_, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("token is not signed with the expected secret: %v", err)
	}
}
