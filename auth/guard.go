// Package auth decides who a request comes from: the guard on the
// authenticated routes, which verifies bearer tokens (this API's own, and
// the frontend's, by shared secret or by a key of its JSON Web Key Set);
// the signer of this API's access tokens; and the throttle on failed
// logins. The guard is a Fiber handler, which is why this package imports
// Fiber.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"taskflow/middleware"
	"taskflow/models"
)

const (
	callerKey = "caller"
	tokenKey  = "token"
)

// maxSubjectLength is the longest sub accepted: it becomes the user_id of
// tasks and tags, a 255-character column.
const maxSubjectLength = 255

// jwksLookupTimeout bounds the key set refresh an unknown kid may trigger
// while its request waits.
const jwksLookupTimeout = 5 * time.Second

// Config holds the keys the guard accepts tokens from. Each key accepts
// the algorithms of its kind only: HS256 for the secrets, the one a key of
// the JWKS publishes (or, when it publishes none, those of its type).
type Config struct {
	// JWTSecret signs this API's own HS256 access tokens; Issuer is their iss.
	JWTSecret []byte
	Issuer    string
	// BetterAuthSecret, when set, verifies HS256 tokens of the frontend
	// (the shared-secret setup).
	BetterAuthSecret []byte
	// JWTSecretPrevious and BetterAuthSecretPrevious, when set, are the
	// secrets being rotated out: tokens they signed are still accepted,
	// for the same issuer as the current secret only.
	JWTSecretPrevious        []byte
	BetterAuthSecretPrevious []byte
	// BetterAuthURL, when set, is the iss and aud that frontend tokens
	// must carry (for shared-secret tokens: iss and aud when present).
	BetterAuthURL string
	// JWKS, when set, verifies the frontend's EdDSA, ECDSA and RSA tokens.
	JWKS *JWKS
	// ExternalTokenMaxAge caps a frontend token's lifetime (exp - iat, or
	// exp - now without iat); zero means no cap.
	ExternalTokenMaxAge time.Duration
	// Logger receives the reason a token was refused, at debug level.
	Logger *slog.Logger
	// Revocations, when set, refuses tokens issued before their user's
	// cutoff (account deleted, password changed, logged out everywhere).
	Revocations *Revocations
	// Refused, when set, is told which of RefusalReasons each refusal was
	// (the metrics count them).
	Refused func(reason string)
}

// tokenKind says which of the accepted issuers a token claims to come from;
// it picks the one key (and so the one algorithm) that may verify it.
type tokenKind int

const (
	kindOwn        tokenKind = iota + 1 // this API's HS256 access token
	kindSharedHMAC                      // frontend HS256 token, BETTER_AUTH_SECRET
	kindJWKS                            // frontend token signed by a key of the JWKS
)

// tokenClaims is the claims type the guard parses into. Its Validate is
// called by the JWT library after its own time checks (exp and nbf when
// present) and adds what the library leaves optional: exp and a non-empty
// sub are required, and iat may not lie ahead.
//
// The time claims shadow RegisteredClaims' own with strictDate, because
// the library's NumericDate also reads a number written as a string, which
// RFC 7519 (4.1.4, a NumericDate is a JSON number) does not allow.
type tokenClaims struct {
	jwt.RegisteredClaims
	ExpiresAt *strictDate `json:"exp,omitempty"`
	NotBefore *strictDate `json:"nbf,omitempty"`
	IssuedAt  *strictDate `json:"iat,omitempty"`
	// AuthTime is when the session of one of this API's tokens began (see
	// AccessTokens.SignSession); the frontend's tokens' is ignored.
	AuthTime *strictDate `json:"auth_time,omitempty"`
	Email    string      `json:"email,omitempty"`
	Name     string      `json:"name,omitempty"`

	kind tokenKind // set by the key function: who verified the token
}

// strictDate is a NumericDate that must be a JSON number.
type strictDate struct{ jwt.NumericDate }

