package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// validate returns every problem with the configuration, each naming its
// variable. Values are never quoted: some are secrets.
func (c Config) validate() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch c.Environment {
	case Development, Test, Production:
	default:
		add("ENVIRONMENT: must be development, test or production")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("LOG_LEVEL: must be debug, info, warn or error")
	}
	// Slices, not maps, so problems are always listed in the same order.
	for _, port := range []struct {
		name  string
		value int
	}{{"API_PORT", c.APIPort}, {"PORT", c.Port}} {
		if port.value < 0 || port.value > 65535 {
			add("%s: must be a port number from 0 to 65535", port.name)
		}
	}
	problems = append(problems, c.validateLimits()...)
	problems = append(problems, c.validateURLs()...)
	for _, origin := range c.CORSOrigins {
		if msg := originProblem(origin, c.IsProduction()); msg != "" {
			add("CORS_ORIGINS: %s", msg)
		}
	}
	for _, proxy := range c.TrustedProxies {
		if !isIPOrCIDR(proxy) {
			add("TRUSTED_PROXIES: each entry must be an IP address or a CIDR range")
			break
		}
	}
	if c.IsProduction() {
		problems = append(problems, c.validateProduction()...)
		problems = append(problems, c.validateOperationSecrets()...)
	}
	return problems
}

// validateOperationSecrets checks, in production, the optional secrets of
// operations: the metrics token and the secrets being rotated out. Each
// one set must be as long as the required secrets; a previous secret
// needs its current one; and no secret of one issuer may be a secret of
// the other, or a holder of the frontend's secret could sign this API's
// tokens.
func (c Config) validateOperationSecrets() []string {
	var problems []string
	for _, secret := range []struct {
		name  string
		value Secret
	}{
		{"JWT_SECRET_KEY_PREVIOUS", c.JWTSecretKeyPrevious},
		{"BETTER_AUTH_SECRET_PREVIOUS", c.BetterAuthSecretPrevious},
		{"METRICS_TOKEN", c.MetricsToken},
	} {
		switch {
		case secret.value == "":
		case len(secret.value) < MinSecretLength:
			problems = append(problems, fmt.Sprintf("%s: must be at least %d characters", secret.name, MinSecretLength))
		case isWeakSecret(secret.value.Reveal()):
			problems = append(problems, weakSecretProblem(secret.name))
		}
	}
	if c.BetterAuthSecretPrevious != "" && c.BetterAuthSecret == "" {
		problems = append(problems, "BETTER_AUTH_SECRET_PREVIOUS: needs BETTER_AUTH_SECRET, the secret that replaces it")
	}
	// BETTER_AUTH_SECRET against JWT_SECRET_KEY is the production check's;
	// these are the pairs a previous secret adds.
	for _, pair := range []struct {
		frontend, own           string
		frontendValue, ownValue Secret
	}{
		{"BETTER_AUTH_SECRET", "JWT_SECRET_KEY_PREVIOUS", c.BetterAuthSecret, c.JWTSecretKeyPrevious},
		{"BETTER_AUTH_SECRET_PREVIOUS", "JWT_SECRET_KEY", c.BetterAuthSecretPrevious, c.JWTSecretKey},
		{"BETTER_AUTH_SECRET_PREVIOUS", "JWT_SECRET_KEY_PREVIOUS", c.BetterAuthSecretPrevious, c.JWTSecretKeyPrevious},
	} {
		if pair.frontendValue != "" && pair.frontendValue == pair.ownValue {
			problems = append(problems, pair.frontend+": must differ from "+pair.own)
		}
	}
	return problems
}

