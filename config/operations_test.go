package config_test

import (
	"slices"
	"testing"
)

const metricsToken = "metrics-TOKEN-value-0a1b2c3d4e5f6a7b8c9d"

// The optional secrets of operations are held to production's length
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := load(with(production(), tc.changes))
			if got := problemsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("problems = %q, want %q", got, tc.want)
			}
			if err == nil && cfg.MetricsToken.Reveal() != tc.changes["METRICS_TOKEN"] {
				t.Errorf("MetricsToken not loaded")
			}
			if _, err := load(with(map[string]string{"ENVIRONMENT": "development"}, tc.changes)); err != nil {
				t.Errorf("development refuses %v: %v", tc.changes, err)
			}
		})
	}
}