func (d *strictDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' {
		return errors.New("a date claim must be a JSON number")
	}
	return d.NumericDate.UnmarshalJSON(b)
}

func (d *strictDate) numeric() *jwt.NumericDate {
	if d == nil {
		return nil
	}
	return &d.NumericDate
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return c.ExpiresAt.numeric(), nil
}
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore.numeric(), nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)  { return c.IssuedAt.numeric(), nil }

// revocationTime is what a token cutoff is compared with: for this API's
// own tokens the start of their session (auth_time), so that every token
// of a session begun before a revocation is refused, whenever it was
// issued; for the frontend's tokens, and own tokens issued before
// auth_time was added, iat (nil without one).
func (c *tokenClaims) revocationTime() *time.Time {
	at := c.IssuedAt
	if c.kind == kindOwn && c.AuthTime != nil {
		at = c.AuthTime
	}
	if at == nil {
		return nil
	}
	t := at.Time
	return &t
}

func (c *tokenClaims) Validate() error {
	if c.ExpiresAt == nil {
		return errors.New("token has no exp")
	}
	// The issuer's clock may run a little fast, but a token "issued" further
	// in the future was minted to outlive its stated lifetime, or a cutoff
	// (see models.TokenCutoff, whose leeway is this bound).
	if c.IssuedAt != nil && c.IssuedAt.After(time.Now().Add(models.TokenClockSkew)) {
		return errors.New("token is issued in the future")
	}
	if strings.TrimSpace(c.Subject) == "" {
		return errors.New("token has no sub")
	}
	if len(c.Subject) > maxSubjectLength {
		return errors.New("token sub is too long")
	}
	if strings.ContainsRune(c.Subject, 0) {
		return errors.New("token sub contains NUL") // it could never be stored as a user_id
	}
	return nil
}

// Guard is the guard on every authenticated route. It accepts this API's
// own tokens and, when configured, the frontend's (shared-secret HS256 or
// signed by a key of its JWKS); it puts the caller in the request's locals
// and turns every failure into a 401 for the error handler.
//
// An HS256 token is verified with exactly one secret, chosen by its iss:
// iss equal to Issuer means this API's token (JWT_SECRET_KEY); any other
// iss, or none, means a frontend token (BETTER_AUTH_SECRET), accepted only
// if that secret is set and, when BetterAuthURL is set, the iss is absent
// or equal to it. So a token is never tried against both secrets, and a
// frontend token cannot pass as a local one without the API's own secret.
func Guard(cfg Config) fiber.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Refused == nil {
		cfg.Refused = func(string) {}
	}
	g := guard{cfg: cfg, verified: newVerifiedTokens()}
	verify := jwtware.New(jwtware.Config{
		Claims:         &tokenClaims{},
		KeyFunc:        g.keyFunc,
		ContextKey:     tokenKey,
		SuccessHandler: g.verifiedNow,
		ErrorHandler:   g.failure,
	})
	return func(c *fiber.Ctx) error {
		if token, ok := g.verified.get(bearerToken(c), time.Now()); ok {
			c.Locals(tokenKey, token)
			return g.success(c)
		}
		return verify(c)
	}
}

type guard struct {
	cfg      Config
	verified *verifiedTokens
}

// verifiedNow is the JWT middleware's success: the token it has just
// verified is remembered (see verifiedTokens), then handled as every
// verified token is.
func (g guard) verifiedNow(c *fiber.Ctx) error {
	if token, ok := c.Locals(tokenKey).(*jwt.Token); ok && token != nil {
		g.verified.put(token)
	}
	return g.success(c)
}

