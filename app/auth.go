package app

import (
	"time"

	"github.com/gofiber/fiber/v2"
	redisstorage "github.com/gofiber/storage/redis/v3"

	"taskflow/auth"
	"taskflow/database"
	"taskflow/middleware"
	"taskflow/routes"
)

// Auth rate limits. AUTH_RATE_LIMIT counts register attempts, and login
// attempts, per client IP per minute; refresh and logout, which carry no
// password to guess, share tokenLimitFactor times as many. LOGIN_FAIL_LIMIT failed logins
// for one email lock it for the rest of loginFailureWindow.
const (
	authRateWindow     = time.Minute
	tokenLimitFactor   = 6
	loginFailureWindow = 15 * time.Minute
)

// mountAuth registers /auth and returns the guard that every authenticated
// group takes as its first handler, and the revocations it honours.
func mountAuth(app *fiber.App, api fiber.Router, d Deps, tokens routes.RefreshTokenStore) (fiber.Handler, *auth.Revocations) {
	cfg := d.Config
	guardConfig := authConfig(app, d)
	guard := auth.Guard(guardConfig)
	limits := rateLimitStorage(d)
	routes.Auth(api.Group("/auth"), routes.AuthDeps{
		Users:  database.NewUsers(d.DB),
		Tokens: tokens,
		AccessTokens: auth.AccessTokens{
			Secret: []byte(cfg.JWTSecretKey.Reveal()), Issuer: cfg.JWTIssuer, TTL: cfg.AccessTokenTTL,
		},
		Failures:      auth.NewLoginThrottle(d.Redis, cfg.LoginFailLimit, loginFailureWindow, d.Logger),
		Validate:      routes.NewValidator(),
		Guard:         guard,
		Revocations:   guardConfig.Revocations,
		RegisterLimit: middleware.RateLimit("register", cfg.AuthRateLimit, authRateWindow, limits, d.Metrics.RateLimited),
		LoginLimit:    middleware.RateLimit("login", cfg.AuthRateLimit, authRateWindow, limits, d.Metrics.RateLimited),
		TokenLimit:    middleware.RateLimit("token", cfg.AuthRateLimit*tokenLimitFactor, authRateWindow, limits, d.Metrics.RateLimited),
	})
	return guard, guardConfig.Revocations
}

// rateLimitStorage keeps the rate limiters' counters in Redis, or, without
// it, nil: each limiter counts in this process's memory.
func rateLimitStorage(d Deps) fiber.Storage {
	if d.Redis == nil {
		return nil
	}
	return redisstorage.NewFromConnection(d.Redis)
}

// authConfig gathers the keys the guard accepts: this API's secret, the
// frontend's shared secret, and, when AUTH_JWKS_URL is set, the frontend's
// key set, fetched in the background from now until the app shuts down.
func authConfig(app *fiber.App, d Deps) auth.Config {
	cfg := d.Config
	ac := auth.Config{
		JWTSecret:        []byte(cfg.JWTSecretKey.Reveal()),
		Issuer:           cfg.JWTIssuer,
		BetterAuthSecret: []byte(cfg.BetterAuthSecret.Reveal()),
		BetterAuthURL:    cfg.BetterAuthURL,
		Logger:           d.Logger,
		Revocations:      d.Revocations,
		Refused:          d.Metrics.AuthFailed,

		JWTSecretPrevious:        []byte(cfg.JWTSecretKeyPrevious.Reveal()),
		BetterAuthSecretPrevious: []byte(cfg.BetterAuthSecretPrevious.Reveal()),
		ExternalTokenMaxAge:      cfg.ExternalTokenMaxAge,
	}
	if ac.Revocations == nil {
		ac.Revocations = auth.NewRevocations(database.NewCutoffs(d.DB), d.Logger)
	}
	d.Metrics.AuthFailureReasons(auth.RefusalReasons...)
	if cfg.AuthJWKSURL != "" {
		jwks := auth.NewJWKS(auth.JWKSConfig{URL: cfg.AuthJWKSURL, Logger: d.Logger})
		jwks.Start()
		app.Hooks().OnShutdown(func() error {
			jwks.Close()
			return nil
		})
		ac.JWKS = jwks
	}
	return ac
}