func (c Config) validateLimits() []string {
	var problems []string
	positive := []struct {
		name  string
		value int64
	}{
		{"DB_MAX_OPEN_CONNS", int64(c.DBMaxOpenConns)},
		{"DB_QUERY_TIMEOUT", int64(c.DBQueryTimeout)},
		{"HEALTH_TIMEOUT", int64(c.HealthTimeout)},
		{"DB_USER_QUEUE_TIMEOUT", int64(c.DBUserQueueTimeout)},
		{"ACCESS_TOKEN_TTL", int64(c.AccessTokenTTL)},
		{"REFRESH_TOKEN_TTL", int64(c.RefreshTokenTTL)},
		{"EXTERNAL_TOKEN_MAX_AGE", int64(c.ExternalTokenMaxAge)},
		{"SESSION_MAX_AGE", int64(c.SessionMaxAge)},
		{"AUTH_RATE_LIMIT", int64(c.AuthRateLimit)},
		{"LOGIN_FAIL_LIMIT", int64(c.LoginFailLimit)},
		{"SEARCH_RATE_LIMIT", int64(c.SearchRateLimit)},
		{"BODY_LIMIT", int64(c.BodyLimit)},
		{"READ_TIMEOUT", int64(c.ReadTimeout)},
		{"WRITE_TIMEOUT", int64(c.WriteTimeout)},
		{"IDLE_TIMEOUT", int64(c.IdleTimeout)},
		{"SHUTDOWN_TIMEOUT", int64(c.ShutdownTimeout)},
		{"MAX_TASKS_PER_USER", int64(c.MaxTasksPerUser)},
		{"MAX_TAGS_PER_USER", int64(c.MaxTagsPerUser)},
		{"MAX_PROJECTS_PER_USER", int64(c.MaxProjectsPerUser)},
		{"MAX_EVENTS_PER_USER", int64(c.MaxEventsPerUser)},
		{"MAX_ANSWERS_PER_USER", int64(c.MaxAnswersPerUser)},
		{"MAX_TOMBSTONES_PER_USER", int64(c.MaxTombstonesPerUser)},
	}
	for _, p := range positive {
		if p.value <= 0 {
			problems = append(problems, p.name+": must be greater than zero")
		}
	}
	if c.RefreshReuseInterval < 0 || c.RefreshReuseInterval > time.Minute {
		problems = append(problems, "REFRESH_REUSE_INTERVAL: must be from 0 to 1m")
	}
	if c.EventsPingInterval <= 0 || c.EventsPingInterval > 15*time.Second {
		problems = append(problems, "EVENTS_PING_INTERVAL: must be greater than zero and at most 15s")
	}
	if c.DBMaxIdleConns < 0 || c.DBMaxIdleConns > c.DBMaxOpenConns {
		problems = append(problems, "DB_MAX_IDLE_CONNS: must be from 0 to DB_MAX_OPEN_CONNS")
	}
	if c.DBMinIdleConns < 0 || c.DBMinIdleConns > c.DBMaxIdleConns {
		problems = append(problems, "DB_MIN_IDLE_CONNS: must be from 0 to DB_MAX_IDLE_CONNS")
	}
	return problems
}

func (c Config) validateURLs() []string {
	var problems []string
	if c.DatabaseURL != "" && databaseScheme(c.DatabaseURL.Reveal()) == "" {
		problems = append(problems, "DATABASE_URL: must start with postgres://, postgresql://, sqlite:// or file:")
	}
	if c.DirectDatabaseURL != "" && !IsPostgresURL(c.DirectDatabaseURL.Reveal()) {
		problems = append(problems, "DIRECT_DATABASE_URL: must be a postgres:// or postgresql:// URL")
	}
	for _, setting := range []struct{ name, raw string }{
		{"AUTH_JWKS_URL", c.AuthJWKSURL}, {"BETTER_AUTH_URL", c.BetterAuthURL},
	} {
		if setting.raw == "" {
			continue
		}
		u, err := url.Parse(setting.raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, setting.name+": must be an http:// or https:// URL")
		} else if c.IsProduction() && u.Scheme != "https" {
			problems = append(problems, setting.name+": must use https:// in production")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(string(c.RedisURL))
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			problems = append(problems, "REDIS_URL: must be a redis:// or rediss:// URL")
		}
	}
	return problems
}

