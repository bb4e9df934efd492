package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

// chromiumPath is Debian's Chromium, the browser CI installs.
const chromiumPath = "/usr/bin/chromium"

// Bounds on the browser, so a stuck page fails the test instead of hanging it.
const (
	browserStartTimeout = 30 * time.Second
	pageTimeout         = 30 * time.Second
)

// etagPattern is a strong or weak entity tag, as RFC 9110 writes them.
var etagPattern = regexp.MustCompile(`^(W/)?"[\x21\x23-\x7e]+"$`)

// TestBrowser drives the real app from headless Chromium: the frontend's
// cross-origin calls as the browser enforces CORS on them, and the
// documentation pages as a person opens them.
func TestBrowser(t *testing.T) {
	t.Parallel()
	browser := startBrowser(t)

	t.Run("cross-origin", func(t *testing.T) {
		allowed := startPageServer(t)
		unlisted := startPageServer(t)
		s := apptest.Start(t, apptest.SQLite(t), map[string]string{"CORS_ORIGINS": allowed})

		t.Run("allowed origin works through the API", func(t *testing.T) {
			testAllowedOrigin(t, browser, s, allowed)
		})
		t.Run("unlisted origin is blocked by the browser", func(t *testing.T) {
			testUnlistedOrigin(t, browser, s, unlisted)
		})
		t.Run("allowed origin follows the change feed", func(t *testing.T) {
			testAllowedFeed(t, browser, s, allowed)
		})
		t.Run("the feed outlives token expiry and a cut, losing nothing", func(t *testing.T) {
			testFeedRenews(t, browser, allowed)
		})
		t.Run("unlisted origin gets no feed ticket", func(t *testing.T) {
			testUnlistedFeed(t, browser, s, unlisted)
		})
	})

	t.Run("docs render in development", func(t *testing.T) {
		s := apptest.Start(t, apptest.SQLite(t), map[string]string{"ENVIRONMENT": "development"})
		testDocsRender(t, browser, s.URL)
	})

	t.Run("no docs in production", func(t *testing.T) {
		// Production accepts only PostgreSQL, https:// origins and long secrets.
		s := apptest.Start(t, apptest.Postgres(t), map[string]string{
			"ENVIRONMENT":  "production",
			"CORS_ORIGINS": "https://app.example.com",
		})
		testNoDocs(t, browser, s)
	})
}

func testAllowedOrigin(t *testing.T, browser context.Context, s *apptest.Server, origin string) {
	userID := uuid.NewString()
	page := runPage(t, browser, pageURL(origin, s.URL, apptest.Token(t, userID), "crud"))
	if page.Error != "" {
		t.Fatalf("the page's calls failed: %s\nobserved: %+v\nconsole:\n%s", page.Error, page.Steps, page.Console)
	}

	created := page.step(t, "create")
	requireStep(t, created, http.StatusCreated)
	var task client.Task
	created.decode(t, &task)
	if task.Title != "Written from the browser" || task.Priority != "high" || task.Completed {
		t.Fatalf("created task = %+v, want the title sent, priority high, not completed", task)
	}
	requireExposedHeaders(t, created)
	if loc, err := url.Parse(created.Location); err != nil || loc.Path != "/api/v1/tasks/"+task.ID {
		t.Fatalf("Location = %q, want a path of /api/v1/tasks/%s", created.Location, task.ID)
	}

	listed := page.step(t, "list")
	requireStep(t, listed, http.StatusOK)
	var list client.TaskList
	listed.decode(t, &list)
	if list.Total != 1 || len(list.Items) != 1 || list.Items[0].ID != task.ID || list.Items[0].Title != task.Title {
		t.Fatalf("list = %+v, want exactly the created task", list)
	}

	patched := page.step(t, "patch")
	requireStep(t, patched, http.StatusOK)
	var done client.Task
	patched.decode(t, &done)
	if !done.Completed || done.CompletedAt == nil {
		t.Fatalf("patched task = %+v, want completed with a completed_at", done)
	}
	requireExposedHeaders(t, patched)
	if patched.ETag == created.ETag {
		t.Fatalf("ETag after PATCH = %s, the same as before it", patched.ETag)
	}

	stale := page.step(t, "stalePatch")
	requireStep(t, stale, http.StatusPreconditionFailed)
	requireProblemStep(t, stale, http.StatusPreconditionFailed)

	requireStep(t, page.step(t, "delete"), http.StatusNoContent)
	gone := page.step(t, "afterDelete")
	requireStep(t, gone, http.StatusNotFound)
	requireProblemStep(t, gone, http.StatusNotFound)

	// If-Match is not a safelisted header: the browser must have asked first.
	if n := countRequests(accessLog(t, s.Logs()), http.MethodOptions, "/api/v1/tasks/"+task.ID); n == 0 {
		t.Fatalf("no preflight (OPTIONS /api/v1/tasks/%s) reached the server before the PATCH", task.ID)
	}
	requireTaskCount(t, s, userID, 0)
}

