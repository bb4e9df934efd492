package auth

import (
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
)

// verifiedTokensMax bounds the tokens remembered; when full the cache
// starts afresh. A token with its claims takes about 1.5 KB, so the cache
// stays under 2 MB.
const verifiedTokensMax = 1024

// verifiedTokens remembers the tokens that passed verification by one of
// the configured secrets, keyed by the token's exact text, so that the
// next request bearing the same token skips parsing it and checking its
// HMAC again (base64, JSON and SHA-256: about a sixth of the server's CPU
// on a list request once the database's part was cut). Only what cannot
// change while the process runs is skipped: the token's bytes, its
// signature under secrets fixed at start-up, and claims checks that do not
// depend on the clock. Its expiry and not-before are checked again at each
// use, and everything after verification (the external lifetime cap and
// the revocation cutoff) runs on every request as before. Tokens verified
// by a key of the JWKS are not remembered: a key can leave the set.
type verifiedTokens struct {
	mu      sync.RWMutex
	entries map[string]*jwt.Token
}

func newVerifiedTokens() *verifiedTokens {
	return &verifiedTokens{entries: make(map[string]*jwt.Token)}
}

// get returns the verified token whose text is raw, if it is remembered
// and still within its validity at now.
func (v *verifiedTokens) get(raw string, now time.Time) (*jwt.Token, bool) {
	if raw == "" {
		return nil, false
	}
	v.mu.RLock()
	token, ok := v.entries[raw]
	v.mu.RUnlock()
	if !ok {
		return nil, false
	}
	claims := token.Claims.(*tokenClaims)
	if !now.Before(claims.ExpiresAt.Time) || (claims.NotBefore != nil && now.Before(claims.NotBefore.Time)) {
		v.mu.Lock()
		delete(v.entries, raw)
		v.mu.Unlock()
		return nil, false
	}
	return token, true
}

// put remembers token, which the JWT library has just verified, if a
// configured secret verified it.
func (v *verifiedTokens) put(token *jwt.Token) {
	claims, ok := token.Claims.(*tokenClaims)
	if !ok || (claims.kind != kindOwn && claims.kind != kindSharedHMAC) || claims.ExpiresAt == nil || token.Raw == "" {
		return
	}
	v.mu.Lock()
	if len(v.entries) >= verifiedTokensMax {
		clear(v.entries)
	}
	v.entries[token.Raw] = token
	v.mu.Unlock()
}

// bearerToken is the token of an "Authorization: Bearer <token>" header,
// or "" for any other header. A header this reads differently from the JWT
// middleware only misses the cache: the middleware then decides.
func bearerToken(c *fiber.Ctx) string {
	header := c.Get(fiber.HeaderAuthorization)
	const scheme = "Bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return ""
	}
	return strings.TrimSpace(header[len(scheme):])
}