// keyFunc returns the one key that may verify token, after checking that
// the token's algorithm is that key's algorithm and that its iss (and aud)
// are what that issuer uses. The JWT library verifies the signature with
// the key afterwards, and only then the claims.
func (g guard) keyFunc(token *jwt.Token) (any, error) {
	claims, ok := token.Claims.(*tokenClaims)
	if !ok {
		return nil, errors.New("unexpected claims type")
	}
	alg, _ := token.Header["alg"].(string)
	if token.Method == nil || token.Method.Alg() != alg {
		return nil, errors.New("missing or unknown alg")
	}
	if _, critical := token.Header["crit"]; critical {
		// RFC 7515, 4.1.11: a token whose crit names an extension the
		// recipient does not understand must be rejected; this guard
		// understands none.
		return nil, errors.New("crit names extensions this server does not understand")
	}
	if alg == jwt.SigningMethodHS256.Alg() {
		return g.hmacKey(claims)
	}
	if g.cfg.JWKS == nil || !isJWKSAlg(alg) {
		return nil, fmt.Errorf("algorithm %q is not accepted", alg)
	}
	if err := g.checkFrontendIssuer(claims, true); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), jwksLookupTimeout)
	defer cancel()
	key, err := g.cfg.JWKS.key(ctx, token)
	if err != nil {
		return nil, err
	}
	claims.kind = kindJWKS
	return key, nil
}

// hmacKey picks the secret of an HS256 token by its iss (see Guard).
func (g guard) hmacKey(claims *tokenClaims) (any, error) {
	if claims.Issuer == g.cfg.Issuer {
		if len(g.cfg.JWTSecret) == 0 {
			return nil, errors.New("no secret for this API's tokens")
		}
		claims.kind = kindOwn
		return rotating(g.cfg.JWTSecret, g.cfg.JWTSecretPrevious), nil
	}
	if len(g.cfg.BetterAuthSecret) == 0 {
		return nil, errors.New("unknown issuer")
	}
	if err := g.checkFrontendIssuer(claims, false); err != nil {
		return nil, err
	}
	claims.kind = kindSharedHMAC
	return rotating(g.cfg.BetterAuthSecret, g.cfg.BetterAuthSecretPrevious), nil
}

// rotating is the key of one issuer: its current secret, or while a
// secret is rotated out, the set of both, which the JWT library tries in
// order (current first).
func rotating(current, previous []byte) any {
	if len(previous) == 0 {
		return current
	}
	return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{current, previous}}
}

// checkFrontendIssuer checks iss and aud against BetterAuthURL when it is
// set. Better Auth's JWT plugin always sets both (strict); a shared-secret
// token may leave them out, but what it does carry must match.
func (g guard) checkFrontendIssuer(claims *tokenClaims, strict bool) error {
	want := g.cfg.BetterAuthURL
	if want == "" {
		return nil
	}
	if claims.Issuer != "" || strict {
		if strings.TrimRight(claims.Issuer, "/") != want {
			return errors.New("unknown issuer")
		}
	}
	if len(claims.Audience) > 0 || strict {
		for _, aud := range claims.Audience {
			if strings.TrimRight(aud, "/") == want {
				return nil
			}
		}
		return errors.New("token is not meant for this audience")
	}
	return nil
}

func (g guard) success(c *fiber.Ctx) error {
	token, _ := c.Locals(tokenKey).(*jwt.Token)
	if token == nil {
		return unauthorized("invalid_token", "the token could not be read")
	}
	claims, ok := token.Claims.(*tokenClaims)
	if !ok || claims.kind == 0 {
		return unauthorized("invalid_token", "the token could not be read")
	}
	caller := models.Caller{UserID: claims.Subject, Provider: models.ProviderLocal, Email: claims.Email, Name: claims.Name}
	if claims.kind != kindOwn {
		if err := g.checkExternalLifetime(claims); err != nil {
			return g.failure(c, err)
		}
		caller.Provider = models.ProviderExternal
		caller.UserID = models.ExternalUserID(g.frontendIssuer(claims), claims.Subject)
	}
	if err := g.checkNotRevoked(c, caller.UserID, claims.revocationTime()); err != nil {
		return err
	}
	c.Locals(callerKey, caller)
	return c.Next()
}