func testUnlistedOrigin(t *testing.T, browser context.Context, s *apptest.Server, origin string) {
	userID := uuid.NewString()
	before := accessLog(t, s.Logs())
	page := runPage(t, browser, pageURL(origin, s.URL, apptest.Token(t, userID), "blocked"))
	if page.Error != "" {
		t.Fatalf("the page failed: %s", page.Error)
	}
	after := accessLog(t, s.Logs())
	sent := func(method, path string) int {
		return countRequests(after, method, path) - countRequests(before, method, path)
	}

	// The simple GET reaches the server, which answers; the browser hides the answer.
	requireRejected(t, page.step(t, "simpleGet"))
	if n := sent(http.MethodGet, "/health/live"); n != 1 {
		t.Fatalf("GET /health/live reached the server %d times, want 1: a simple request is sent, only its answer is hidden", n)
	}

	// The POST needs a preflight; refused, the POST itself is never sent.
	requireRejected(t, page.step(t, "create"))
	if n := sent(http.MethodOptions, "/api/v1/tasks"); n != 1 {
		t.Fatalf("OPTIONS /api/v1/tasks reached the server %d times, want 1 (the refused preflight)", n)
	}
	if n := sent(http.MethodPost, "/api/v1/tasks"); n != 0 {
		t.Fatalf("POST /api/v1/tasks reached the server %d times after a refused preflight, want 0", n)
	}
	if !strings.Contains(page.Console, "blocked by CORS policy") {
		t.Errorf("the browser console does not say CORS blocked the calls:\n%s", page.Console)
	}
	requireTaskCount(t, s, userID, 0)
}

// testAllowedFeed has the page open the change feed with a ticket, then
// writes through the API from here and checks the page was told of it.
func testAllowedFeed(t *testing.T, browser context.Context, s *apptest.Server, origin string) {
	token := apptest.Token(t, uuid.NewString())
	const title = "Announced to the browser"
	var task client.Task
	createTask := func() {
		r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: token,
			Body: map[string]string{"title": title}})
		apptest.RequireStatus(t, r, http.StatusCreated)
		r.JSON(t, &task)
	}
	page := runPageActing(t, browser, pageURL(origin, s.URL, token, "feed"),
		`window.observed.streamOpen`, createTask)
	if page.Error != "" {
		t.Fatalf("the page's feed failed: %s\nobserved: %+v\nconsole:\n%s", page.Error, page, page.Console)
	}
	ticket := page.step(t, "ticket")
	requireStep(t, ticket, http.StatusCreated)

	if page.Event == nil {
		t.Fatalf("the page recorded no event; observed: %+v", page)
	}
	if page.Event.Type != "task.created" {
		t.Fatalf("event type = %q, want task.created", page.Event.Type)
	}
	if id, err := strconv.ParseInt(page.Event.LastEventID, 10, 64); err != nil || id <= 0 {
		t.Fatalf("event id = %q, want a positive decimal integer", page.Event.LastEventID)
	}
	var data struct {
		ID   string      `json:"id"`
		Task client.Task `json:"task"`
	}
	if err := json.Unmarshal([]byte(page.Event.Data), &data); err != nil {
		t.Fatalf("event data is not JSON (%v): %s", err, page.Event.Data)
	}
	if data.ID != task.ID || data.Task.ID != task.ID || data.Task.Title != title {
		t.Fatalf("event data = %s, want id %s and the task titled %q", page.Event.Data, task.ID, title)
	}
}

