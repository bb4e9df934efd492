// Package verify checks a live TaskFlow deployment from the outside, the
// way its frontend and its users see it: health, CORS, authentication, user
// isolation, hidden docs, protected metrics and security headers. `taskflow verify` runs it.
//
// Every check is timed and reported PASS or FAIL, with the reason of a failure. The
// whole run is bounded: each request by a timeout, the run by a deadline,
// and once the target is known to be unreachable the remaining checks fail
// at once instead of each waiting for its own timeout.
package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"taskflow/client"
)

// Defaults of a run.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultDeadline = 55 * time.Second
	DefaultIssuer   = "taskflow"
	// cleanupReserve is kept free at the end of the deadline (a fifth of
	// it at most) so the data the isolation check created can still be
	// deleted when the checks run out of time.
	cleanupReserve = 5 * time.Second
)

// Secret is a signing secret and where it came from (a flag or a variable),
// so a refused token can name the setting to fix. The value is never shown.
type Secret struct {
	Value  string
	Source string
}

// Config is one run's target and credentials.
type Config struct {
	URL    string // the API's base URL
	Origin string // the frontend's origin, which CORS must allow
	// JWTSecret mints tokens as the API issues them (HS256, iss = Issuer);
	// BetterAuthSecret mints the frontend's shared-secret tokens (HS256, no
	// iss). The auth and isolation checks need at least one.
	JWTSecret        Secret
	BetterAuthSecret Secret
	Issuer           string
	Timeout          time.Duration // per request
	Deadline         time.Duration // whole run
	// HTTPClient sends every request; nil means one that does not follow
	// redirects, so a redirect is reported rather than silently followed.
	HTTPClient *http.Client
}

func (c *Config) setDefaults() {
	c.URL = strings.TrimRight(c.URL, "/")
	c.Origin = strings.TrimRight(c.Origin, "/")
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Deadline <= 0 {
		c.Deadline = DefaultDeadline
	}
}

// Status is the outcome of one check.
type Status string

const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
)

// Result is one check's outcome.
type Result struct {
	Name     string
	Status   Status
	Duration time.Duration
	Reason   string // why it failed
}

// Report is a whole run.
type Report struct {
	URL      string
	Results  []Result
	Duration time.Duration
}

// Counts returns how many checks passed and failed.
func (r Report) Counts() (passed, failed int) {
	for _, res := range r.Results {
		if res.Status == Pass {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// OK reports whether every check passed.
func (r Report) OK() bool {
	_, failed := r.Counts()
	return failed == 0
}

// check is one named verification.
type check struct {
	name string
	run  func(ctx context.Context, t *target) error
}

// Checks lists the checks' names in the order they run.
func Checks() []string {
	var names []string
	for _, c := range checks() {
		names = append(names, c.name)
	}
	return names
}

func checks() []check {
	return []check{
		{"health", checkHealth},
		{"cors-allowed", checkCORSAllowed},
		{"cors-denied", checkCORSDenied},
		{"auth-required", checkAuthRequired},
		{"isolation", checkIsolation},
		{"docs-hidden", checkDocsHidden},
		{"metrics-protected", checkMetricsProtected},
		{"security-headers", checkSecurityHeaders},
	}
}

// target is the deployment under test and what the run learnt about it.
type target struct {
	cfg Config
	api *client.Client
	// end is when the run must be over, cleanup included.
	end time.Time
	// down is the failure that showed the target cannot be reached; once it
	// is set the remaining checks are not tried.
	down      error
	downCheck string
	info      *client.Info // GET /, fetched once
}

// Run runs every check against cfg.URL and reports each one. It returns
// within cfg.Deadline (plus a moment) whatever the target does.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.setDefaults()
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = newHTTPClient(cfg.Timeout)
		defer httpClient.CloseIdleConnections()
	}
	api, err := client.New(cfg.URL, client.WithHTTPClient(httpClient), client.WithTimeout(cfg.Timeout))
	if err != nil {
		return Report{}, err
	}
	start := time.Now()
	t := &target{cfg: cfg, api: api, end: start.Add(cfg.Deadline)}
	checksCtx, cancel := context.WithDeadline(ctx, t.end.Add(-min(cleanupReserve, cfg.Deadline/5)))
	defer cancel()

	report := Report{URL: cfg.URL}
	for _, c := range checks() {
		report.Results = append(report.Results, t.runCheck(checksCtx, c))
	}
	report.Duration = time.Since(start)
	return report, nil
}

// runCheck runs c, unless the target is known to be down or time is up.
func (t *target) runCheck(ctx context.Context, c check) Result {
	if reason := t.notRunReason(ctx); reason != "" {
		return Result{Name: c.name, Status: Fail, Reason: reason}
	}
	start := time.Now()
	err := c.run(ctx, t)
	res := Result{Name: c.name, Status: Pass, Duration: time.Since(start)}
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		res.Status = Fail
		res.Reason = oneLine(fmt.Sprintf("stopped: the run's deadline of %s was reached (%v)", t.cfg.Deadline, err))
	default:
		res.Status, res.Reason = Fail, oneLine(err.Error())
		t.noteUnreachable(c.name, err)
	}
	return res
}

func (t *target) notRunReason(ctx context.Context) string {
	switch {
	case t.down != nil:
		return fmt.Sprintf("target unreachable: not tried after %s failed", t.downCheck)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("not run: the run's deadline of %s was reached", t.cfg.Deadline)
	case ctx.Err() != nil:
		return "not run: cancelled"
	}
	return ""
}

// noteUnreachable marks the target down when err shows it cannot be used.
func (t *target) noteUnreachable(checkName string, err error) {
	var transportErr *client.TransportError
	if t.down == nil && errors.As(err, &transportErr) && transportErr.Unreachable() {
		t.down, t.downCheck = err, checkName
	}
}

// cleanupContext is for deleting what a check created: it survives the
// check's failure, its deadline and a cancelled run, and still ends in time.
func (t *target) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	end := time.Now().Add(t.cfg.Timeout)
	if end.After(t.end) {
		end = t.end
	}
	return context.WithDeadline(context.WithoutCancel(ctx), end)
}

// environment returns what GET / says the deployment's environment is.
func (t *target) environment(ctx context.Context) (string, error) {
	if t.info == nil {
		info, err := t.api.Info(ctx)
		if err != nil {
			return "", err
		}
		t.info = &info
	}
	return t.info.Environment, nil
}

func newHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// oneLine keeps a reason on one table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
