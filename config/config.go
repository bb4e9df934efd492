// Package config loads TaskFlow's settings from the environment and checks
// them before anything starts. It is the only package that reads variables.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Environments TaskFlow knows.
const (
	Development = "development"
	Test        = "test"
	Production  = "production"
)

// MinSecretLength is the shortest secret accepted in production (256 bits of
// base64 or hex text is longer; 32 characters is the floor).
const MinSecretLength = 32

// Secret is a string that never prints its value, so a secret cannot reach
// a log line or an error message by accident.
type Secret string

func (Secret) String() string                 { return "[redacted]" }
func (Secret) GoString() string               { return "[redacted]" }
func (Secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s Secret) Reveal() string               { return string(s) }
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Config is every setting of the service. Field tags name the variable and
// its default; .env.example documents each one.
type Config struct {
	Environment string `env:"ENVIRONMENT" envDefault:"development"`
	Debug       bool   `env:"DEBUG"`
	LogLevel    string `env:"LOG_LEVEL" envDefault:"info"`

	APIHost string `env:"API_HOST" envDefault:"0.0.0.0"`
	APIPort int    `env:"API_PORT" envDefault:"8000"`
	// Port is set by hosting platforms such as Railway and wins over APIPort.
	Port int `env:"PORT"`

	// DatabaseURL is a Secret: a PostgreSQL URL carries the password.
	DatabaseURL Secret `env:"DATABASE_URL"`
	// DirectDatabaseURL, when set, is what `taskflow migrate` and the
	// change feed's listener connect to: DDL and LISTEN belong on a direct
	// connection, not through a transaction pooler.
	DirectDatabaseURL Secret `env:"DIRECT_DATABASE_URL"`
	DBMaxOpenConns    int    `env:"DB_MAX_OPEN_CONNS" envDefault:"12"`
	DBMaxIdleConns    int    `env:"DB_MAX_IDLE_CONNS" envDefault:"10"`
	// DBMinIdleConns connections are opened at start-up and kept open
	// while requests come (pgpool.KeepWarm), so requests do not pay a new
	// connection's set-up; after DBConnMaxIdleTime without one they close.
	DBMinIdleConns    int           `env:"DB_MIN_IDLE_CONNS" envDefault:"2"`
	DBConnMaxLifetime time.Duration `env:"DB_CONN_MAX_LIFETIME" envDefault:"1h"`
	DBConnMaxIdleTime time.Duration `env:"DB_CONN_MAX_IDLE_TIME" envDefault:"10m"`
	DBQueryTimeout    time.Duration `env:"DB_QUERY_TIMEOUT" envDefault:"5s"`
	HealthTimeout     time.Duration `env:"HEALTH_TIMEOUT" envDefault:"2s"`
	// DBUserQueueTimeout is the longest a request waits in its user's line
	// for a database connection once that user holds its share of them
	// (middleware.FairShare); past it, a 429.
	DBUserQueueTimeout time.Duration `env:"DB_USER_QUEUE_TIMEOUT" envDefault:"1s"`
	// AutoMigrate runs the schema migration at start-up; turn it off when a
	// pre-deploy step runs `taskflow migrate`.
	AutoMigrate bool `env:"AUTO_MIGRATE" envDefault:"true"`

	JWTSecretKey     Secret        `env:"JWT_SECRET_KEY"`
	JWTIssuer        string        `env:"JWT_ISSUER" envDefault:"taskflow"`
	AccessTokenTTL   time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL  time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`
	BetterAuthSecret Secret        `env:"BETTER_AUTH_SECRET"`
	BetterAuthURL    string        `env:"BETTER_AUTH_URL"`
	AuthJWKSURL      string        `env:"AUTH_JWKS_URL"`
	// ExternalTokenMaxAge caps a frontend token's exp - iat: a token minted
	// for years would outlive every revocation.
	ExternalTokenMaxAge time.Duration `env:"EXTERNAL_TOKEN_MAX_AGE" envDefault:"24h"`
	// SessionMaxAge is a refresh family's absolute lifetime, counted from
	// the login that began it; refreshing never extends it.
	SessionMaxAge time.Duration `env:"SESSION_MAX_AGE" envDefault:"2160h"`
	// RefreshReuseInterval is how long after its rotation a refresh token
	// presented again still gets a working pair rather than revoking its
	// family: two tabs refreshing at once both stay signed in.
	RefreshReuseInterval time.Duration `env:"REFRESH_REUSE_INTERVAL" envDefault:"10s"`
	// JWTSecretKeyPrevious and BetterAuthSecretPrevious are secrets being
	// rotated out: tokens they signed are still accepted while new ones
	// are signed (or expected to be) with the current secret.
	JWTSecretKeyPrevious     Secret `env:"JWT_SECRET_KEY_PREVIOUS"`
	BetterAuthSecretPrevious Secret `env:"BETTER_AUTH_SECRET_PREVIOUS"`

	CORSOrigins    []string `env:"CORS_ORIGINS" envSeparator:","`
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`
	ProxyHeader    string   `env:"PROXY_HEADER" envDefault:"X-Real-IP"`
	RedisURL       Secret   `env:"REDIS_URL"`
	AuthRateLimit  int      `env:"AUTH_RATE_LIMIT" envDefault:"10"`
	LoginFailLimit int      `env:"LOGIN_FAIL_LIMIT" envDefault:"5"`
	// SearchRateLimit is how many task lists with q one user may ask for
	// per minute, across replicas when Redis is set.
	SearchRateLimit int `env:"SEARCH_RATE_LIMIT" envDefault:"300"`

	BodyLimit       int           `env:"BODY_LIMIT" envDefault:"1048576"`
	ReadTimeout     time.Duration `env:"READ_TIMEOUT" envDefault:"10s"`
	WriteTimeout    time.Duration `env:"WRITE_TIMEOUT" envDefault:"15s"`
	IdleTimeout     time.Duration `env:"IDLE_TIMEOUT" envDefault:"60s"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	// EventsPingInterval is the longest silence on a change-feed stream:
	// a ": ping" comment fills it. The contract wants one at least every 15 s.
	EventsPingInterval time.Duration `env:"EVENTS_PING_INTERVAL" envDefault:"15s"`

	// MetricsToken is the bearer token GET /metrics wants in production;
	// unset there, /metrics is not served.
	MetricsToken Secret `env:"METRICS_TOKEN"`

	MaxTasksPerUser    int `env:"MAX_TASKS_PER_USER" envDefault:"10000"`
	MaxTagsPerUser     int `env:"MAX_TAGS_PER_USER" envDefault:"500"`
	MaxProjectsPerUser int `env:"MAX_PROJECTS_PER_USER" envDefault:"300"`

	// What the server keeps about one user for replay (see
	// models.ReplayCaps): events, answers of keys and batch commands,
	// tombstones.
	MaxEventsPerUser     int `env:"MAX_EVENTS_PER_USER" envDefault:"1000"`
	MaxAnswersPerUser    int `env:"MAX_ANSWERS_PER_USER" envDefault:"1000"`
	MaxTombstonesPerUser int `env:"MAX_TOMBSTONES_PER_USER" envDefault:"10000"`

	// Warnings are notes for the operator found while loading (for example a
	// secret generated for this process); Load never fails for them.
	Warnings []string `env:"-"`
}

// IsProduction reports whether the service runs in production.
func (c Config) IsProduction() bool { return c.Environment == Production }

// ListenAddr is the address to bind: PORT wins over API_PORT.
func (c Config) ListenAddr() string {
	port := c.APIPort
	if c.Port != 0 {
		port = c.Port
	}
	host := c.APIHost
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// DefaultDevCORSOrigin is the Next.js development server, allowed outside
// production when CORS_ORIGINS is not set.
const DefaultDevCORSOrigin = "http://localhost:3000"

// Load reads the configuration through getenv and validates it. The error,
// if any, lists every problem at once and names variables, never values.
func Load(getenv func(string) string) (Config, error) {
	var cfg Config
	environ, err := environFrom(getenv)
	if err != nil {
		return cfg, err
	}
	var problems []string
	unparsed := map[string]bool{}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		problems, unparsed = parseProblems(err)
	}
	cfg.trim()
	for _, problem := range cfg.validate() {
		// A variable that could not be parsed is already reported; its
		// zero value would only be reported a second time.
		if name, _, _ := strings.Cut(problem, ":"); !unparsed[name] {
			problems = append(problems, problem)
		}
	}
	if len(problems) > 0 {
		return cfg, &Error{Problems: problems}
	}
	cfg.fillDevelopmentDefaults()
	if getenv("ENVIRONMENT") == "" && cfg.DatabaseURL != "" && IsPostgresURL(cfg.DatabaseURL.Reveal()) &&
		!isLocalDatabaseHost(cfg.DatabaseURL.Reveal()) {
		cfg.Warnings = append(cfg.Warnings, "ENVIRONMENT is not set, so this is development mode (random secrets, "+
			"docs served, relaxed checks) against a remote PostgreSQL: set ENVIRONMENT=production if this is a deployment")
	}
	return cfg, nil
}

// isLocalDatabaseHost reports whether a PostgreSQL URL names this machine
// (a loopback address, localhost or a Unix socket).
func isLocalDatabaseHost(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "" {
		host = u.Query().Get("host")
	}
	return host == "" || strings.HasPrefix(host, "/") || isLoopbackHost(host)
}

// Error lists every configuration problem found.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// environFrom asks getenv for every variable Config knows, so the parser
// never sees the rest of the process environment.
func environFrom(getenv func(string) string) (map[string]string, error) {
	params, err := env.GetFieldParams(&Config{})
	if err != nil {
		return nil, err
	}
	environ := make(map[string]string, len(params))
	for _, p := range params {
		if v := getenv(p.Key); v != "" {
			environ[p.Key] = v
		}
	}
	return environ, nil
}

// parseProblems turns the parser's errors into messages that name the
// variable but not its value, and returns the names of those variables.
func parseProblems(err error) ([]string, map[string]bool) {
	keys := fieldKeys()
	unparsed := map[string]bool{}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return []string{"the environment could not be read"}, unparsed
	}
	var problems []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			unparsed[keys[pe.Name]] = true
			problems = append(problems, fmt.Sprintf("%s: must be %s", keys[pe.Name], describeType(pe.Type)))
			continue
		}
		problems = append(problems, "the environment could not be read")
	}
	return problems, unparsed
}

func fieldKeys() map[string]string {
	keys := map[string]string{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		keys[f.Name], _, _ = strings.Cut(f.Tag.Get("env"), ",")
	}
	return keys
}

func describeType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration such as 15m or 30s"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "a whole number"
	default:
		return "a valid " + t.String()
	}
}

func (c *Config) trim() {
	c.Environment = strings.ToLower(strings.TrimSpace(c.Environment))
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	c.DatabaseURL = Secret(strings.TrimSpace(c.DatabaseURL.Reveal()))
	c.DirectDatabaseURL = Secret(strings.TrimSpace(c.DirectDatabaseURL.Reveal()))
	c.CORSOrigins = nonEmpty(c.CORSOrigins)
	c.TrustedProxies = nonEmpty(c.TrustedProxies)
	c.BetterAuthURL = strings.TrimRight(strings.TrimSpace(c.BetterAuthURL), "/")
	c.AuthJWKSURL = strings.TrimSpace(c.AuthJWKSURL)
}

func nonEmpty(items []string) []string {
	var out []string
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// fillDevelopmentDefaults gives a development or test process what production
// must configure: per-process random secrets and the local frontend origin.
func (c *Config) fillDevelopmentDefaults() {
	if c.IsProduction() {
		return
	}
	if c.JWTSecretKey == "" {
		c.JWTSecretKey = randomSecret()
		c.Warnings = append(c.Warnings, "JWT_SECRET_KEY is not set: using a random key for this process; tokens will not survive a restart")
	}
	if c.BetterAuthSecret == "" && c.AuthJWKSURL == "" {
		c.BetterAuthSecret = randomSecret()
		c.Warnings = append(c.Warnings, "BETTER_AUTH_SECRET and AUTH_JWKS_URL are not set: using a random secret for this process; frontend tokens will be refused")
	}
	if len(c.CORSOrigins) == 0 {
		c.CORSOrigins = []string{DefaultDevCORSOrigin}
		c.Warnings = append(c.Warnings, "CORS_ORIGINS is not set: allowing "+DefaultDevCORSOrigin+" only")
	}
}

func randomSecret() Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return Secret(hex.EncodeToString(b))
}
