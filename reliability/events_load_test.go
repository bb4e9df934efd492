package reliability

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
	"taskflow/app/eventstest"
	"taskflow/realtime"
)

const (
	loadUsers   = 50
	loadWrites  = 300 // creates and patches, spread over the users
	loadWriters = 4
	loadListers = 2
	// loadMaxRSS is a generous ceiling on the server's resident memory with
	// 500 streams open under write load: a leak per stream or per event
	// would blow far past it.
	loadMaxRSS = 500 << 10 // KiB
	// listWindow is how long each list-throughput measurement runs.
	listWindow  = 3 * time.Second
	listClients = 4
	// streamSettle outlasts a new stream's back-off of re-reads.
	streamSettle = 4 * time.Second
	// cpuWindow is how long the server's CPU time is read with no request.
	cpuWindow = 2 * time.Second
)

// TestEventStreamsUnderLoad opens 500 change-feed streams on the real binary
// (50 users, each at the per-user limit of 10) and, while they all stay
// open, runs a bounded load of creates and patches across those users next
// to concurrent list requests. No request may get a 5xx, and every stream
// must receive exactly its user's events, once each, in order, with ids
// that increase without gaps. It also logs the server's peak RSS and the
// list throughput with no stream open and with the 500 streams idle, on
// the same server.
func TestEventStreamsUnderLoad(t *testing.T) {
	skipInShort(t)
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		p := runServer(t, processEnv(db.URL, nil))
		httpClient := newClient(true, 30*time.Second)
		users := make([]soakUser, loadUsers)
		for i := range users {
			users[i] = newSoakUser(t, i)
		}

		quietCPU := serverCPU(t, p.Pid(), cpuWindow)
		idle := measureLists(t, httpClient, p.URL, users)
		stopRSS := sync.OnceValue(proc.SampleRSS(p.Pid(), 100*time.Millisecond).Stop)
		t.Cleanup(func() { stopRSS() })
		streams := openUserStreams(t, p.URL, users)
		// A stream that just opened re-reads the feed a few times over its
		// first ~3s (realtime's recheck back-off); only after that is it
		// idle, which is what the second measurement is about.
		time.Sleep(streamSettle)
		streamsCPU := serverCPU(t, p.Pid(), cpuWindow)
		withStreams := measureLists(t, httpClient, p.URL, users)
		t.Logf("server CPU with no request over %s: %s with 0 streams, %s with %d idle streams",
			cpuWindow, quietCPU, streamsCPU, loadUsers*realtime.MaxStreamsPerUser)
		t.Logf("list throughput over %s with %d clients: %.0f req/s with 0 streams, %.0f req/s with %d idle streams (ratio %.2f)",
			listWindow, listClients, idle, withStreams, loadUsers*realtime.MaxStreamsPerUser, withStreams/idle)

		writes, load := runWriteLoad(t, httpClient, p.URL, users)
		delivered := checkDeliveries(t, users, streams, writes)

		samples := stopRSS()
		peak := proc.Peak(samples)
		stats, err := proc.ReadStats(p.Pid())
		if err != nil {
			t.Fatalf("reading the server's stats: %v", err)
		}
		t.Logf("write load: %d writes and %d lists in %s; %d events delivered over %d streams",
			load.writes, load.lists, load.elapsed.Round(time.Millisecond), delivered, loadUsers*realtime.MaxStreamsPerUser)
		t.Logf("server RSS: peak sampled %d MiB, high-water mark %d MiB, now %d MiB (%d samples)",
			peak>>10, stats.PeakRSSKiB>>10, stats.RSSKiB>>10, len(samples))
		if stats.PeakRSSKiB > loadMaxRSS {
			t.Errorf("server RSS peaked at %d MiB, over the %d MiB ceiling", stats.PeakRSSKiB>>10, loadMaxRSS>>10)
		}
		if lines := p.ErrorLines(); len(lines) > 0 {
			t.Errorf("the server logged %d errors, e.g. %s", len(lines), lines[0])
		}
	})
}

// openUserStreams opens MaxStreamsPerUser streams for each user.
func openUserStreams(t *testing.T, baseURL string, users []soakUser) [][]*eventstest.Stream {
	t.Helper()
	streams := make([][]*eventstest.Stream, len(users))
	for i, u := range users {
		for j := range realtime.MaxStreamsPerUser {
			s := eventstest.Open(t, baseURL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + u.token})
			if s.Status != http.StatusOK {
				t.Fatalf("user %d, stream %d: status %d, want 200", i, j, s.Status)
			}
			streams[i] = append(streams[i], s)
		}
	}
	return streams
}