// feedTokenTTL is the access tokens' lifetime in testFeedRenews: short,
// so that the page's streams end for expiry several times.
const feedTokenTTL = 3 * time.Second

// testFeedRenews has the page follow the feed, through a proxy, as writes
// go on here for longer than the token lives: streams end with "expired"
// and the page refreshes and resumes; then the proxy cuts every connection
// and refuses new ones for a while, as a replica restarting would, and the
// page reconnects. Every write's event must reach the page exactly once,
// in order.
func testFeedRenews(t *testing.T, browser context.Context, origin string) {
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"CORS_ORIGINS": origin, "ACCESS_TOKEN_TTL": feedTokenTTL.String()})
	proxy := apptest.NewTCPProxy(t, strings.TrimPrefix(s.URL, "http://"))
	r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/register",
		Body: map[string]any{"email": "feed-" + uuid.NewString()[:8] + "@example.com", "password": "correct horse battery"}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	var registered struct {
		User         struct{ ID string } `json:"user"`
		AccessToken  string              `json:"access_token"`
		RefreshToken string              `json:"refresh_token"`
	}
	r.JSON(t, &registered)
	writer := apptest.Token(t, registered.User.ID) // outlives the page's tokens
	const writes = 24
	written := 0
	createTask := func() {
		written++
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: writer,
			Body: map[string]string{"title": fmt.Sprintf("write %d", written)}}), http.StatusCreated)
	}
	act := func() {
		// Past two expiries of the page's token, one write every 400 ms.
		for range 18 {
			createTask()
			time.Sleep(400 * time.Millisecond)
		}
		proxy.Close() // a replica going away: every stream cut, no "end"
		for range 3 {
			createTask()
		}
		time.Sleep(1500 * time.Millisecond)
		proxy.Reopen()
		for range writes - 21 {
			createTask()
		}
	}
	fragment := url.Values{"api": {"http://" + proxy.Addr()}, "token": {registered.AccessToken}, "scenario": {"feedRenews"},
		"refresh": {registered.RefreshToken}, "want": {strconv.Itoa(writes)}}
	page := runPageActing(t, browser, origin+"/index.html#"+fragment.Encode(), `window.observed.streamOpen`, act)
	if page.Error != "" {
		t.Fatalf("the page's feed failed: %s\nobserved: %+v\nconsole:\n%s", page.Error, page.Renewals, page.Console)
	}
	got := page.Renewals
	if got == nil {
		t.Fatal("the page recorded nothing of its feed")
	}
	for i, id := range got.Events {
		if id != int64(i+1) {
			t.Fatalf("event ids %v, want 1 to %d, each once, in order", got.Events, writes)
		}
	}
	if len(got.Events) != writes {
		t.Fatalf("%d events, want %d", len(got.Events), writes)
	}
	if len(got.Ends) < 2 || slices.ContainsFunc(got.Ends, func(r string) bool { return r != "expired" }) {
		t.Fatalf("streams ended with %v, want two or more, all \"expired\"", got.Ends)
	}
	if got.Cuts < 1 || got.Opens < len(got.Ends)+2 {
		t.Fatalf("%d streams opened, %d cut, %d ended: want the page to have reconnected after each", got.Opens, got.Cuts, len(got.Ends))
	}
	t.Logf("%d events over %d streams: %d ended (%v), %d cut", len(got.Events), got.Opens, len(got.Ends), got.Ends, got.Cuts)
}

