package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"taskflow/client"
)

// deniedOrigin is an origin no deployment lists: the .invalid top-level
// domain is reserved never to exist.
const deniedOrigin = "https://verify-denied.invalid"

// The contract's CORS requirements.
var (
	corsMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	corsHeaders = []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID", "Idempotency-Key", "Last-Event-ID"}
	corsExposed = []string{"ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed"}
)

const tasksPath = "/api/v1/tasks"

// checkHealth: GET /health answers 200 with "database":"ok".
func checkHealth(ctx context.Context, t *target) error {
	health, err := t.api.Health(ctx)
	switch {
	case client.StatusOf(err) == http.StatusServiceUnavailable && health.Database != "":
		return fmt.Errorf(`GET /health: 503 with "database":%q: the server cannot reach its database (check DATABASE_URL)`, health.Database)
	case client.StatusOf(err)/100 == 3:
		return fmt.Errorf("%w: give the final URL as --url", err)
	case err != nil:
		return err
	case health.Database != "ok":
		return fmt.Errorf(`GET /health: "database" is %q, want "ok"`, health.Database)
	}
	return nil
}

// checkCORSAllowed: the frontend's preflight is allowed with the methods and
// headers the app uses, and a plain request exposes the headers it reads.
func checkCORSAllowed(ctx context.Context, t *target) error {
	origin := t.cfg.Origin
	if origin == "" {
		return errors.New("no --origin given: name the frontend's origin, such as https://app.vercel.app")
	}
	resp, err := t.preflight(ctx, origin)
	if err != nil {
		return err
	}
	var problems []string
	h := resp.Header
	allowOrigin := h.Get("Access-Control-Allow-Origin")
	switch {
	case resp.Status/100 != 2:
		problems = append(problems, fmt.Sprintf("preflight answered %d, want 204", resp.Status))
	case allowOrigin == "":
		return fmt.Errorf("preflight from %s was refused (no Access-Control-Allow-Origin): is it listed in the server's CORS_ORIGINS?", origin)
	case allowOrigin != origin:
		problems = append(problems, fmt.Sprintf("Access-Control-Allow-Origin is %q, want %q", allowOrigin, origin))
	}
	problems = append(problems, missingFrom(h, "Access-Control-Allow-Methods", corsMethods)...)
	problems = append(problems, missingFrom(h, "Access-Control-Allow-Headers", corsHeaders)...)
	problems = append(problems, missingFrom(h, "Vary", []string{"Origin"})...)

	simple, err := t.api.Do(ctx, client.Request{Method: http.MethodGet, Path: "/health/live", Header: http.Header{"Origin": {origin}}})
	if err != nil {
		return err
	}
	if got := simple.Header.Get("Access-Control-Allow-Origin"); got != origin {
		problems = append(problems, fmt.Sprintf("GET with Origin %s: Access-Control-Allow-Origin is %q, want the origin", origin, got))
	}
	problems = append(problems, missingFrom(simple.Header, "Access-Control-Expose-Headers", corsExposed)...)
	return joinProblems("CORS for "+origin, problems)
}

// checkCORSDenied: an origin that is not listed gets no Access-Control-Allow-*
// header, on a preflight or on a plain request.
func checkCORSDenied(ctx context.Context, t *target) error {
	resp, err := t.preflight(ctx, deniedOrigin)
	if err != nil {
		return err
	}
	problems := allowHeaders("preflight", resp.Header)
	simple, err := t.api.Do(ctx, client.Request{Method: http.MethodGet, Path: "/health/live", Header: http.Header{"Origin": {deniedOrigin}}})
	if err != nil {
		return err
	}
	problems = append(problems, allowHeaders("GET", simple.Header)...)
	return joinProblems("an unlisted origin ("+deniedOrigin+") is allowed", problems)
}

// preflight sends the browser's preflight for a conditional PATCH of a task.
func (t *target) preflight(ctx context.Context, origin string) (*client.Response, error) {
	return t.api.Do(ctx, client.Request{Method: http.MethodOptions, Path: tasksPath, Header: http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {"PATCH"},
		"Access-Control-Request-Headers": {"authorization,content-type,if-match"},
	}})
}