// measureLists runs listClients clients listing tasks back to back for
// listWindow and returns the answered lists per second. Anything but a 200
// fails the test.
func measureLists(t *testing.T, httpClient *http.Client, baseURL string, users []soakUser) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), listWindow)
	defer cancel()
	var ok, bad atomic.Int64
	var firstBad atomic.Value
	var wg sync.WaitGroup
	started := time.Now()
	for c := range listClients {
		wg.Go(func() {
			for n := c; ctx.Err() == nil; n += listClients {
				o := send(context.Background(), httpClient, baseURL,
					call{Method: http.MethodGet, Path: tasksPath + "?limit=20", Token: users[n%len(users)].token})
				if o.Status == http.StatusOK {
					ok.Add(1)
				} else {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, o.String())
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	if bad.Load() > 0 {
		t.Fatalf("%d list requests not answered 200, e.g. %v", bad.Load(), firstBad.Load())
	}
	return float64(ok.Load()) / elapsed.Seconds()
}

type loadFigures struct {
	writes, lists int64
	elapsed       time.Duration
}

// runWriteLoad makes loadWrites writes with loadWriters concurrent writers,
// write n going to user n%len(users): a create, or a patch of a task that
// user has when n falls on an odd round (a patch that always changes the
// title, since one that changes nothing announces nothing). Listers run alongside until the
// writes are done. It returns how many acknowledged writes each user got.
// Any 5xx, transport error or unexpected status fails the test.
func runWriteLoad(t *testing.T, httpClient *http.Client, baseURL string, users []soakUser) ([]int, loadFigures) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		acked    = make([]int, len(users))
		tasks    = make([][]string, len(users))
		failures []string
		next     atomic.Int64
		lists    atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	// write makes write n; a user's writes are serialized by its lock so
	// that patches find the task their user created in an earlier round.
	userLocks := make([]sync.Mutex, len(users))
	write := func(n int) {
		u := n % len(users)
		userLocks[u].Lock()
		defer userLocks[u].Unlock()
		mu.Lock()
		own := tasks[u]
		mu.Unlock()
		req, want := call{Method: http.MethodPost, Path: tasksPath, Token: users[u].token,
			Body: fmt.Appendf(nil, `{"title":"%sw%d","priority":"medium"}`, users[u].prefix, n)}, http.StatusCreated
		if (n/len(users))%2 == 1 && len(own) > 0 {
			req, want = call{Method: http.MethodPatch, Path: tasksPath + "/" + own[len(own)-1], Token: users[u].token,
				Body: fmt.Appendf(nil, `{"title":"%sw%d-renamed","completed":true}`, users[u].prefix, n)}, http.StatusOK
		}
		o := send(ctx, httpClient, baseURL, req)
		if o.Status != want {
			fail("write %d (%s %s): want %d, got %s", n, req.Method, req.Path, want, o)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		acked[u]++
		if want == http.StatusCreated {
			tasks[u] = append(tasks[u], idOf(o.Body))
		}
	}

	started := time.Now()
	var writers, listers sync.WaitGroup
	for range loadWriters {
		writers.Go(func() {
			for n := int(next.Add(1) - 1); n < loadWrites && ctx.Err() == nil; n = int(next.Add(1) - 1) {
				write(n)
			}
		})
	}
	writesDone := make(chan struct{})
	for l := range loadListers {
		listers.Go(func() {
			for n := l; ; n += loadListers {
				select {
				case <-writesDone:
					return
				default:
				}
				o := send(ctx, httpClient, baseURL, call{Method: http.MethodGet, Path: tasksPath + "?limit=20", Token: users[n%len(users)].token})
				lists.Add(1)
				if o.Status != http.StatusOK {
					fail("list: want 200, got %s", o)
				}
			}
		})
	}
	writers.Wait()
	close(writesDone)
	listers.Wait()
	figures := loadFigures{lists: lists.Load(), elapsed: time.Since(started)}
	for _, n := range acked {
		figures.writes += int64(n)
	}
	if ctx.Err() != nil {
		t.Fatalf("the write load did not finish within 60s")
	}
	for i, f := range failures {
		if i == 10 {
			break
		}
		t.Error(f)
	}
	if len(failures) > 0 {
		t.Fatalf("%d requests failed under load", len(failures))
	}
	return acked, figures
}

// checkDeliveries waits for each stream to carry writes[u] events of its
// user u, their ids consecutive, and then for nothing more. It returns
// the number of events delivered over all streams.
func checkDeliveries(t *testing.T, users []soakUser, streams [][]*eventstest.Stream, writes []int) int {
	t.Helper()
	deadline := time.After(60 * time.Second)
	delivered := 0
	for u := range users {
		var first int64 // the id of the user's first event, as the first stream saw it
		for j, s := range streams[u] {
			var prev int64
			for k := range writes[u] {
				var e eventstest.Event
				select {
				case e = <-s.Events:
				case <-s.Ended():
					t.Fatalf("user %d, stream %d ended after %d of %d events: %v", u, j, k, writes[u], s.Err())
				case <-deadline:
					t.Fatalf("user %d, stream %d: %d of %d events within 60s", u, j, k, writes[u])
				}
				delivered++
				switch {
				case e.Type != "task.created" && e.Type != "task.updated":
					t.Fatalf("user %d, stream %d, event %d: type %q, want a task event", u, j, k, e.Type)
				case k == 0 && j == 0:
					first = e.ID
				case k == 0 && e.ID != first:
					t.Fatalf("user %d, stream %d starts at id %d, stream 0 at %d", u, j, e.ID, first)
				case k > 0 && e.ID != prev+1:
					t.Fatalf("user %d, stream %d, event %d: id %d after %d, want %d", u, j, k, e.ID, prev, prev+1)
				}
				prev = e.ID
			}
		}
	}
	// A duplicate would come right behind the original: a second's quiet
	// after the last expected event is ample to catch one, or a stray.
	time.Sleep(time.Second)
	for u := range users {
		for j, s := range streams[u] {
			if n := len(s.Events); n > 0 {
				e := <-s.Events
				t.Errorf("user %d, stream %d: %d events beyond its user's %d writes, e.g. %d %s", u, j, n, writes[u], e.ID, e.Type)
			}
		}
	}
	return delivered
}

// serverCPU returns the CPU time process pid uses over window.
func serverCPU(t *testing.T, pid int, window time.Duration) time.Duration {
	t.Helper()
	before, err := proc.ReadStats(pid)
	if err != nil {
		t.Fatalf("reading the server's stats: %v", err)
	}
	time.Sleep(window)
	after, err := proc.ReadStats(pid)
	if err != nil {
		t.Fatalf("reading the server's stats: %v", err)
	}
	return after.CPU - before.CPU
}