// testUnlistedFeed checks that a page on an unlisted origin cannot even
// ask for a ticket: the preflight is refused and the POST never sent.
func testUnlistedFeed(t *testing.T, browser context.Context, s *apptest.Server, origin string) {
	before := accessLog(t, s.Logs())
	page := runPage(t, browser, pageURL(origin, s.URL, apptest.Token(t, uuid.NewString()), "feedBlocked"))
	if page.Error != "" {
		t.Fatalf("the page failed: %s", page.Error)
	}
	after := accessLog(t, s.Logs())
	sent := func(method, path string) int {
		return countRequests(after, method, path) - countRequests(before, method, path)
	}

	requireRejected(t, page.step(t, "ticket"))
	if n := sent(http.MethodOptions, "/api/v1/events/ticket"); n != 1 {
		t.Fatalf("OPTIONS /api/v1/events/ticket reached the server %d times, want 1 (the refused preflight)", n)
	}
	if n := sent(http.MethodPost, "/api/v1/events/ticket"); n != 0 {
		t.Fatalf("POST /api/v1/events/ticket reached the server %d times after a refused preflight, want 0", n)
	}
	if !strings.Contains(page.Console, "blocked by CORS policy") {
		t.Errorf("the browser console does not say CORS blocked the call:\n%s", page.Console)
	}
}

func testDocsRender(t *testing.T, browser context.Context, baseURL string) {
	ctx, done := newTab(t, browser)
	defer done()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(baseURL+"/docs"))
	if err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /docs status = %d, want 200", resp.Status)
	}
	// Swagger UI draws the operations after it has fetched /openapi.json;
	// it puts zero-width spaces between path segments, hence the replace.
	const rendered = `(() => {
		const text = document.body ? document.body.innerText.replace(/\u200b/g, "") : "";
		return text.includes("/api/v1/tasks");
	})()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](rendered, chromedp.WithPollingTimeout(pageTimeout))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("/docs did not show the tasks operations (%v); page text:\n%.2000s", err, text)
	}
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll(".opblock-summary-path")).map(e => e.dataset.path)`))
	if err != nil {
		t.Fatalf("read the rendered operations: %v", err)
	}
	for _, want := range []string{"/api/v1/tasks", "/api/v1/tasks/{id}", "/api/v1/tags", "/api/v1/auth/login"} {
		if !slices.Contains(paths, want) {
			t.Errorf("/docs lists no operation on %s; it lists %v", want, paths)
		}
	}
}

func testNoDocs(t *testing.T, browser context.Context, s *apptest.Server) {
	ctx, done := newTab(t, browser)
	defer done()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(s.URL+"/docs"))
	if err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	if resp.Status != http.StatusNotFound {
		t.Fatalf("GET /docs in production: status = %d, want 404", resp.Status)
	}
	for _, path := range []string{"/redoc", "/openapi.json"} {
		apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: path}), http.StatusNotFound)
	}
	info := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/"})
	apptest.RequireStatus(t, info, http.StatusOK)
	if docs, ok := info.Map(t)["docs"]; !ok || docs != nil {
		t.Fatalf(`GET / in production: "docs" = %v, want null`, docs)
	}
}

// startBrowser launches headless Chromium for the whole test and closes it
// at the end.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	requireTool(t, fileExists(chromiumPath), "Chromium is not installed at "+chromiumPath+" (apt-get install chromium)")
	output := &apptest.LogBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root, where the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(output),
	)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
	})
	// The first Run starts the browser and ties it to its context, so it
	// cannot take a timeout of its own: a timer cancels it instead.
	timer := time.AfterFunc(browserStartTimeout, cancelBrowser)
	err := chromedp.Do(ctx)
	timer.Stop()
	if err != nil {
		t.Fatalf("start Chromium: %v\n%s", err, output.String())
	}
	return ctx
}

