package middleware

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
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

// queueApp serves /hold, which keeps its slot until release is closed,
// and /n/:i, which records i, both behind DatabaseQueue(1); errors are
// answered as the app's funnel does, by code.
func queueApp(watch *lineWatch, deadline time.Duration, release <-chan struct{}, holding chan<- struct{}, record func(string)) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		var e *models.Error
		if errors.As(err, &e) && e.Code == models.CodeUnavailable {
			return c.Status(fiber.StatusServiceUnavailable).SendString(string(e.Code))
		}
		return c.Status(fiber.StatusInternalServerError).SendString(err.Error())
	}})
	app.Use(Deadline(deadline), DatabaseQueue(1, watch))
	app.Get("/hold", func(c *fiber.Ctx) error {
		holding <- struct{}{}
		<-release
		return c.SendString("held")
	})
	app.Get("/n/:i", func(c *fiber.Ctx) error {
		record(c.Params("i"))
		return c.SendString(c.Params("i"))
	})
	return app
}

func get(t *testing.T, app *fiber.App, path string) (int, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest("GET", path, nil), -1)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Requests that found every slot taken are let through in the order they
// came: each joins the line only once the one before it stands in it.
func TestDatabaseQueueAdmitsInArrivalOrder(t *testing.T) {
	watch, release, holding := &lineWatch{}, make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var order []string
	app := queueApp(watch, time.Minute, release, holding, func(i string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, i)
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		if status, body := get(t, app, "/hold"); status != 200 || body != "held" {
			t.Errorf("/hold: %d %s", status, body)
		}
	})
	<-holding
	var want []string
	for i := range 8 {
		want = append(want, fmt.Sprint(i))
		wg.Go(func() {
			if status, body := get(t, app, fmt.Sprintf("/n/%d", i)); status != 200 || body != fmt.Sprint(i) {
				t.Errorf("/n/%d: %d %s", i, status, body)
			}
		})
		watch.awaitWaiting(t, int64(i+1))
	}
	close(release)
	wg.Wait()
	if !slices.Equal(order, want) {
		t.Fatalf("admitted in the order %v, want %v", order, want)
	}
	if watch.waiting.Load() != 0 || watch.waited.Load() == 0 {
		t.Fatalf("after the line emptied: %d waiting, %s waited; want 0 and more than 0", watch.waiting.Load(), time.Duration(watch.waited.Load()))
	}
}

// A request whose deadline passes in line is answered 503, and leaves it.
func TestDatabaseQueueAnswers503WhenTheDeadlinePassesInLine(t *testing.T) {
	watch, release, holding := &lineWatch{}, make(chan struct{}), make(chan struct{})
	app := queueApp(watch, 50*time.Millisecond, release, holding, func(string) { t.Error("a request past its deadline ran") })
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	wg.Go(func() { get(t, app, "/hold") })
	<-holding
	if status, body := get(t, app, "/n/1"); status != fiber.StatusServiceUnavailable || body != string(models.CodeUnavailable) {
		t.Fatalf("waiting past the deadline: %d %s, want 503 %s", status, body, models.CodeUnavailable)
	}
	if watch.waiting.Load() != 0 || time.Duration(watch.waited.Load()) < 50*time.Millisecond {
		t.Fatalf("after it: %d waiting, %s waited; want 0 and at least 50ms", watch.waiting.Load(), time.Duration(watch.waited.Load()))
	}
}
