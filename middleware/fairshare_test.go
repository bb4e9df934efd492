package middleware

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// lineWatch is a QueueObserver that a test can read.
type lineWatch struct {
	waiting atomic.Int64
	waited  atomic.Int64 // nanoseconds
}

func (w *lineWatch) Queued(delta int)       { w.waiting.Add(int64(delta)) }
func (w *lineWatch) Waited(d time.Duration) { w.waited.Add(int64(d)) }

func (w *lineWatch) awaitWaiting(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); w.waiting.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in line after 5s, want %d", w.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// shareApp serves /hold/:name behind FairShare, counted for the user in
// the X-User header: each request holds its slot until the test releases
// that name, and records the order it got in. Errors are answered as the
// app's funnel does, by code, with Retry-After on a 429.
type shareApp struct {
	app     *fiber.App
	watch   *lineWatch
	mu      sync.Mutex
	order   []string
	holding map[string]chan struct{}
	started chan string
}

func newShareApp(t *testing.T, slots int, wait, deadline time.Duration, maxLine int) *shareApp {
	t.Helper()
	s := &shareApp{watch: &lineWatch{}, holding: map[string]chan struct{}{}, started: make(chan string, 100)}
	s.app = fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var e *models.Error
		if errors.As(err, &e) {
			if e.Code == models.CodeRateLimited {
				var h models.HeaderError
				if errors.As(err, &h) {
					c.Set(fiber.HeaderRetryAfter, h.ResponseHeaders()[fiber.HeaderRetryAfter])
				}
				return c.Status(fiber.StatusTooManyRequests).SendString(string(e.Code))
			}
			if e.Code == models.CodeUnavailable {
				return c.Status(fiber.StatusServiceUnavailable).SendString(string(e.Code))
			}
		}
		return c.Status(fiber.StatusInternalServerError).SendString(err.Error())
	}})
	s.app.Use(Deadline(deadline), FairShare(FairShareConfig{
		Slots: slots, Wait: wait, Observer: s.watch, MaxLine: maxLine,
		UserOf: func(c *fiber.Ctx) string { return c.Get("X-User") },
	}))
	s.app.Get("/hold/:name", func(c *fiber.Ctx) error {
		name := c.Params("name")
		s.mu.Lock()
		s.order = append(s.order, name)
		release := make(chan struct{})
		s.holding[name] = release
		s.mu.Unlock()
		s.started <- name
		<-release
		return c.SendString(name)
	})
	return s
}

// send requests /hold/name as user in the background; its result arrives
// on the returned channel.
func (s *shareApp) send(t *testing.T, user, name string) <-chan string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		req := httptest.NewRequest("GET", "/hold/"+name, nil)
		req.Header.Set("X-User", user)
		resp, err := s.app.Test(req, -1)
		if err != nil {
			done <- "error: " + err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		done <- fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get(fiber.HeaderRetryAfter), body)
	}()
	return done
}

// awaitStarted waits for the handler of name to start.
func (s *shareApp) awaitStarted(t *testing.T, name string) {
	t.Helper()
	select {
	case got := <-s.started:
		if got != name {
			t.Fatalf("%s started, want %s", got, name)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not start", name)
	}
}

// awaitStartedAll waits for the handlers of names to start, in any order.
func (s *shareApp) awaitStartedAll(t *testing.T, names ...string) {
	t.Helper()
	var got []string
	for range names {
		select {
		case name := <-s.started:
			got = append(got, name)
		case <-time.After(5 * time.Second):
			t.Fatalf("started %v, want %v", got, names)
		}
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
}

// requireNoneStarted fails if any handler starts within a short while.
func (s *shareApp) requireNoneStarted(t *testing.T) {
	t.Helper()
	select {
	case got := <-s.started:
		t.Fatalf("%s started, want it still waiting", got)
	case <-time.After(50 * time.Millisecond):
	}
}

func (s *shareApp) release(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.holding[name])
}

// A user alone may use every slot; its further requests wait, and are let
// through in the order they came.
func TestFairShareGivesALoneUserEverySlot(t *testing.T) {
	s := newShareApp(t, 3, time.Minute, time.Minute, 0)
	var results []<-chan string
	for i := range 3 {
		results = append(results, s.send(t, "alice", fmt.Sprint("a", i)))
		s.awaitStarted(t, fmt.Sprint("a", i))
	}
	for i := 3; i < 8; i++ {
		results = append(results, s.send(t, "alice", fmt.Sprint("a", i)))
		s.watch.awaitWaiting(t, int64(i-2))
	}
	for i := range 8 {
		s.release(fmt.Sprint("a", i))
		if i+3 < 8 {
			s.awaitStarted(t, fmt.Sprint("a", i+3))
		}
	}
	for i, r := range results {
		if got := <-r; got != fmt.Sprintf("200  a%d", i) {
			t.Errorf("request a%d: %q", i, got)
		}
	}
	if want := []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"}; !slices.Equal(s.order, want) {
		t.Fatalf("let through in the order %v, want %v", s.order, want)
	}
}