// newTab opens a tab with a time limit in a browser context of its own
// (like a new incognito window): no cache, cookie or preflight result is
// shared between tabs. done closes it, and disposing of the browser context
// also closes its idle connections, which would otherwise keep the app's
// graceful shutdown waiting.
func newTab(t *testing.T, browser context.Context) (context.Context, func()) {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(tab, pageTimeout)
	return ctx, func() { cancel(); closeTab() }
}

// startPageServer serves testdata/browser from its own loopback origin,
// which it returns (scheme, host and port: what the browser sends as Origin).
func startPageServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir("testdata/browser")))
	t.Cleanup(srv.Close)
	return srv.URL
}

// pageURL is the client page on origin, told in its fragment which API to
// call with which token. The fragment never leaves the browser.
func pageURL(origin, api, token, scenario string) string {
	fragment := url.Values{"api": {api}, "token": {token}, "scenario": {scenario}}
	return origin + "/index.html#" + fragment.Encode()
}

// pageObservation is what the client page recorded in window.observed,
// plus the browser console's messages while it ran.
type pageObservation struct {
	Scenario string               `json:"scenario"`
	Done     bool                 `json:"done"`
	Error    string               `json:"error"`
	Steps    map[string]fetchStep `json:"steps"`
	// StreamOpen and Event are the change feed's: whether the EventSource
	// opened, and the first task.created event it received.
	StreamOpen bool       `json:"streamOpen"`
	Event      *feedEvent `json:"event"`
	// Renewals is what the feedRenews scenario saw.
	Renewals *feedRenewals `json:"renewals"`
	Console  string        `json:"-"`
}

// feedRenewals is what a page that reconnects by itself saw: the ids of
// its task.created events, why each stream the server ended ended, how
// many streams it opened and how many were cut.
type feedRenewals struct {
	Events []int64  `json:"events"`
	Ends   []string `json:"ends"`
	Opens  int      `json:"opens"`
	Cuts   int      `json:"cuts"`
}

// feedEvent is a server-sent event as the page's EventSource delivered it.
type feedEvent struct {
	Type        string `json:"type"`
	LastEventID string `json:"lastEventId"`
	Data        string `json:"data"`
}

// fetchStep is one call as the page's JavaScript saw it. Headers the server
// does not expose read as null, so they decode as "".
type fetchStep struct {
	Name        string          `json:"-"`
	Status      int             `json:"status"`
	ContentType string          `json:"contentType"`
	ETag        string          `json:"etag"`
	Location    string          `json:"location"`
	RequestID   string          `json:"requestId"`
	Body        json.RawMessage `json:"body"`
	Rejected    bool            `json:"rejected"`
	ErrorName   string          `json:"errorName"`
	Message     string          `json:"message"`
}

func (p pageObservation) step(t *testing.T, name string) fetchStep {
	t.Helper()
	s, ok := p.Steps[name]
	if !ok {
		t.Fatalf("the page recorded no %q step; it recorded %+v", name, p.Steps)
	}
	s.Name = name
	return s
}

func (s fetchStep) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(s.Body, v); err != nil {
		t.Fatalf("%s: body is not the expected JSON (%v): %s", s.Name, err, s.Body)
	}
}

// runPage opens pageURL in a new tab, waits until its script has finished
// and reads what it recorded.
func runPage(t *testing.T, browser context.Context, pageURL string) pageObservation {
	t.Helper()
	return runPageActing(t, browser, pageURL, "", nil)
}