// checkExternalLifetime refuses a frontend token meant to live longer than
// ExternalTokenMaxAge: a token minted for years outlives every revocation.
func (g guard) checkExternalLifetime(claims *tokenClaims) error {
	if g.cfg.ExternalTokenMaxAge <= 0 {
		return nil
	}
	from := time.Now()
	if claims.IssuedAt != nil {
		from = claims.IssuedAt.Time
	}
	if claims.ExpiresAt.Sub(from) > g.cfg.ExternalTokenMaxAge {
		return fmt.Errorf("token lives longer than %s", g.cfg.ExternalTokenMaxAge)
	}
	return nil
}

// checkNotRevoked refuses a verified token that its user's cutoff has
// revoked since it was issued (since its session began, for this API's
// own: see tokenClaims.revocationTime). The cutoff comes from an
// in-process cache; an error reading it (the database is down on a cache
// miss) fails the request rather than letting the token through.
func (g guard) checkNotRevoked(c *fiber.Ctx, userID string, issued *time.Time) error {
	if g.cfg.Revocations == nil {
		return nil
	}
	cutoff, err := g.cfg.Revocations.Cutoff(c.UserContext(), userID)
	if err != nil {
		return err
	}
	if cutoff.Refuses(issued) {
		return unauthorized("invalid_token", "the token has been revoked")
	}
	return nil
}

// frontendIssuer is the issuer an external user's id is derived from:
// BetterAuthURL when set (then every frontend token's iss is it, or
// absent), else the token's own iss.
func (g guard) frontendIssuer(claims *tokenClaims) string {
	if g.cfg.BetterAuthURL != "" {
		return g.cfg.BetterAuthURL
	}
	return strings.TrimRight(claims.Issuer, "/")
}

func (g guard) failure(c *fiber.Ctx, err error) error {
	g.cfg.Refused(refusalReason(err))
	if errors.Is(err, jwtware.ErrJWTMissingOrMalformed) {
		return unauthorized("", "a bearer token is required")
	}
	g.cfg.Logger.DebugContext(c.UserContext(), "token refused", "request_id", middleware.RequestIDFrom(c), "reason", err.Error())
	return unauthorized("invalid_token", "the token is invalid or expired")
}

// InvalidToken is the 401 for a token that verified but can no longer be
// honoured (its account is gone).
func InvalidToken(message string) error { return unauthorized("invalid_token", message) }

// unauthorized is a 401 with its Bearer challenge (RFC 6750), naming
// errorCode when there is one.
func unauthorized(errorCode, message string) error {
	challenge := "Bearer"
	if errorCode != "" {
		challenge = fmt.Sprintf(`Bearer error=%q`, errorCode)
	}
	return models.WithHeaders(models.Errorf(models.CodeUnauthorized, "%s", message),
		map[string]string{fiber.HeaderWWWAuthenticate: challenge})
}

// CallerFrom returns the authenticated caller the guard stored. Handlers
// behind the guard always have one; ok is false only on unguarded routes.
func CallerFrom(c *fiber.Ctx) (models.Caller, bool) {
	caller, ok := c.Locals(callerKey).(models.Caller)
	return caller, ok
}

// TokenLifetime returns the instant token cutoffs are compared with for
// the request's verified token (when its session began, for this API's
// own tokens; else its iat; nil without either) and when it expires. ok is
// false on unguarded routes. A long-lived answer (the change feed) ends
// when its token expires, or when a cutoff refuses that instant.
func TokenLifetime(c *fiber.Ctx) (issuedAt *time.Time, expiresAt time.Time, ok bool) {
	token, _ := c.Locals(tokenKey).(*jwt.Token)
	if token == nil {
		return nil, time.Time{}, false
	}
	claims, ok := token.Claims.(*tokenClaims)
	if !ok || claims.ExpiresAt == nil {
		return nil, time.Time{}, false
	}
	return claims.revocationTime(), claims.ExpiresAt.Time, true
}