// allowHeaders lists the Access-Control-Allow-* headers of an answer.
func allowHeaders(what string, h http.Header) []string {
	var found []string
	for key, values := range h {
		if strings.HasPrefix(strings.ToLower(key), "access-control-allow-") {
			found = append(found, fmt.Sprintf("%s got %s: %s", what, key, strings.Join(values, ", ")))
		}
	}
	return found
}

// missingFrom lists the wanted entries that the comma-separated header key
// lacks, compared without regard to case.
func missingFrom(h http.Header, key string, want []string) []string {
	have := map[string]bool{}
	for _, value := range h.Values(key) {
		for _, item := range strings.Split(value, ",") {
			have[strings.ToLower(strings.TrimSpace(item))] = true
		}
	}
	var missing []string
	for _, w := range want {
		if !have[strings.ToLower(w)] {
			missing = append(missing, w)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s lacks %s", key, strings.Join(missing, ", "))}
}

// checkAuthRequired: the API refuses a request without a token, with a token
// signed by an unknown key, and with an unsigned token.
func checkAuthRequired(ctx context.Context, t *target) error {
	forged, err := forgedToken(t.cfg.Issuer)
	if err != nil {
		return err
	}
	attempts := []struct{ what, token string }{
		{"without a token", ""},
		{"with a token signed by an unknown key", forged},
		{`with an unsigned ("alg":"none") token`, unsignedToken(t.cfg.Issuer)},
	}
	for _, a := range attempts {
		resp, err := t.api.WithToken(a.token).Do(ctx, client.Request{Method: http.MethodGet, Path: tasksPath})
		if err != nil {
			return err
		}
		if problem := unauthorizedProblem(resp); problem != "" {
			return fmt.Errorf("GET %s %s: %s", tasksPath, a.what, problem)
		}
	}
	return nil
}

// unauthorizedProblem says how resp falls short of the contract's 401, or "".
func unauthorizedProblem(resp *client.Response) string {
	if resp.Status != http.StatusUnauthorized {
		return fmt.Sprintf("answered %d, want 401", resp.Status)
	}
	if challenge := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(challenge), "bearer") {
		return fmt.Sprintf("WWW-Authenticate is %q, want a Bearer challenge", challenge)
	}
	return problemDocumentProblem(resp)
}

// problemDocumentProblem says how resp falls short of an RFC 9457 problem
// document with its own status, or "".
func problemDocumentProblem(resp *client.Response) string {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "application/problem+json" {
		return fmt.Sprintf("Content-Type is %q, want application/problem+json", resp.Header.Get("Content-Type"))
	}
	var doc client.Problem
	if err := json.Unmarshal(resp.Body, &doc); err != nil || doc.Status != resp.Status {
		return fmt.Sprintf("the body is not a problem document with status %d", resp.Status)
	}
	return ""
}

// docsPaths are served in development only.
var docsPaths = []string{"/docs", "/redoc", "/openapi.json"}

// checkDocsHidden: the deployment runs in production, where the API's
// documentation is not served. Outside production the check fails: a
// deployment left in development mode is the mistake it exists to catch.
func checkDocsHidden(ctx context.Context, t *target) error {
	environment, err := t.environment(ctx)
	if err != nil {
		return err
	}
	served, err := t.servedDocs(ctx)
	if err != nil {
		return err
	}
	if environment != "production" {
		what := "no docs served"
		if len(served) > 0 {
			what = "docs served at " + strings.Join(served, ", ")
		}
		return fmt.Errorf(`GET / reports environment %q, not "production" (%s): set ENVIRONMENT=production on the deployment`, environment, what)
	}
	if len(served) > 0 {
		return fmt.Errorf("in production %s must be 404, but answered", strings.Join(served, ", "))
	}
	if t.info.Docs != nil {
		return fmt.Errorf(`GET / advertises "docs": %q in production, want null`, *t.info.Docs)
	}
	return nil
}

// servedDocs returns the documentation paths that do not answer 404, each
// with its status.
func (t *target) servedDocs(ctx context.Context) ([]string, error) {
	var served []string
	for _, path := range docsPaths {
		resp, err := t.api.Do(ctx, client.Request{Method: http.MethodGet, Path: path})
		if err != nil {
			return nil, err
		}
		if resp.Status != http.StatusNotFound {
			served = append(served, fmt.Sprintf("%s (%d)", path, resp.Status))
		}
	}
	return served, nil
}

const metricsPath = "/metrics"

// checkMetricsProtected: GET /metrics is not open to the public. In
// production it answers 404 (no METRICS_TOKEN set) or a 401 problem, both
// without a token and with a wrong one; outside production it is open,
// which the check reports as the misconfiguration it is.
func checkMetricsProtected(ctx context.Context, t *target) error {
	environment, err := t.environment(ctx)
	if err != nil {
		return err
	}
	attempts := []struct{ what, token string }{
		{"without a token", ""},
		{"with a wrong token", "not-the-metrics-token-0123456789abcdef"},
	}
	for _, a := range attempts {
		resp, err := t.api.WithToken(a.token).Do(ctx, client.Request{Method: http.MethodGet, Path: metricsPath})
		if err != nil {
			return err
		}
		switch {
		case resp.Status == http.StatusNotFound:
			if problem := problemDocumentProblem(resp); problem != "" {
				return fmt.Errorf("GET %s %s: %s", metricsPath, a.what, problem)
			}
		case resp.Status == http.StatusUnauthorized:
			if problem := unauthorizedProblem(resp); problem != "" {
				return fmt.Errorf("GET %s %s: %s", metricsPath, a.what, problem)
			}
		case environment != "production":
			return fmt.Errorf(`GET %s %s answered %d: open, as outside production; GET / reports environment %q: set ENVIRONMENT=production (and METRICS_TOKEN for Prometheus)`,
				metricsPath, a.what, resp.Status, environment)
		default:
			return fmt.Errorf("GET %s %s answered %d, want 401 or 404: the metrics must not be public", metricsPath, a.what, resp.Status)
		}
	}
	return nil
}

// securityHeaders are the headers every answer carries, with the value each
// must have ("" = any non-empty value).
var securityHeaders = []struct{ name, want string }{
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", ""},
	{"X-Request-ID", ""},
}

// checkSecurityHeaders: a success, a 401 and a 404 each carry the security
// headers, and in production Strict-Transport-Security as well.
func checkSecurityHeaders(ctx context.Context, t *target) error {
	environment, err := t.environment(ctx)
	if err != nil {
		return err
	}
	requests := []client.Request{
		{Method: http.MethodGet, Path: "/"},
		{Method: http.MethodGet, Path: tasksPath},
		{Method: http.MethodGet, Path: "/verify-no-such-path"},
	}
	var problems []string
	for _, req := range requests {
		resp, err := t.api.Do(ctx, req)
		if err != nil {
			return err
		}
		for _, missing := range headerProblems(resp.Header, environment == "production") {
			problems = append(problems, fmt.Sprintf("%s %s (%d): %s", req.Method, req.Path, resp.Status, missing))
		}
	}
	return joinProblems("security headers", problems)
}

func headerProblems(h http.Header, production bool) []string {
	var problems []string
	for _, sh := range securityHeaders {
		got := h.Get(sh.name)
		switch {
		case got == "":
			problems = append(problems, sh.name+" is missing")
		case sh.want != "" && !strings.EqualFold(got, sh.want):
			problems = append(problems, fmt.Sprintf("%s is %q, want %q", sh.name, got, sh.want))
		}
	}
	if production {
		hsts := strings.ToLower(h.Get("Strict-Transport-Security"))
		if !strings.Contains(hsts, "max-age=") || strings.Contains(hsts, "max-age=0") {
			problems = append(problems, "Strict-Transport-Security with a max-age is missing")
		}
	}
	return problems
}

// joinProblems is nil without problems, else one error listing them all.
func joinProblems(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", what, strings.Join(problems, "; "))
}