// runPageActing is runPage that, once the JavaScript condition cue holds,
// calls act while the page keeps running. A page that finishes before the
// cue (it failed) is read without act.
func runPageActing(t *testing.T, browser context.Context, pageURL, cue string, act func()) pageObservation {
	t.Helper()
	ctx, done := newTab(t, browser)
	defer done()
	// Create the tab before subscribing to its console, so nothing is missed.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	console := collectConsole(ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("open the client page: %v", err)
	}
	if act != nil {
		ready := fmt.Sprintf(`window.observed !== undefined && (window.observed.done || (%s))`, cue)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](ready, chromedp.WithPollingTimeout(pageTimeout))); err != nil {
			t.Fatalf("the client page never got to %s: %v\nconsole:\n%s", cue, err, console.String())
		}
		if done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.observed.done`)); err != nil {
			t.Fatalf("read window.observed.done: %v", err)
		} else if !done {
			act()
		}
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.observed !== undefined && window.observed.done`,
		chromedp.WithPollingTimeout(pageTimeout))); err != nil {
		t.Fatalf("the client page did not finish: %v\nconsole:\n%s", err, console.String())
	}
	page, err := chromedp.Run(ctx, chromedp.Evaluate[pageObservation](`window.observed`))
	if err != nil {
		t.Fatalf("read window.observed: %v", err)
	}
	page.Console = console.String()
	return page
}

// consoleLog collects a tab's console messages (Chromium reports CORS
// refusals there) until the tab closes.
type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func collectConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	messages := chromedp.Console(ctx) // subscribes now, before the page loads
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.lines = append(c.lines, m.String())
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func requireStep(t *testing.T, s fetchStep, status int) {
	t.Helper()
	if s.Rejected {
		t.Fatalf("%s: the browser rejected the call (%s: %s), want status %d", s.Name, s.ErrorName, s.Message, status)
	}
	if s.Status != status {
		t.Fatalf("%s: status = %d, want %d; body: %s", s.Name, s.Status, status, s.Body)
	}
}

// requireExposedHeaders checks that JavaScript on the other origin can read
// the headers the contract exposes.
func requireExposedHeaders(t *testing.T, s fetchStep) {
	t.Helper()
	if !etagPattern.MatchString(s.ETag) {
		t.Fatalf("%s: ETag as JavaScript reads it = %q, want an entity tag (is it exposed?)", s.Name, s.ETag)
	}
	if s.RequestID == "" {
		t.Fatalf("%s: JavaScript cannot read X-Request-ID (is it exposed?)", s.Name)
	}
}

func requireProblemStep(t *testing.T, s fetchStep, status int) {
	t.Helper()
	if !strings.HasPrefix(s.ContentType, "application/problem+json") {
		t.Fatalf("%s: Content-Type = %q, want application/problem+json", s.Name, s.ContentType)
	}
	var problem client.Problem
	s.decode(t, &problem)
	if problem.Status != status || problem.Title == "" || problem.RequestID != s.RequestID {
		t.Fatalf("%s: problem = %+v, want status %d, a title and request_id %q", s.Name, problem, status, s.RequestID)
	}
}

// requireRejected checks that fetch rejected with the TypeError a browser
// gives for a cross-origin call it refuses.
func requireRejected(t *testing.T, s fetchStep) {
	t.Helper()
	if !s.Rejected {
		t.Fatalf("%s: the browser let the page read the answer (status %d), want the call refused", s.Name, s.Status)
	}
	if s.ErrorName != "TypeError" {
		t.Fatalf("%s: fetch rejected with %s (%s), want TypeError", s.Name, s.ErrorName, s.Message)
	}
}

// requireTaskCount checks, through the API, how many tasks userID has.
func requireTaskCount(t *testing.T, s *apptest.Server, userID string, want int) {
	t.Helper()
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: apptest.Token(t, userID)})
	apptest.RequireStatus(t, r, http.StatusOK)
	var list struct {
		Items []json.RawMessage `json:"items"`
		Total *int              `json:"total"`
	}
	r.JSON(t, &list)
	if list.Total == nil || *list.Total != want || len(list.Items) != want {
		t.Fatalf("user has %d tasks listed (total %v), want %d: %s", len(list.Items), list.Total, want, r.Body)
	}
}
