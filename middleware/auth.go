package middleware

import (
	"errors"
	"fmt"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"taskflow/models"
)

const callerKey = "caller"

// AuthConfig holds the keys the guard accepts tokens from.
type AuthConfig struct {
	// JWTSecret signs this API's own HS256 access tokens; Issuer is their iss.
	JWTSecret []byte
	Issuer    string
}

// tokenClaims is the claims type the guard parses into. Its Validate is
// called by the JWT library after the standard time checks, and adds what
// the library leaves optional: exp and a non-empty sub are required.
type tokenClaims struct {
	jwt.RegisteredClaims
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

func (c tokenClaims) Validate() error {
	if c.ExpiresAt == nil {
		return errors.New("token has no exp")
	}
	if c.Subject == "" {
		return errors.New("token has no sub")
	}
	return nil
}

// Auth is the guard on every authenticated route: it accepts this API's own
// HS256 tokens, puts the caller in the request's locals, and turns every
// failure into a 401 for the error handler.
func Auth(cfg AuthConfig) fiber.Handler {
	return jwtware.New(jwtware.Config{
		Claims:     &tokenClaims{},
		KeyFunc:    ownKeyFunc(cfg),
		ContextKey: "token",
		SuccessHandler: func(c *fiber.Ctx) error {
			token, _ := c.Locals("token").(*jwt.Token)
			claims, ok := token.Claims.(*tokenClaims)
			if !ok {
				return unauthorized("invalid_token", "the token could not be read")
			}
			c.Locals(callerKey, models.Caller{UserID: claims.Subject, Provider: models.ProviderLocal, Email: claims.Email, Name: claims.Name})
			return c.Next()
		},
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			if errors.Is(err, jwtware.ErrJWTMissingOrMalformed) {
				return unauthorized("", "a bearer token is required")
			}
			return unauthorized("invalid_token", "the token is invalid or expired")
		},
	})
}

// ownKeyFunc accepts only HS256 tokens with this API's issuer.
func ownKeyFunc(cfg AuthConfig) jwt.Keyfunc {
	return func(token *jwt.Token) (any, error) {
		if token.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", token.Header["alg"])
		}
		claims, ok := token.Claims.(*tokenClaims)
		if !ok || claims.Issuer != cfg.Issuer {
			return nil, errors.New("unknown issuer")
		}
		return cfg.JWTSecret, nil
	}
}

// AuthError is a 401 with the WWW-Authenticate challenge to send with it.
type AuthError struct {
	Err       *models.Error
	Challenge string
}

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

func unauthorized(errorCode, message string) error {
	challenge := "Bearer"
	if errorCode != "" {
		challenge = fmt.Sprintf(`Bearer error=%q`, errorCode)
	}
	return &AuthError{Err: models.Errorf(models.CodeUnauthorized, "%s", message), Challenge: challenge}
}

// CallerFrom returns the authenticated caller the guard stored. Handlers
// behind the guard always have one; ok is false only on unguarded routes.
func CallerFrom(c *fiber.Ctx) (models.Caller, bool) {
	caller, ok := c.Locals(callerKey).(models.Caller)
	return caller, ok
}
