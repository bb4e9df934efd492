package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
)

const metricsToken = "e2e-metrics-token-0123456789abcdef01234567"

// A real Prometheus (Debian's package) scrapes TaskFlow running in
// production with METRICS_TOKEN, and its query API sees the requests this
// test made; a scrape without the token is refused. promtool finds nothing
// to say about what /metrics serves.
func TestPrometheusScrapesTaskFlow(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	requireTool(t, err == nil, "prometheus is not installed (apt-get install prometheus)")
	promtool, err := exec.LookPath("promtool")
	requireTool(t, err == nil, "promtool is not installed (apt-get install prometheus)")

	s := apptest.Start(t, apptest.Postgres(t), map[string]string{
		"ENVIRONMENT": "production", "CORS_ORIGINS": "https://app.example.com", "METRICS_TOKEN": metricsToken,
	})
	promURL := startPrometheus(t, prometheus, strings.TrimPrefix(s.URL, "http://"))

	token := apptest.Token(t, "prometheus-user")
	const listed, missing = 7, 300
	for range listed {
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token}), http.StatusOK)
	}
	for range missing {
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + uuid.NewString(), Token: token}), http.StatusNotFound)
	}

	waitForQuery(t, promURL, `sum(taskflow_http_requests_total{job="taskflow",route="/api/v1/tasks",method="GET",status="200"})`, listed)
	waitForQuery(t, promURL, `sum(taskflow_http_requests_total{job="taskflow",route="/api/v1/tasks/:id",method="GET",status="404"})`, missing)
	waitForQuery(t, promURL, `count(count by (route) (taskflow_http_requests_total{job="taskflow",route=~"/api/v1/tasks.*"}))`, 2)
	waitForQuery(t, promURL, `up{job="taskflow"}`, 1)
	waitForQuery(t, promURL, `taskflow_database_up{job="taskflow"}`, 1)
	waitForQuery(t, promURL, `up{job="taskflow-without-token"}`, 0)

	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/metrics", Token: metricsToken})
	apptest.RequireStatus(t, r, http.StatusOK)
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(r.Body)
	if out, err := check.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// startPrometheus runs prometheus on a free loopback port with a config
// of its own: a job scraping target every second with the metrics token,
// another without it, and the repository's alert rules loaded (so they
// are checked against a real server too). It returns Prometheus' URL,
// once ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs("../ops/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "metrics-token")
	if err := os.WriteFile(tokenFile, []byte(metricsToken), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: taskflow
    authorization:
      type: Bearer
      credentials_file: %q
    static_configs: [{targets: [%q]}]
  - job_name: taskflow-without-token
    static_configs: [{targets: [%q]}]
`, rules, tokenFile, target, target)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(apptest.FreePort(t))
	p, err := proc.Start(bin, proc.Options{Dir: dir, Args: []string{
		"--config.file=" + configFile,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("prometheus output:\n%s", p.Output())
		}
	})
	promURL := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.WaitStatus(ctx, promURL+"/-/ready", http.StatusOK, 100*time.Millisecond); err != nil {
		t.Fatalf("prometheus is not ready: %v", err)
	}
	return promURL
}

// waitForQuery polls Prometheus' query API until query returns one sample
// equal to want, failing after 30 seconds with the last answer.
func waitForQuery(t *testing.T, promURL, query string, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		got, answer, err := instantQuery(promURL, query)
		if err == nil && len(got) == 1 && got[0] == want {
			return
		}
		last = answer
		if err != nil {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	targets := "unknown"
	if resp, err := http.Get(promURL + "/api/v1/targets"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		targets = string(body)
	}
	t.Fatalf("query %s never returned %v; last answer: %s\ntargets: %s", query, want, last, targets)
}

// instantQuery returns the values of query's samples now, and the raw
// answer for messages.
func instantQuery(promURL, query string) ([]float64, string, error) {
	resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	raw := string(body)
	if err := json.Unmarshal(body, &answer); err != nil || answer.Status != "success" {
		return nil, raw, fmt.Errorf("query failed: %v: %s", err, raw)
	}
	var values []float64
	for _, sample := range answer.Data.Result {
		text, _ := sample.Value[1].(string)
		value, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, raw, err
		}
		values = append(values, value)
	}
	return values, raw, nil
}
