package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"taskflow/config"
)

// Distinctive secret values: no message, log line or printout may contain them.
const (
	jwtSecret        = "jwt-SECRET-value-4f9c2a7e1b3d5f60a8c9e7d1"
	betterAuthSecret = "better-auth-SECRET-value-9d8c7b6a5f4e3d2c1b"
	shortJWTSecret   = "short-jwt-SECRET-4f9c"
	shortBASecret    = "short-ba-SECRET-9d8c"
	dbPassword       = "pg-PASSWORD-q7w8e9"
	redisPassword    = "redis-PASSWORD-z1x2c3"
)

var secretValues = []string{jwtSecret, betterAuthSecret, shortJWTSecret, shortBASecret, dbPassword, redisPassword}

// production is a complete, valid production environment.
func production() map[string]string {
	return map[string]string{
		"ENVIRONMENT":        "production",
		"DATABASE_URL":       "postgres://app:" + dbPassword + "@db.example.com:5432/taskflow?sslmode=require",
		"JWT_SECRET_KEY":     jwtSecret,
		"BETTER_AUTH_SECRET": betterAuthSecret,
		"CORS_ORIGINS":       "https://app.example.com",
	}
}

// with returns base with changes applied; an empty value removes the variable.
func with(base map[string]string, changes map[string]string) map[string]string {
	env := maps.Clone(base)
	for k, v := range changes {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

func load(env map[string]string) (config.Config, error) {
	return config.Load(func(key string) string { return env[key] })
}

// problemsOf returns the problems a Load error lists, failing on any other error.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var cfgErr *config.Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error is %T (%v), want *config.Error", err, err)
	}
	return cfgErr.Problems
}

