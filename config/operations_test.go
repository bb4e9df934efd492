package config_test

import (
	"slices"
	"testing"
)

const (
	metricsToken             = "metrics-TOKEN-value-0a1b2c3d4e5f6a7b8c9d"
	previousJWTSecret        = "previous-jwt-SECRET-value-7e6d5c4b3a29"
	previousBetterAuthSecret = "previous-ba-SECRET-value-1a2b3c4d5e6f7"
)

// The optional secrets of operations (the metrics token, the secrets
// being rotated out) are held to production's length
// rule when set, and are free outside production.
func TestOperationSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes map[string]string
		want    []string
	}{
		{"metrics token unset", nil, nil},
		{"metrics token set", map[string]string{"METRICS_TOKEN": metricsToken}, nil},
		{"metrics token short", map[string]string{"METRICS_TOKEN": "short"},
			[]string{"METRICS_TOKEN: must be at least 32 characters"}},
		{"previous secrets set", map[string]string{
			"JWT_SECRET_KEY_PREVIOUS": previousJWTSecret, "BETTER_AUTH_SECRET_PREVIOUS": previousBetterAuthSecret,
		}, nil},
		{"previous secrets short", map[string]string{
			"JWT_SECRET_KEY_PREVIOUS": shortJWTSecret, "BETTER_AUTH_SECRET_PREVIOUS": shortBASecret,
		}, []string{
			"JWT_SECRET_KEY_PREVIOUS: must be at least 32 characters",
			"BETTER_AUTH_SECRET_PREVIOUS: must be at least 32 characters",
		}},
		{"previous frontend secret without a current one", map[string]string{
			"BETTER_AUTH_SECRET": "", "AUTH_JWKS_URL": "https://app.example.com/api/auth/jwks", "BETTER_AUTH_URL": "https://app.example.com",
			"BETTER_AUTH_SECRET_PREVIOUS": previousBetterAuthSecret,
		}, []string{"BETTER_AUTH_SECRET_PREVIOUS: needs BETTER_AUTH_SECRET, the secret that replaces it"}},
		{"previous secret of one issuer is a secret of the other", map[string]string{
			"JWT_SECRET_KEY_PREVIOUS": betterAuthSecret, "BETTER_AUTH_SECRET_PREVIOUS": jwtSecret,
		}, []string{
			"BETTER_AUTH_SECRET: must differ from JWT_SECRET_KEY_PREVIOUS",
			"BETTER_AUTH_SECRET_PREVIOUS: must differ from JWT_SECRET_KEY",
		}},
		{"previous secrets equal", map[string]string{
			"JWT_SECRET_KEY_PREVIOUS": previousJWTSecret, "BETTER_AUTH_SECRET_PREVIOUS": previousJWTSecret,
		}, []string{"BETTER_AUTH_SECRET_PREVIOUS: must differ from JWT_SECRET_KEY_PREVIOUS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(with(production(), tc.changes))
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("problems = %q, want %q", got, tc.want)
			}
			if err == nil && (cfg.MetricsToken.Reveal() != tc.changes["METRICS_TOKEN"] ||
				cfg.JWTSecretKeyPrevious.Reveal() != tc.changes["JWT_SECRET_KEY_PREVIOUS"] ||
				cfg.BetterAuthSecretPrevious.Reveal() != tc.changes["BETTER_AUTH_SECRET_PREVIOUS"]) {
				t.Errorf("the operation secrets were not loaded as set")
			}
			if err != nil {
				requireNoSecret(t, "the error", err.Error())
			}
			if _, err := load(with(map[string]string{"ENVIRONMENT": "development"}, tc.changes)); err != nil {
				t.Errorf("development refuses %v: %v", tc.changes, err)
			}
		})
	}
}
