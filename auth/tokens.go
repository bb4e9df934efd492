package auth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTokens signs this API's access tokens: HS256 with the API's
// secret, carrying iss, sub, iat, exp and auth_time.
type AccessTokens struct {
	Secret []byte
	Issuer string
	TTL    time.Duration
}

// accessClaims are the claims of this API's access tokens. auth_time is
// OpenID Connect's claim for when the user signed in: the start of the
// session the token belongs to, however often it was refreshed since.
// The guard compares a token cutoff with it, so a token of a session begun
// before a revocation is refused whenever it was issued (one issued by a
// refresh that was in flight as the revocation committed, say).
type accessClaims struct {
	jwt.RegisteredClaims
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
}

// Sign returns an access token for userID, valid for TTL from now, of a
// session that begins now.
func (a AccessTokens) Sign(userID string) (string, error) {
	return a.SignSession(userID, time.Now())
}

// SignSession returns an access token for userID, valid for TTL from now,
// of the session begun at sessionStart.
func (a AccessTokens) SignSession(userID string, sessionStart time.Time) (string, error) {
	now := time.Now()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.Issuer,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(a.TTL)),
		},
		AuthTime: jwt.NewNumericDate(sessionStart),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.Secret)
}

// Lifetime is how long a new access token is valid.
func (a AccessTokens) Lifetime() time.Duration { return a.TTL }
