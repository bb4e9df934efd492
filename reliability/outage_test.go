package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// The request deadline the outage tests run with, and how much later than
// it a failed request may answer (scheduling on a loaded 2-core machine).
const (
	outageQueryTimeout  = 2 * time.Second
	outageHealthTimeout = time.Second
	deadlineSlack       = time.Second
	maxRecovery         = 5 * time.Second
)

// TestDatabaseOutage cuts the app off PostgreSQL under light load: new
// connections are refused and open ones reset. Requests must fail fast
// with 503 problem documents (never a 500, never a hang past the request
// deadline), /health must say 503, and when the database comes back the
// app must recover on its own, with every acknowledged write still there.
func TestDatabaseOutage(t *testing.T) {
	runOutage(t, "cut", (*apptest.TCPProxy).Close, (*apptest.TCPProxy).Reopen)
}

// TestDatabaseHang is the outage where the database stops answering but
// keeps its connections open, like a paused PgBouncer: requests must still
// fail with 503 within the request deadline.
func TestDatabaseHang(t *testing.T) {
	runOutage(t, "hang", (*apptest.TCPProxy).Pause, (*apptest.TCPProxy).Resume)
}

// runOutage puts the app behind a TCP proxy to PostgreSQL, applies fault
// under load, and restores the network three seconds later.
func runOutage(t *testing.T, kind string, fault, restore func(*apptest.TCPProxy)) {
	skipInShort(t)
	db := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, db.URL))
	s := startOutageServer(t, db, proxy.URL(db.URL))
	runOutageOn(t, kind, s, db, func() { fault(proxy) }, func() { restore(proxy) })
}

// startOutageServer starts the app on the database at appURL (db's, seen
// through whatever the test put in between) with the outage tests'
// deadlines.
func startOutageServer(t *testing.T, db apptest.Database, appURL string) *apptest.Server {
	t.Helper()
	return apptest.Start(t, apptest.Database{Name: db.Name, URL: appURL}, map[string]string{
		"DB_QUERY_TIMEOUT": outageQueryTimeout.String(),
		"HEALTH_TIMEOUT":   outageHealthTimeout.String(),
	})
}

// runOutageOn loads the app s, applies fault, calls restore three seconds
// later, and checks every answer, the recovery and db's rows.
func runOutageOn(t *testing.T, kind string, s *apptest.Server, db apptest.Database, fault, restore func()) {
	t.Helper()
	_, token := userToken(t)
	load := startLoad(s.URL, token, 4)

	time.Sleep(1500 * time.Millisecond)
	cutAt := time.Now()
	fault()
	time.Sleep(300 * time.Millisecond) // let in-flight requests fail first
	health := send(context.Background(), newClient(false, 10*time.Second), s.URL, call{Method: http.MethodGet, Path: "/health"})
	time.Sleep(2700 * time.Millisecond)
	restoreAt := time.Now()
	restore()
	recovered := load.waitForSuccessAfter(restoreAt, 3*maxRecovery)
	time.Sleep(1500 * time.Millisecond)
	samples := load.stop()

	before, during, after := splitAt(samples, cutAt, restoreAt)
	acked := load.acknowledged()
	missing := missingTasks(t, openDirect(t, db.URL), acked)
	stats := summarize(during)
	t.Logf("%s: requests sent %d (before %d, during %d, after %d); 2xx %d, 503 %d, other 5xx %d, broken exchanges %d; during the outage: 503 %d, latency p50 %s max %s",
		kind, len(samples), len(before), len(during), len(after), countSuccesses(samples), count503(samples), countOther5xx(samples), countBroken(samples),
		stats.unavailable, stats.p50, stats.max)
	t.Logf("%s: recovery time (restore to first success) %s; writes acknowledged %d, found %d", kind, recovered.Round(100*time.Microsecond), len(acked), len(acked)-len(missing))

	requireAllSucceeded(t, "before the outage", before)
	requireSuccessOr503(t, samples, outageQueryTimeout+deadlineSlack)
	if stats.unavailable == 0 {
		t.Errorf("no request saw 503 during the outage: the fault did not bite")
	}
	if health.Status != http.StatusServiceUnavailable || health.Duration > outageHealthTimeout+deadlineSlack ||
		!strings.Contains(string(health.Body), `"database":"unavailable"`) {
		t.Errorf("/health during the outage: want 503 within %s, got %s", outageHealthTimeout+deadlineSlack, health)
	}
	if recovered < 0 || recovered > maxRecovery {
		t.Fatalf("the app did not recover within %s of the database's return (took %s)", maxRecovery, recovered)
	}
	requireAllSucceeded(t, "a second after recovery", since(after, restoreAt.Add(recovered+time.Second)))
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged writes are missing, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
	}
	requireHealthy(t, s.URL)
}

