package app_test

import (
	"bytes"

	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"taskflow/app/apptest"
)

const metricsToken = "metrics-token-0123456789abcdef0123456789"

// scrape reads /metrics and parses it; the parse fails the test on any
// text that is not the exposition format.
func scrape(t *testing.T, s *apptest.Server, token string) map[string]*dto.MetricFamily {
	t.Helper()
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/metrics", Token: token})
	apptest.RequireStatus(t, r, http.StatusOK)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("GET /metrics is not the text format: %v", err)
	}
	return families
}

// series counts the series of the families named with prefix.
func series(families map[string]*dto.MetricFamily, prefix string) int {
	n := 0
	for name, family := range families {
		if strings.HasPrefix(name, prefix) {
			n += len(family.GetMetric())
		}
	}
	return n
}

// value is the sample of family with exactly labels (name=value pairs),
// or -1 when there is none; histograms give their count.
func value(families map[string]*dto.MetricFamily, family string, labels ...string) float64 {
	f := families[family]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// Thousands of distinct task ids and unknown paths add no series: the
// labels are route templates, and every unmatched path is one value.
func TestMetricsSeriesStayBounded(t *testing.T) {
	s := apptest.Start(t, apptest.SQLite(t), nil)
	token := apptest.Token(t, "metrics-user")
	hit := func(n int) {
		for range n {
			id := uuid.NewString()
			apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + id, Token: token}), http.StatusNotFound)
			apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/no/such/" + id, SkipContract: true}), http.StatusNotFound)
		}
	}
	hit(20)
	scrape(t, s, "") // a scrape counts itself once it is answered
	before := series(scrape(t, s, ""), "taskflow_http_")
	hit(2000)
	families := scrape(t, s, "")
	if after := series(families, "taskflow_http_"); after != before {
		t.Errorf("HTTP series grew from %d to %d with distinct ids and paths", before, after)
	}
	if got := value(families, "taskflow_http_requests_total", "route", "/api/v1/tasks/:id", "method", "GET", "status", "404"); got != 2020 {
		t.Errorf("GET /api/v1/tasks/:id 404 = %v, want 2020", got)
	}
	if got := value(families, "taskflow_http_requests_total", "route", "unmatched", "method", "GET", "status", "404"); got != 2020 {
		t.Errorf("unmatched GET 404 = %v, want 2020", got)
	}
	if got := value(families, "taskflow_http_request_duration_seconds", "route", "/api/v1/tasks/:id"); got != 2020 {
		t.Errorf("latency samples of /api/v1/tasks/:id = %v, want 2020", got)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "metrics-user") || strings.Count(l.GetValue(), "-") >= 4 {
					t.Errorf("%s has a label with an id: %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestMetricsReportThePoolAuthFailuresAndRateLimits(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"AUTH_RATE_LIMIT": "2"})
		expired := apptest.SignHS256(t, apptest.JWTSecret, jwt.MapClaims{
			"sub": "u", "iss": apptest.Issuer, "exp": time.Now().Add(-time.Hour).Unix(),
		})
		forged := apptest.SignHS256(t, "not-the-secret-0123456789abcdef0123456789", jwt.MapClaims{
			"sub": "u", "iss": apptest.Issuer, "exp": time.Now().Add(time.Hour).Unix(),
		})
		for _, token := range []string{"", "not-a-jwt", expired, forged} {
			apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}), http.StatusUnauthorized)
		}
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: apptest.Token(t, "u")}), http.StatusOK)
		login := apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/login", Body: map[string]string{"email": "a@example.com", "password": "wrong password"}}
		for range 2 {
			s.Do(t, login)
		}
		apptest.RequireProblem(t, s.Do(t, login), http.StatusTooManyRequests)

		families := scrape(t, s, "")
		for reason, want := range map[string]float64{"missing": 1, "malformed": 1, "expired": 1, "signature": 1, "unverifiable": 0, "claims": 0} {
			if got := value(families, "taskflow_auth_failures_total", "reason", reason); got != want {
				t.Errorf("auth failures %s = %v, want %v", reason, got, want)
			}
		}
		// The guard answers before any route: the group's prefix is the label.
		if got := value(families, "taskflow_http_requests_total", "route", "/api/v1/tasks/*", "method", "GET", "status", "401"); got != 4 {
			t.Errorf("GET /api/v1/tasks/* 401 = %v, want 4", got)
		}
		// A group's root route is labelled as documented, without its slash.
		if got := value(families, "taskflow_http_requests_total", "route", "/api/v1/tasks", "method", "GET", "status", "200"); got != 1 {
			t.Errorf("GET /api/v1/tasks 200 = %v, want 1", got)
		}
		// A limit in a route's own chain keeps the route's label.
		if got := value(families, "taskflow_http_requests_total", "route", "/api/v1/auth/login", "method", "POST", "status", "429"); got != 1 {
			t.Errorf("POST /api/v1/auth/login 429 = %v, want 1", got)
		}
		if got := value(families, "taskflow_rate_limited_total", "limit", "login"); got != 1 {
			t.Errorf("rate-limited logins = %v, want 1", got)
		}
		if got := value(families, "taskflow_database_up"); got != 1 {
			t.Errorf("taskflow_database_up = %v, want 1", got)
		}
		for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_wait_count_total", "go_sql_wait_duration_seconds_total", "go_sql_max_open_connections"} {
			if value(families, name, "db_name", "taskflow") < 0 {
				t.Errorf("no %s{db_name=taskflow}", name)
			}
		}
		for _, name := range []string{"taskflow_db_queue_waiting", "taskflow_db_queue_wait_seconds_total"} {
			if got := value(families, name); got != 0 {
				t.Errorf("%s = %v, want 0 (nothing waited)", name, got)
			}
		}
		if got := value(families, "go_sql_max_open_connections", "db_name", "taskflow"); got != float64(s.Config.DBMaxOpenConns) {
			t.Errorf("go_sql_max_open_connections = %v, want %d", got, s.Config.DBMaxOpenConns)
		}
		if got := value(families, "taskflow_build_info", "version", "test"); got != 1 {
			t.Errorf("taskflow_build_info{version=test} = %v, want 1", got)
		}
	})
}

// Production serves /metrics only to METRICS_TOKEN, and not at all
// without one.
func TestMetricsInProduction(t *testing.T) {
	db := apptest.Postgres(t)
	production := map[string]string{"ENVIRONMENT": "production", "CORS_ORIGINS": "https://app.example.com"}
	closed := apptest.Start(t, db, production)
	for _, token := range []string{"", metricsToken} {
		apptest.RequireProblem(t, closed.Do(t, apptest.Request{Method: http.MethodGet, Path: "/metrics", Token: token}), http.StatusNotFound)
	}

	production["METRICS_TOKEN"] = metricsToken
	s := apptest.Start(t, db, production)
	for _, headers := range []map[string]string{
		nil,
		{"Authorization": "Bearer " + metricsToken + "x"},
		{"Authorization": "Bearer " + metricsToken[:len(metricsToken)-1]},
		{"Authorization": "Basic " + metricsToken},
		{"Authorization": metricsToken},
	} {
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/metrics", Headers: headers})
		apptest.RequireProblem(t, r, http.StatusUnauthorized)
		if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
		}
	}
	families := scrape(t, s, metricsToken)
	if got := value(families, "taskflow_http_requests_total", "route", "/metrics", "method", "GET", "status", "401"); got != 5 {
		t.Errorf("refused scrapes counted = %v, want 5", got)
	}
	if got := value(families, "taskflow_database_up"); got != 1 {
		t.Errorf("taskflow_database_up = %v, want 1", got)
	}
}