func (c Config) validateProduction() []string {
	var problems []string
	switch {
	case c.DatabaseURL == "":
		problems = append(problems, "DATABASE_URL: required in production (a postgres:// URL)")
	case databaseScheme(c.DatabaseURL.Reveal()) == "sqlite": // an unknown scheme is reported by validateURLs
		problems = append(problems, "DATABASE_URL: must be a postgres:// or postgresql:// URL in production")
	}
	problems = append(problems, c.validateProductionSecrets()...)
	if c.AuthJWKSURL != "" && c.BetterAuthURL == "" {
		// Without it any iss and aud pass: a token the key set signed for
		// another application would be accepted here.
		problems = append(problems, "BETTER_AUTH_URL: required in production when AUTH_JWKS_URL is set (JWKS tokens' iss and aud are checked against it)")
	}
	problems = append(problems, c.validateProductionLifetimes()...)
	if len(c.CORSOrigins) == 0 {
		problems = append(problems, "CORS_ORIGINS: required in production (the frontend's https:// origins, comma-separated)")
	}
	for _, proxy := range c.TrustedProxies {
		if isTooWideProxyRange(proxy) {
			problems = append(problems, "TRUSTED_PROXIES: a range wider than /8 (IPv4) or /7 (IPv6) would let any client choose its own address")
			break
		}
	}
	if c.Debug {
		problems = append(problems, "DEBUG: must not be true in production")
	}
	return problems
}

// validateProductionSecrets checks the secrets production must have: set,
// long, not guessable, and not one secret used for two purposes.
func (c Config) validateProductionSecrets() []string {
	var problems []string
	switch {
	case c.JWTSecretKey == "":
		problems = append(problems, "JWT_SECRET_KEY: required in production")
	case len(c.JWTSecretKey) < MinSecretLength:
		problems = append(problems, fmt.Sprintf("JWT_SECRET_KEY: must be at least %d characters", MinSecretLength))
	case isWeakSecret(c.JWTSecretKey.Reveal()):
		problems = append(problems, weakSecretProblem("JWT_SECRET_KEY"))
	}
	switch {
	case c.BetterAuthSecret == "" && c.AuthJWKSURL == "":
		problems = append(problems, "BETTER_AUTH_SECRET: required in production unless AUTH_JWKS_URL is set")
	case c.BetterAuthSecret == "":
	case len(c.BetterAuthSecret) < MinSecretLength:
		problems = append(problems, fmt.Sprintf("BETTER_AUTH_SECRET: must be at least %d characters", MinSecretLength))
	case isWeakSecret(c.BetterAuthSecret.Reveal()):
		problems = append(problems, weakSecretProblem("BETTER_AUTH_SECRET"))
	case c.BetterAuthSecret == c.JWTSecretKey:
		// With one key for both, anyone holding the frontend's secret
		// (every Next.js deployment has it) could mint this API's tokens.
		problems = append(problems, "BETTER_AUTH_SECRET: must differ from JWT_SECRET_KEY")
	}
	return problems
}

// The longest lifetimes production accepts. A stolen token or session
// works until it ends or its user revokes it, which a user who does not
// know of the theft never does: a long lifetime is a long window.
const (
	// MaxProductionAccessTokenTTL bounds this API's access tokens, which
	// nothing but a revocation by their user recalls.
	MaxProductionAccessTokenTTL = time.Hour
	// MaxProductionExternalTokenMaxAge bounds a frontend token's exp - iat
	// (Better Auth's JWT plugin issues 15-minute tokens).
	MaxProductionExternalTokenMaxAge = 7 * 24 * time.Hour
	// MaxProductionSessionMaxAge bounds a login session, however often it
	// is refreshed.
	MaxProductionSessionMaxAge = 365 * 24 * time.Hour
)