func TestLoadReportsEveryProblem(t *testing.T) {
	const (
		cors       = "CORS_ORIGINS: "
		notOrigin  = cors + "each entry must be an origin such as https://app.example.com (scheme, host and optional port)"
		loopback   = cors + "localhost and loopback addresses are not allowed in production"
		notHTTPS   = cors + "every origin must use https:// in production"
		noWildcard = cors + "* is not allowed: list each origin"
	)
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"valid production", production(), nil},
		{"production with a JWKS URL instead of the shared secret",
			with(production(), map[string]string{"BETTER_AUTH_SECRET": "", "AUTH_JWKS_URL": "https://app.example.com/api/auth/jwks",
				"BETTER_AUTH_URL": "https://app.example.com"}), nil},
		{"production with postgresql:// and several origins",
			with(production(), map[string]string{"DATABASE_URL": "postgresql://db.example.com/app", "CORS_ORIGINS": "https://app.example.com, https://www.example.com:8443/"}), nil},
		{"production and nothing else", map[string]string{"ENVIRONMENT": "production"}, []string{
			"DATABASE_URL: required in production (a postgres:// URL)",
			"JWT_SECRET_KEY: required in production",
			"BETTER_AUTH_SECRET: required in production unless AUTH_JWKS_URL is set",
			"CORS_ORIGINS: required in production (the frontend's https:// origins, comma-separated)",
		}},
		{"SQLite in production", with(production(), map[string]string{"DATABASE_URL": "sqlite://taskflow.db"}),
			[]string{"DATABASE_URL: must be a postgres:// or postgresql:// URL in production"}},
		{"file: SQLite in production", with(production(), map[string]string{"DATABASE_URL": "file:taskflow.db"}),
			[]string{"DATABASE_URL: must be a postgres:// or postgresql:// URL in production"}},
		{"unknown database scheme", with(production(), map[string]string{"DATABASE_URL": "mysql://" + dbPassword + "@db/app"}),
			[]string{"DATABASE_URL: must start with postgres://, postgresql://, sqlite:// or file:"}},
		{"short JWT secret", with(production(), map[string]string{"JWT_SECRET_KEY": shortJWTSecret}),
			[]string{"JWT_SECRET_KEY: must be at least 32 characters"}},
		{"no frontend key", with(production(), map[string]string{"BETTER_AUTH_SECRET": ""}),
			[]string{"BETTER_AUTH_SECRET: required in production unless AUTH_JWKS_URL is set"}},
		{"short Better Auth secret", with(production(), map[string]string{"BETTER_AUTH_SECRET": shortBASecret}),
			[]string{"BETTER_AUTH_SECRET: must be at least 32 characters"}},
		{"blank CORS list", with(production(), map[string]string{"CORS_ORIGINS": " , "}),
			[]string{"CORS_ORIGINS: required in production (the frontend's https:// origins, comma-separated)"}},
		{"http origin", with(production(), map[string]string{"CORS_ORIGINS": "http://app.example.com"}), []string{notHTTPS}},
		{"localhost origin", with(production(), map[string]string{"CORS_ORIGINS": "https://localhost:3000"}), []string{loopback}},
		{"localhost subdomain origin", with(production(), map[string]string{"CORS_ORIGINS": "https://app.localhost"}), []string{loopback}},
		{"127.0.0.1 origin", with(production(), map[string]string{"CORS_ORIGINS": "https://127.0.0.1"}), []string{loopback}},
		{"other 127/8 origin", with(production(), map[string]string{"CORS_ORIGINS": "https://127.1.2.3:8443"}), []string{loopback}},
		{"[::1] origin", with(production(), map[string]string{"CORS_ORIGINS": "https://[::1]:3000"}), []string{loopback}},
		{"star origin", with(production(), map[string]string{"CORS_ORIGINS": "*"}), []string{noWildcard}},
		{"wildcard subdomain", with(production(), map[string]string{"CORS_ORIGINS": "https://*.example.com"}),
			[]string{cors + "wildcards are not allowed: list each origin"}},
		{"origin with a path", with(production(), map[string]string{"CORS_ORIGINS": "https://app.example.com/app"}), []string{notOrigin}},
		{"origin with a query", with(production(), map[string]string{"CORS_ORIGINS": "https://app.example.com?x=1"}), []string{notOrigin}},
		{"bare host origin", with(production(), map[string]string{"CORS_ORIGINS": "app.example.com"}), []string{notOrigin}},
		{"one bad origin among good ones", with(production(), map[string]string{"CORS_ORIGINS": "https://app.example.com,http://localhost:3000"}),
			[]string{notHTTPS}},
		{"debug in production", with(production(), map[string]string{"DEBUG": "true"}), []string{"DEBUG: must not be true in production"}},
		{"http Better Auth URL in production", with(production(), map[string]string{"BETTER_AUTH_URL": "http://app.example.com"}),
			[]string{"BETTER_AUTH_URL: must use https:// in production"}},
		{"unknown environment", map[string]string{"ENVIRONMENT": "staging"},
			[]string{"ENVIRONMENT: must be development, test or production"}},
		{"bad port", map[string]string{"API_PORT": "abc"}, []string{"API_PORT: must be a whole number"}},
		{"port out of range", map[string]string{"API_PORT": "-1", "PORT": "70000"}, []string{
			"API_PORT: must be a port number from 0 to 65535",
			"PORT: must be a port number from 0 to 65535",
		}},
		{"bad duration is reported once", map[string]string{"DB_QUERY_TIMEOUT": "soon"},
			[]string{"DB_QUERY_TIMEOUT: must be a duration such as 15m or 30s"}},
		{"bad boolean", map[string]string{"DEBUG": "maybe"}, []string{"DEBUG: must be true or false"}},
		{"zero limits", map[string]string{"BODY_LIMIT": "0", "SHUTDOWN_TIMEOUT": "0s"}, []string{
			"BODY_LIMIT: must be greater than zero",
			"SHUTDOWN_TIMEOUT: must be greater than zero",
		}},
		{"more idle than open connections", map[string]string{"DB_MAX_OPEN_CONNS": "4", "DB_MAX_IDLE_CONNS": "5"},
			[]string{"DB_MAX_IDLE_CONNS: must be from 0 to DB_MAX_OPEN_CONNS"}},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL: must be debug, info, warn or error"}},
		{"bad Redis URL", map[string]string{"REDIS_URL": "http://:" + redisPassword + "@cache:6379"},
			[]string{"REDIS_URL: must be a redis:// or rediss:// URL"}},
		{"bad trusted proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"},
			[]string{"TRUSTED_PROXIES: each entry must be an IP address or a CIDR range"}},
		{"SQLite direct URL", map[string]string{"DIRECT_DATABASE_URL": "sqlite://taskflow.db"},
			[]string{"DIRECT_DATABASE_URL: must be a postgres:// or postgresql:// URL"}},
		{"bad JWKS URL", map[string]string{"AUTH_JWKS_URL": "ftp://app.example.com/jwks"},
			[]string{"AUTH_JWKS_URL: must be an http:// or https:// URL"}},
		{"many problems at once", with(production(), map[string]string{
			"API_PORT": "abc", "READ_TIMEOUT": "later", "JWT_SECRET_KEY": shortJWTSecret, "BETTER_AUTH_SECRET": shortBASecret,
			"CORS_ORIGINS": "*,https://[::1]", "DEBUG": "true", "DATABASE_URL": "",
		}), []string{
			"API_PORT: must be a whole number",
			"READ_TIMEOUT: must be a duration such as 15m or 30s",
			noWildcard,
			loopback,
			"DATABASE_URL: required in production (a postgres:// URL)",
			"JWT_SECRET_KEY: must be at least 32 characters",
			"BETTER_AUTH_SECRET: must be at least 32 characters",
			"DEBUG: must not be true in production",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(tt.env)
			got := problemsOf(t, err)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("problems:\n got  %q\n want %q", got, tt.want)
			}
			if err != nil {
				requireNoSecret(t, "error message", err.Error())
				for _, want := range tt.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error message lacks %q:\n%s", want, err)
					}
				}
			}
			requireNoSecret(t, "printed config", fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg))
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	cfg, err := load(with(production(), map[string]string{
		"REDIS_URL": "redis://:" + redisPassword + "@cache:6379/0", "DIRECT_DATABASE_URL": "postgres://app:" + dbPassword + "@direct.example.com/taskflow",
	}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.JWTSecretKey.Reveal() != jwtSecret || !strings.Contains(cfg.DatabaseURL.Reveal(), dbPassword) {
		t.Fatal("Reveal() must return the configured value")
	}
	encoded, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "jwt", cfg.JWTSecretKey)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "jwt", cfg.JWTSecretKey)
	for what, text := range map[string]string{
		"JSON": string(encoded), "slog": logged.String(), "fmt": fmt.Sprint(cfg.JWTSecretKey, cfg.BetterAuthSecret, cfg.RedisURL, cfg.DatabaseURL, cfg.DirectDatabaseURL),
	} {
		requireNoSecret(t, what, text)
		if !strings.Contains(text, "[redacted]") {
			t.Errorf("%s output does not show [redacted]: %s", what, text)
		}
	}
}

func requireNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, secret := range secretValues {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains the secret value %q: %s", what, secret, text)
		}
	}
}

func TestDevelopmentDefaults(t *testing.T) {
	// An empty environment is what `go run .` sees on a fresh checkout.
	cfg, err := load(nil)
	if err != nil {
		t.Fatalf("an empty environment must be a valid development configuration: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Environment", cfg.Environment, config.Development},
		{"ListenAddr", cfg.ListenAddr(), "0.0.0.0:8000"},
		{"DatabaseURL", cfg.DatabaseURL.Reveal(), ""},
		{"CORSOrigins", strings.Join(cfg.CORSOrigins, ","), config.DefaultDevCORSOrigin},
		{"AutoMigrate", cfg.AutoMigrate, true},
		{"DBMaxOpenConns", cfg.DBMaxOpenConns, 12},
		{"DBMaxIdleConns", cfg.DBMaxIdleConns, 10},
		{"DBConnMaxLifetime", cfg.DBConnMaxLifetime.String(), "1h0m0s"},
		{"BodyLimit", cfg.BodyLimit, 1 << 20},
		{"JWTIssuer", cfg.JWTIssuer, "taskflow"},
		{"len(JWTSecretKey)", len(cfg.JWTSecretKey.Reveal()), 64},
		{"len(BetterAuthSecret)", len(cfg.BetterAuthSecret.Reveal()), 64},
		{"IsProduction", cfg.IsProduction(), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	wantWarnings := []string{"JWT_SECRET_KEY", "BETTER_AUTH_SECRET", "CORS_ORIGINS"}
	if len(cfg.Warnings) != len(wantWarnings) {
		t.Fatalf("warnings = %q, want one for each of %v", cfg.Warnings, wantWarnings)
	}
	for i, name := range wantWarnings {
		if !strings.HasPrefix(cfg.Warnings[i], name) {
			t.Errorf("warning %d = %q, want one about %s", i, cfg.Warnings[i], name)
		}
	}

	again, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.JWTSecretKey == cfg.JWTSecretKey || again.BetterAuthSecret == cfg.BetterAuthSecret {
		t.Error("two processes got the same generated secret: it must be random per process")
	}
}

func TestDevelopmentKeepsWhatIsSet(t *testing.T) {
	cfg, err := load(map[string]string{
		"ENVIRONMENT": " Test ", "JWT_SECRET_KEY": "dev-key", "AUTH_JWKS_URL": "http://localhost:3000/api/auth/jwks",
		"CORS_ORIGINS": "http://localhost:5173",
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.Environment != config.Test {
		t.Errorf("Environment = %q, want %q (trimmed, lower-cased)", cfg.Environment, config.Test)
	}
	if cfg.JWTSecretKey.Reveal() != "dev-key" {
		t.Error("a short JWT_SECRET_KEY is accepted outside production and kept as is")
	}
	if cfg.BetterAuthSecret != "" {
		t.Error("with AUTH_JWKS_URL set no Better Auth secret is generated")
	}
	if !slices.Equal(cfg.CORSOrigins, []string{"http://localhost:5173"}) {
		t.Errorf("CORSOrigins = %q, want the configured one only", cfg.CORSOrigins)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", cfg.Warnings)
	}
}

func TestProductionGeneratesNothing(t *testing.T) {
	cfg, err := load(with(production(), map[string]string{"BETTER_AUTH_SECRET": "", "AUTH_JWKS_URL": "https://app.example.com/api/auth/jwks",
		"BETTER_AUTH_URL": "https://app.example.com"}))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.BetterAuthSecret != "" || len(cfg.Warnings) != 0 {
		t.Errorf("production generated defaults: secret set = %v, warnings = %q", cfg.BetterAuthSecret != "", cfg.Warnings)
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "0.0.0.0:8000"},
		{map[string]string{"API_PORT": "9000"}, "0.0.0.0:9000"},
		{map[string]string{"API_PORT": "9000", "PORT": "7000"}, "0.0.0.0:7000"}, // the platform's PORT wins
		{map[string]string{"PORT": "7000"}, "0.0.0.0:7000"},
		{map[string]string{"API_HOST": "127.0.0.1", "API_PORT": "0"}, "127.0.0.1:0"},
		{map[string]string{"API_HOST": "::"}, "[::]:8000"},
		{map[string]string{"API_HOST": "::1", "PORT": "3001"}, "[::1]:3001"},
		{map[string]string{"API_HOST": "[::1]"}, "[::1]:8000"},
		{map[string]string{"API_HOST": "fe80::1%eth0"}, "[fe80::1%eth0]:8000"},
		{map[string]string{"API_HOST": "localhost"}, "localhost:8000"},
	}
	for _, tt := range tests {
		cfg, err := load(tt.env)
		if err != nil {
			t.Fatalf("load %v: %v", tt.env, err)
		}
		if got := cfg.ListenAddr(); got != tt.want {
			t.Errorf("ListenAddr() with %v = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestLoadReadsOnlyThroughGetenv(t *testing.T) {
	t.Setenv("ENVIRONMENT", "production") // the process environment must be ignored
	t.Setenv("API_PORT", "abc")
	var asked []string
	cfg, err := config.Load(func(key string) string {
		asked = append(asked, key)
		return ""
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.Environment != config.Development {
		t.Errorf("Environment = %q: Load read the process environment", cfg.Environment)
	}
	if !slices.Contains(asked, "DATABASE_URL") || !slices.Contains(asked, "PORT") {
		t.Errorf("getenv was asked %v, want every variable", asked)
	}
}

// TestProductionRefusesUnsafeSettings holds each setting an adversarial
// review started a production server with before these checks: one
// secret for both token kinds (the frontend's secret then mints this API's
// tokens), a proxy range that trusts every client's X-Real-IP (so rate
// limits count whatever address the client claims), a typed 32-character
// secret, year-long access tokens, frontend tokens meant to live a year
// and ten-year sessions (a stolen one works that long unless its user
// happens to log out everywhere), and a key set with no expected issuer
// and audience (any token that key set signed, for any app, passes).
func TestProductionRefusesUnsafeSettings(t *testing.T) {
	const weak = ": looks typed rather than random (too few different characters, or a repeated pattern); generate one with openssl rand -hex 32"
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"one secret for both", with(production(), map[string]string{"BETTER_AUTH_SECRET": jwtSecret}),
			"BETTER_AUTH_SECRET: must differ from JWT_SECRET_KEY"},
		{"every IPv4 address a trusted proxy", with(production(), map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"}),
			"TRUSTED_PROXIES: a range wider than /8 (IPv4) or /7 (IPv6) would let any client choose its own address"},
		{"every IPv6 address a trusted proxy", with(production(), map[string]string{"TRUSTED_PROXIES": "::/0"}),
			"TRUSTED_PROXIES: a range wider than /8 (IPv4) or /7 (IPv6) would let any client choose its own address"},
		{"half the internet a trusted proxy", with(production(), map[string]string{"TRUSTED_PROXIES": "0.0.0.0/1"}),
			"TRUSTED_PROXIES: a range wider than /8 (IPv4) or /7 (IPv6) would let any client choose its own address"},
		{"a secret of one letter", with(production(), map[string]string{"JWT_SECRET_KEY": strings.Repeat("a", 32)}),
			"JWT_SECRET_KEY" + weak},
		{"a secret of a repeated pattern", with(production(), map[string]string{"BETTER_AUTH_SECRET": strings.Repeat("0123456789ab", 4)}),
			"BETTER_AUTH_SECRET" + weak},
		{"year-long access tokens", with(production(), map[string]string{"ACCESS_TOKEN_TTL": "8760h"}),
			"ACCESS_TOKEN_TTL: must be at most 1h in production"},
		{"year-long frontend tokens", with(production(), map[string]string{"EXTERNAL_TOKEN_MAX_AGE": "8760h"}),
			"EXTERNAL_TOKEN_MAX_AGE: must be at most 168h (7 days) in production"},
		{"ten-year sessions", with(production(), map[string]string{"SESSION_MAX_AGE": "87600h"}),
			"SESSION_MAX_AGE: must be at most 8760h (365 days) in production"},
		{"a key set with no issuer to expect", with(production(), map[string]string{"AUTH_JWKS_URL": "https://app.example.com/api/auth/jwks"}),
			"BETTER_AUTH_URL: required in production when AUTH_JWKS_URL is set (JWKS tokens' iss and aud are checked against it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.env)
			got := problemsOf(t, err)
			if !slices.Equal(got, []string{tt.want}) {
				t.Fatalf("problems:\n got  %q\n want %q", got, []string{tt.want})
			}
			requireNoSecret(t, "error message", err.Error())
		})
	}
	t.Run("the same settings are fine outside production", func(t *testing.T) {
		for _, tt := range tests {
			env := with(tt.env, map[string]string{"ENVIRONMENT": "development"})
			if _, err := load(env); err != nil {
				t.Errorf("%s: refused in development: %v", tt.name, err)
			}
		}
	})
	t.Run("a private proxy range and the longest lifetimes are fine", func(t *testing.T) {
		env := with(production(), map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8,100.64.0.0/10", "ACCESS_TOKEN_TTL": "1h",
			"EXTERNAL_TOKEN_MAX_AGE": "168h", "SESSION_MAX_AGE": "8760h"})
		if _, err := load(env); err != nil {
			t.Fatalf("load: %v", err)
		}
	})
}

func TestDevelopmentWarnsAboutARemoteDatabase(t *testing.T) {
	remote := "postgres://app:" + dbPassword + "@db.example.com:5432/taskflow?sslmode=require"
	tests := []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"ENVIRONMENT unset, remote PostgreSQL", map[string]string{"DATABASE_URL": remote}, true},
		{"ENVIRONMENT=development said on purpose", map[string]string{"DATABASE_URL": remote, "ENVIRONMENT": "development"}, false},
		{"local PostgreSQL", map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/taskflow"}, false},
		{"localhost", map[string]string{"DATABASE_URL": "postgres://postgres@localhost/taskflow"}, false},
		{"Unix socket", map[string]string{"DATABASE_URL": "postgres:///taskflow?host=/var/run/postgresql"}, false},
		{"SQLite", map[string]string{"DATABASE_URL": "sqlite://taskflow.db"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := load(tt.env)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			warned := slices.ContainsFunc(cfg.Warnings, func(w string) bool { return strings.HasPrefix(w, "ENVIRONMENT is not set") })
			if warned != tt.warn {
				t.Fatalf("warned = %v, want %v; warnings %q", warned, tt.warn, cfg.Warnings)
			}
			for _, w := range cfg.Warnings {
				requireNoSecret(t, "warning", w)
			}
		})
	}
}

func TestProductionRefusesWeakOperationSecrets(t *testing.T) {
	for _, name := range []string{"JWT_SECRET_KEY_PREVIOUS", "BETTER_AUTH_SECRET_PREVIOUS", "METRICS_TOKEN"} {
		_, err := load(with(production(), map[string]string{name: strings.Repeat("ab", 20)}))
		want := name + ": looks typed rather than random (too few different characters, or a repeated pattern); generate one with openssl rand -hex 32"
		if got := problemsOf(t, err); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: problems %q, want %q", name, got, want)
		}
	}
}
