package verify

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// tokenLifetime is long enough for any run and short enough that a token
// that leaks from one is soon worthless.
const tokenLifetime = 10 * time.Minute

// ownToken mints an access token as the API issues them: HS256, iss.
func ownToken(secret, issuer, subject string) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": subject, "iss": issuer, "iat": now.Unix(), "exp": now.Add(tokenLifetime).Unix(),
	}).SignedString([]byte(secret))
}

// externalToken mints a token as the frontend signs them with the shared
// BETTER_AUTH_SECRET: HS256, no iss.
func externalToken(secret, subject string) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": subject, "name": "taskflow verify", "iat": now.Unix(), "exp": now.Add(tokenLifetime).Unix(),
	}).SignedString([]byte(secret))
}

// forgedToken is a well-formed token of the API's kind signed with a random
// key the server cannot know.
func forgedToken(issuer string) (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return ownToken(string(key), issuer, syntheticSubject())
}

// unsignedToken is a token that claims "alg":"none" and has no signature.
func unsignedToken(issuer string) string {
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"sub": syntheticSubject(), "iss": issuer, "exp": time.Now().Add(tokenLifetime).Unix(),
	})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "."
}

// syntheticSubject names a user that exists only for one run.
func syntheticSubject() string { return "verify-" + uuid.NewString() }