// validateProductionLifetimes checks the lifetimes production caps.
func (c Config) validateProductionLifetimes() []string {
	var problems []string
	for _, lifetime := range []struct {
		name       string
		value, max time.Duration
	}{
		{"ACCESS_TOKEN_TTL", c.AccessTokenTTL, MaxProductionAccessTokenTTL},
		{"EXTERNAL_TOKEN_MAX_AGE", c.ExternalTokenMaxAge, MaxProductionExternalTokenMaxAge},
		{"SESSION_MAX_AGE", c.SessionMaxAge, MaxProductionSessionMaxAge},
	} {
		if lifetime.value > lifetime.max {
			problems = append(problems, fmt.Sprintf("%s: must be at most %s in production", lifetime.name, formatLifetime(lifetime.max)))
		}
	}
	return problems
}

// formatLifetime writes d as the variables are written ("1h", "168h"),
// with the days of a lifetime counted in days ("168h (7 days)").
func formatLifetime(d time.Duration) string {
	const day = 24 * time.Hour
	hours := strings.TrimSuffix(d.String(), "0m0s")
	if d >= 2*day && d%day == 0 {
		return fmt.Sprintf("%s (%d days)", hours, d/day)
	}
	return hours
}

// minSecretDistinct is the fewest different characters a production secret
// may have: a random 32-character hex or base64 string has about 14 to 25,
// a typed placeholder ("aaaa…", "changeme…") far fewer.
const minSecretDistinct = 10

func weakSecretProblem(name string) string {
	return name + ": looks typed rather than random (too few different characters, or a repeated pattern); generate one with openssl rand -hex 32"
}

// isWeakSecret reports a secret that is long enough but could be guessed:
// too few distinct characters, or one short pattern repeated.
func isWeakSecret(secret string) bool {
	distinct := map[rune]bool{}
	for _, r := range secret {
		distinct[r] = true
	}
	return len(distinct) < minSecretDistinct || hasShortPeriod(secret)
}

// hasShortPeriod reports whether s is a repetition of a prefix at most half
// its length ("abcdefghij" four times over).
func hasShortPeriod(s string) bool {
	for period := 1; period <= len(s)/2; period++ {
		if strings.Repeat(s[:period], len(s)/period+1)[:len(s)] == s {
			return true
		}
	}
	return false
}

// isTooWideProxyRange reports a TRUSTED_PROXIES entry so wide that it must
// include clients, not only proxies: shorter than /8 for IPv4 (the largest
// private block) or /7 for IPv6 (the whole unique-local range).
func isTooWideProxyRange(entry string) bool {
	prefix, err := netip.ParsePrefix(entry)
	if err != nil {
		return false // a single address, or reported as malformed already
	}
	if prefix.Addr().Is4() || prefix.Addr().Is4In6() {
		bits := prefix.Bits()
		if prefix.Addr().Is4In6() {
			bits -= 96
		}
		return bits < 8
	}
	return prefix.Bits() < 7
}

// originProblem says what is wrong with one CORS origin, or "" when it is fine.
func originProblem(origin string, production bool) string {
	if origin == "*" {
		return "* is not allowed: list each origin"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "each entry must be an origin such as https://app.example.com (scheme, host and optional port)"
	}
	if strings.Contains(u.Host, "*") {
		return "wildcards are not allowed: list each origin"
	}
	if !production {
		return ""
	}
	if u.Scheme != "https" {
		return "every origin must use https:// in production"
	}
	if isLoopbackHost(u.Hostname()) {
		return "localhost and loopback addresses are not allowed in production"
	}
	return ""
}

func isLoopbackHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}

func isIPOrCIDR(s string) bool {
	if _, _, err := net.ParseCIDR(s); err == nil {
		return true
	}
	return net.ParseIP(s) != nil
}

// IsPostgresURL reports whether url names a PostgreSQL database.
func IsPostgresURL(url string) bool { return databaseScheme(url) == "postgres" }

func databaseScheme(url string) string {
	lower := strings.ToLower(url)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return "postgres"
	case strings.HasPrefix(lower, "sqlite://"), strings.HasPrefix(lower, "file:"):
		return "sqlite"
	}
	return ""
}