// A second user's request takes the next free slot ahead of the first
// user's line, and from then on each holds at most its share (half), even
// while a slot is free.
func TestFairShareSharesBetweenUsers(t *testing.T) {
	s := newShareApp(t, 4, time.Minute, time.Minute, 0)
	var results []<-chan string
	for i := range 4 {
		results = append(results, s.send(t, "alice", fmt.Sprint("a", i)))
		s.awaitStarted(t, fmt.Sprint("a", i))
	}
	for i := 4; i < 7; i++ {
		results = append(results, s.send(t, "alice", fmt.Sprint("a", i)))
		s.watch.awaitWaiting(t, int64(i-3))
	}
	results = append(results, s.send(t, "bob", "b0"))
	s.watch.awaitWaiting(t, 4)
	s.release("a0")
	s.awaitStarted(t, "b0") // ahead of alice's three
	s.release("a1")
	// alice holds a2 and a3: her share of four slots between two users.
	s.requireNoneStarted(t)
	results = append(results, s.send(t, "bob", "b1"))
	s.awaitStarted(t, "b1") // bob, under his share, takes the free slot at once
	s.release("b0")
	s.release("b1") // bob is gone: alice may have all four again
	s.awaitStartedAll(t, "a4", "a5")
	for _, name := range []string{"a2", "a3", "a4", "a5"} {
		s.release(name)
	}
	s.awaitStarted(t, "a6")
	s.release("a6")
	for _, r := range results {
		if got := <-r; got[:3] != "200" {
			t.Errorf("a request answered %q", got)
		}
	}
	if s.watch.waiting.Load() != 0 {
		t.Errorf("%d still counted in line", s.watch.waiting.Load())
	}
}

// A request that waits out its user's line gets 429 with Retry-After and
// leaves the line; one whose deadline passes first gets 503; beyond the
// longest line a request is refused at once.
func TestFairShareRefusesPastTheWait(t *testing.T) {
	s := newShareApp(t, 1, 50*time.Millisecond, time.Minute, 1)
	held := s.send(t, "alice", "a0")
	s.awaitStarted(t, "a0")
	waited := s.send(t, "alice", "a1")
	s.watch.awaitWaiting(t, 1)
	start := time.Now()
	if got := <-s.send(t, "alice", "a2"); got != "429 1 "+string(models.CodeRateLimited) {
		t.Errorf("past the longest line: %q, want an immediate 429", got)
	}
	if elapsed := time.Since(start); elapsed > 40*time.Millisecond {
		t.Errorf("the refusal past the longest line took %s", elapsed)
	}
	if got := <-waited; got != "429 1 "+string(models.CodeRateLimited) {
		t.Errorf("past the wait: %q, want 429 with Retry-After: 1", got)
	}
	if s.watch.waiting.Load() != 0 || time.Duration(s.watch.waited.Load()) < 50*time.Millisecond {
		t.Errorf("after it: %d waiting, %s waited", s.watch.waiting.Load(), time.Duration(s.watch.waited.Load()))
	}
	s.release("a0")
	<-held

	deadline := newShareApp(t, 1, time.Minute, 50*time.Millisecond, 0)
	held = deadline.send(t, "alice", "a0")
	deadline.awaitStarted(t, "a0")
	if got := <-deadline.send(t, "bob", "b0"); got != "503  "+string(models.CodeUnavailable) {
		t.Errorf("past the deadline: %q, want 503", got)
	}
	deadline.release("a0")
	<-held
}

// Many users and requests at once: every request is answered, no two
// handlers of one user run beyond its share while others wait, and the
// slots are never exceeded.
func TestFairShareUnderLoad(t *testing.T) {
	const slots = 4
	var running, peak atomic.Int64
	app := fiber.New()
	app.Use(FairShare(FairShareConfig{Slots: slots, Wait: time.Minute, Observer: &lineWatch{},
		UserOf: func(c *fiber.Ctx) string { return c.Get("X-User") }}))
	app.Get("/", func(c *fiber.Ctx) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		running.Add(-1)
		return c.SendString("ok")
	})
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("X-User", strconv.Itoa(i%7))
			resp, err := app.Test(req, -1)
			if err != nil || resp.StatusCode != 200 {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if failures.Load() > 0 || peak.Load() > slots {
		t.Fatalf("%d failures, %d handlers at once with %d slots", failures.Load(), peak.Load(), slots)
	}
}
