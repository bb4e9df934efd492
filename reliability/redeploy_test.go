package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// TestRedeploy sends SIGTERM to the real binary while clients write over
// keep-alive and fresh connections. Every request the server accepted
// before the signal must complete; clients see a success, a refused
// connection or a connection closed before any response byte, never a
// response cut short; the process exits 0; every 201 has its row, and no
// request that failed left one behind.
//
// To be sure requests are in flight when the signal arrives, the database
// is paused for a moment around it (through a TCP proxy): every client
// then has a request waiting on it, which must still finish with 201.
func TestRedeploy(t *testing.T) {
	skipInShort(t)
	db := apptest.Postgres(t)
	proxy := apptest.NewTCPProxy(t, apptest.TargetOf(t, db.URL))
	p := runServer(t, processEnv(proxy.URL(db.URL), map[string]string{
		"DB_QUERY_TIMEOUT": "5s",
		"SHUTDOWN_TIMEOUT": "10s",
	}))
	writers := startWriters(t, p.URL, 4, 4)
	time.Sleep(time.Second)
	proxy.Pause()
	time.Sleep(400 * time.Millisecond)
	signalAt := time.Now()
	p.Signal(t, syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond)
	proxy.Resume()
	exitCode := p.WaitExit(t, 15*time.Second)
	shutdown := time.Since(signalAt)
	time.Sleep(200 * time.Millisecond) // clients meet the closed port
	results := writers.stop()

	titles := taskTitles(t, openDirect(t, db.URL))
	var created, found, serverErrors, refusedN, closedEarly, inFlight, inFlightDone int
	for _, r := range results {
		switch {
		case r.out.Status == http.StatusCreated:
			created++
			if titles[r.title] {
				found++
			} else {
				t.Errorf("%q was acknowledged with 201 but has no row", r.title)
			}
		case r.out.Err == nil:
			if r.out.Status >= 500 {
				serverErrors++
			}
			t.Errorf("%q: want 201 or a refused connection, got %s", r.title, r.out)
		case r.out.Failure == refused:
			refusedN++
		case r.out.Failure == beforeResponse:
			closedEarly++
			if titles[r.title] {
				t.Errorf("%q failed without a response (%v) but its row exists: the server did the work and dropped the answer", r.title, r.out.Err)
			}
		default:
			t.Errorf("%q: %s", r.title, r.out)
		}
		if r.at.Before(signalAt.Add(-100*time.Millisecond)) && r.end.After(signalAt) {
			inFlight++
			if r.out.Status != http.StatusCreated {
				t.Errorf("%q was in flight when SIGTERM arrived and did not complete: %s", r.title, r.out)
				continue
			}
			inFlightDone++
			if !r.out.Close {
				// Without it a keep-alive client sends its next request on a
				// connection the server is closing, and cannot tell whether
				// that request was done.
				t.Errorf("%q completed during shutdown without Connection: close", r.title)
			}
		}
	}
	t.Logf("redeploy: requests sent %d; 5xx seen %d; writes acknowledged %d, found %d; refused %d; closed before response %d; in flight at SIGTERM %d, completed %d; shutdown took %s; exit code %d",
		len(results), serverErrors, created, found, refusedN, closedEarly, inFlight, inFlightDone, shutdown.Round(time.Millisecond), exitCode)

	if exitCode != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", exitCode)
	}
	if inFlight == 0 {
		t.Errorf("no request was in flight at SIGTERM: the test proved nothing")
	}
	if lines := p.ErrorLines(); len(lines) > 0 {
		t.Errorf("the server logged errors during the redeploy:\n%v", lines)
	}
}

// writers create tasks in a loop, some over keep-alive connections and
// some on a new connection each time, and remember every outcome.
type writers struct {
	stopped atomic.Bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []writeResult
}

type writeResult struct {
	title   string
	at, end time.Time
	out     outcome
}

// startWriters starts keepAlive+fresh writers, each as its own user.
func startWriters(t testing.TB, baseURL string, keepAlive, fresh int) *writers {
	w := &writers{}
	shared := newClient(true, 30*time.Second)
	for i := range keepAlive + fresh {
		client := shared
		if i >= keepAlive {
			client = newClient(false, 30*time.Second)
		}
		_, token := userToken(t)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for n := 0; !w.stopped.Load(); n++ {
				title := fmt.Sprintf("redeploy-%d-%d", i, n)
				at := time.Now()
				out := send(context.Background(), client, baseURL, call{Method: http.MethodPost, Path: tasksPath, Token: token,
					Body: []byte(`{"title":"` + title + `"}`)})
				w.mu.Lock()
				w.results = append(w.results, writeResult{title: title, at: at, end: time.Now(), out: out})
				w.mu.Unlock()
				if out.Err != nil {
					time.Sleep(20 * time.Millisecond) // the server is going away; don't spin
				}
			}
		}()
	}
	return w
}

func (w *writers) stop() []writeResult {
	w.stopped.Store(true)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.results
}
