package auth

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AccessTokens signs this API's access tokens: HS256 with the API's
// secret, carrying iss, sub, iat and exp.
type AccessTokens struct {
	Secret []byte
	Issuer string
	TTL    time.Duration
}

// Sign returns an access token for userID, valid for TTL from now.
func (a AccessTokens) Sign(userID string) (string, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Issuer:    a.Issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(a.TTL)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.Secret)
}

// Lifetime is how long a new access token is valid.
func (a AccessTokens) Lifetime() time.Duration { return a.TTL }