// load is a few clients creating and listing tasks in a loop.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	samples []sample
	acked   []string
}

type sample struct {
	at  time.Time // when the request was sent
	end time.Time // when its outcome was known
	op  string
	out outcome
}

func startLoad(baseURL, token string, workers int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	client := newClient(true, 30*time.Second)
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				title := fmt.Sprintf("load-%d-%d", w, n)
				l.record("create", send(context.Background(), client, baseURL, call{Method: http.MethodPost, Path: tasksPath, Token: token,
					Body: []byte(`{"title":"` + title + `"}`)}))
				l.record("list", send(context.Background(), client, baseURL, call{Method: http.MethodGet, Path: tasksPath + "?limit=5", Token: token}))
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) record(op string, out outcome) {
	end := time.Now()
	s := sample{at: end.Add(-out.Duration), end: end, op: op, out: out}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, s)
	if op == "create" && out.Status == http.StatusCreated {
		if id := idOf(out.Body); id != "" {
			l.acked = append(l.acked, id)
		}
	}
}

// waitForSuccessAfter returns how long after t0 the first success of a
// request sent after t0 arrived, or -1 if none did within timeout.
func (l *load) waitForSuccessAfter(t0 time.Time, timeout time.Duration) time.Duration {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		first := time.Time{}
		for _, s := range l.samples {
			if s.at.After(t0) && s.out.Status/100 == 2 && (first.IsZero() || s.end.Before(first)) {
				first = s.end
			}
		}
		l.mu.Unlock()
		if !first.IsZero() {
			return first.Sub(t0)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return -1
}

func (l *load) stop() []sample {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

func (l *load) acknowledged() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acked)
}

// splitAt sorts samples into those finished before t1, those sent before
// t2 that were still running at t1 or later, and those sent from t2 on.
func splitAt(samples []sample, t1, t2 time.Time) (before, during, after []sample) {
	for _, s := range samples {
		switch {
		case s.end.Before(t1):
			before = append(before, s)
		case s.at.Before(t2):
			during = append(during, s)
		default:
			after = append(after, s)
		}
	}
	return before, during, after
}

func since(samples []sample, t0 time.Time) []sample {
	var out []sample
	for _, s := range samples {
		if !s.at.Before(t0) {
			out = append(out, s)
		}
	}
	return out
}

type outageStats struct {
	unavailable int
	p50, max    time.Duration
}

func summarize(samples []sample) outageStats {
	var st outageStats
	var durations []time.Duration
	for _, s := range samples {
		durations = append(durations, s.out.Duration)
		if s.out.Status == http.StatusServiceUnavailable {
			st.unavailable++
		}
	}
	if len(durations) > 0 {
		slices.Sort(durations)
		st.p50 = durations[len(durations)/2].Round(time.Millisecond)
		st.max = durations[len(durations)-1].Round(time.Millisecond)
	}
	return st
}

func countSuccesses(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.out.Err == nil && s.out.Status/100 == 2 {
			n++
		}
	}
	return n
}

func count503(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.out.Status == http.StatusServiceUnavailable {
			n++
		}
	}
	return n
}

// countBroken counts the requests that got no complete answer.
func countBroken(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.out.Err != nil {
			n++
		}
	}
	return n
}

func countOther5xx(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.out.Status >= 500 && s.out.Status != http.StatusServiceUnavailable {
			n++
		}
	}
	return n
}

func requireAllSucceeded(t testing.TB, when string, samples []sample) {
	t.Helper()
	for _, s := range samples {
		if s.out.Err != nil || s.out.Status/100 != 2 {
			t.Fatalf("%s: %s %s", when, s.op, s.out)
		}
	}
}

// requireSuccessOr503 checks every request of the run: each one succeeded
// or is a 503 problem document with Retry-After (never another 5xx, never
// a broken exchange), and none took longer than limit.
func requireSuccessOr503(t testing.TB, samples []sample, limit time.Duration) {
	t.Helper()
	for _, s := range samples {
		o := s.out
		switch {
		case o.Err != nil:
			t.Errorf("%s: %s", s.op, o)
		case o.Status == http.StatusServiceUnavailable:
			if shape := problemShape(o); shape != "" {
				t.Errorf("%s: 503 is not a problem document: %s", s.op, shape)
			}
			if o.Header.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", s.op)
			}
		case o.Status/100 != 2:
			t.Errorf("%s: want 503 or a success, got %s", s.op, o)
		}
		if o.Duration > limit {
			t.Errorf("%s took %s, more than the deadline allows (%s)", s.op, o.Duration.Round(time.Millisecond), limit)
		}
	}
}

func requireHealthy(t testing.TB, baseURL string) {
	t.Helper()
	o := send(context.Background(), newClient(false, 10*time.Second), baseURL, call{Method: http.MethodGet, Path: "/health"})
	requireStatus(t, o, http.StatusOK)
}
