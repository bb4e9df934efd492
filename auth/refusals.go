package auth

import (
	"errors"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/golang-jwt/jwt/v5"
)

// Why the guard refuses a token: a small fixed set, fit for a metric's label.
const (
	ReasonMissing      = "missing"      // no bearer token
	ReasonMalformed    = "malformed"    // not a JWT
	ReasonUnverifiable = "unverifiable" // no key for its issuer or algorithm
	ReasonSignature    = "signature"    // the signature does not verify
	ReasonExpired      = "expired"      // past its exp
	ReasonClaims       = "claims"       // another claim is wrong (nbf, sub, iss, aud...)
)

// RefusalReasons lists every reason Refused may be told.
var RefusalReasons = []string{ReasonMissing, ReasonMalformed, ReasonUnverifiable, ReasonSignature, ReasonExpired, ReasonClaims}

// refusalReason names which check err failed. The JWT library wraps a key
// function's error in ErrTokenUnverifiable.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, jwtware.ErrJWTMissingOrMalformed):
		return ReasonMissing
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return ReasonUnverifiable
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ReasonSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	}
	return ReasonClaims
}
