package routes_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app"
	"taskflow/app/apptest"
)

// statementCounter counts the SQL statements the server's GORM handle runs,
// through callbacks on every kind of operation. Register it before the
// first request so the server never runs while the callback chain changes.
type statementCounter struct {
	all   atomic.Int64
	tasky atomic.Int64 // statements that touch tasks, tags or their links
}

// countStatements registers a counter of db's statements; GORM allows it
// only before any statement runs (see app.WithOpenedDatabase).
func countStatements(db *gorm.DB) (*statementCounter, error) {
	c := &statementCounter{}
	count := func(tx *gorm.DB) {
		c.all.Add(1)
		if strings.Contains(tx.Statement.SQL.String(), "task") || strings.Contains(tx.Statement.SQL.String(), "tags") {
			c.tasky.Add(1)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("test:count_query", count),
		cb.Row().After("gorm:row").Register("test:count_row", count),
		cb.Raw().After("gorm:raw").Register("test:count_raw", count),
		cb.Create().After("gorm:create").Register("test:count_create", count),
		cb.Update().After("gorm:update").Register("test:count_update", count),
		cb.Delete().After("gorm:delete").Register("test:count_delete", count),
	} {
		if err != nil {
			return nil, fmt.Errorf("register statement counter: %w", err)
		}
	}
	return c, nil
}

// startCounted starts a server whose statements counter counts.
func startCounted(t testing.TB, db apptest.Database) (*apptest.Server, *statementCounter) {
	t.Helper()
	var counter *statementCounter
	s := apptest.StartWith(t, db, nil, app.WithOpenedDatabase(func(gdb *gorm.DB) (err error) {
		counter, err = countStatements(gdb)
		return err
	}))
	return s, counter
}

// during returns how many statements (all, and touching tasks or tags) fn ran.
func (c *statementCounter) during(fn func()) (all, tasky int64) {
	all0, tasky0 := c.all.Load(), c.tasky.Load()
	fn()
	return c.all.Load() - all0, c.tasky.Load() - tasky0
}

// seedTaggedTasks gives u n tasks, each carrying both of two new tags.
func seedTaggedTasks(t testing.TB, s *apptest.Server, u user, n int) {
	t.Helper()
	a, b := mustCreateTag(t, s, u, "first"), mustCreateTag(t, s, u, "second")
	for i := range n {
		mustCreateTask(t, s, u, map[string]any{
			"title": fmt.Sprintf("task %03d", i), "description": "seeded", "priority": "high",
			"due_date": "2030-01-01T00:00:00Z", "tag_ids": []string{a.ID, b.ID},
		})
	}
}

func TestTaskListStatementCount(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s, counter := startCounted(t, db)
		one, hundred := newUser(t), newUser(t)
		seedTaggedTasks(t, s, one, 1)
		seedTaggedTasks(t, s, hundred, 100)

		list := func(u user, query url.Values, wantItems int) (int64, int64) {
			return counter.during(func() {
				page := listTasks(t, s, u, query)
				if len(page.Items) != wantItems {
					t.Fatalf("listed %d tasks, want %d", len(page.Items), wantItems)
				}
				for _, task := range page.Items {
					if len(task.Tags) != 2 {
						t.Fatalf("task %s has %d tags, want 2", task.ID, len(task.Tags))
					}
				}
			})
		}
		allOne, taskyOne := list(one, url.Values{"limit": {"100"}}, 1)
		allHundred, taskyHundred := list(hundred, url.Values{"limit": {"100"}}, 100)
		if allOne != allHundred {
			t.Errorf("listing 1 task ran %d statements, listing 100 ran %d: the cost grows with the page", allOne, allHundred)
		}
		if taskyHundred > 3 || taskyOne > 3 {
			t.Errorf("listing ran %d / %d task statements, want at most 3", taskyOne, taskyHundred)
		}
		// A page with more after it also needs the count: still at most 3.
		_, taskyPaged := list(hundred, url.Values{"limit": {"20"}, "offset": {"40"}}, 20)
		_, taskyFiltered := list(hundred, url.Values{"limit": {"20"}, "q": {"task"}, "priority": {"high"}, "sort": {"title"}}, 20)
		if taskyPaged > 3 || taskyFiltered > 3 {
			t.Errorf("paged listing ran %d task statements, filtered %d; want at most 3", taskyPaged, taskyFiltered)
		}
		t.Logf("%s: statements per list page: %d (whole list on the page), %d (more pages after it)", db.Name, taskyHundred, taskyPaged)
	})
}

// parallel runs fn n times at once, released together, and waits.
func parallel(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

func TestTaskConcurrency(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TASKS_PER_USER": "60"})

		t.Run("50 parallel creates all land", func(t *testing.T) {
			u := newUser(t)
			tag := mustCreateTag(t, s, u, "shared")
			statuses := make([]int, 50)
			parallel(50, func(i int) {
				r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": fmt.Sprint("parallel ", i), "tag_ids": []string{tag.ID}}, nil)
				statuses[i] = r.Status
			})
			for i, status := range statuses {
				if status != http.StatusCreated {
					t.Errorf("create %d: status %d", i, status)
				}
			}
			if page := listTasks(t, s, u, url.Values{"limit": {"1"}}); page.Total != 50 {
				t.Errorf("total = %d, want 50", page.Total)
			}
			if got, _ := mustGetTagByID(t, s, u, tag.ID); got.TaskCount != 50 {
				t.Errorf("tag task_count = %d, want 50", got.TaskCount)
			}
		})

		t.Run("the cap holds under parallel creates", func(t *testing.T) {
			u := newUser(t)
			var created, refused atomic.Int64
			parallel(70, func(i int) {
				r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": fmt.Sprint("capped ", i)}, nil)
				switch r.Status {
				case http.StatusCreated:
					created.Add(1)
				case http.StatusUnprocessableEntity:
					refused.Add(1)
				default:
					t.Errorf("create %d: status %d: %s", i, r.Status, r.Body)
				}
			})
			if created.Load() != 60 || refused.Load() != 10 {
				t.Errorf("created %d, refused %d; want 60 and 10", created.Load(), refused.Load())
			}
		})

		t.Run("10 parallel PATCHes with one ETag: one wins", func(t *testing.T) {
			u := newUser(t)
			task := mustCreateTask(t, s, u, map[string]any{"title": "contended"})
			statuses := make([]int, 10)
			parallel(10, func(i int) {
				r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID,
					map[string]any{"title": fmt.Sprint("writer ", i)}, map[string]string{"If-Match": `"1"`})
				statuses[i] = r.Status
			})
			ok, stale := 0, 0
			for _, status := range statuses {
				switch status {
				case http.StatusOK:
					ok++
				case http.StatusPreconditionFailed:
					stale++
				}
			}
			if ok != 1 || stale != 9 {
				t.Errorf("statuses %v: %d × 200, %d × 412; want 1 and 9", statuses, ok, stale)
			}
			after, etag := mustGetTask(t, s, u, task.ID)
			if etag != `"2"` || !strings.HasPrefix(after.Title, "writer ") {
				t.Errorf("after the race: %q with ETag %s, want one writer's title at \"2\"", after.Title, etag)
			}
		})

		t.Run("parallel PATCHes without If-Match all apply", func(t *testing.T) {
			u := newUser(t)
			task := mustCreateTask(t, s, u, map[string]any{"title": "busy"})
			statuses := make([]int, 10)
			parallel(10, func(i int) {
				r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID, map[string]any{"description": fmt.Sprint("v", i)}, nil)
				statuses[i] = r.Status
			})
			if slices.ContainsFunc(statuses, func(s int) bool { return s != http.StatusOK }) {
				t.Errorf("statuses %v, want all 200", statuses)
			}
			if _, etag := mustGetTask(t, s, u, task.ID); etag != `"11"` {
				t.Errorf("ETag = %s after 10 changes, want \"11\"", etag)
			}
		})
	})
}

// BenchmarkListTasks measures GET /api/v1/tasks over HTTP with 20 tagged
// tasks per page (of 100), on each database; it reports the median latency.
func BenchmarkListTasks(b *testing.B) {
	dbs := []struct {
		name string
		open func(testing.TB) apptest.Database
	}{{"sqlite", apptest.SQLite}, {"postgres", apptest.Postgres}}
	for _, d := range dbs {
		b.Run(d.name, func(b *testing.B) {
			s := apptest.Start(b, d.open(b), nil)
			u := newUser(b)
			seedTaggedTasks(b, s, u, 100)
			req := apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?limit=20", Token: u.token}
			durations := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				r := s.Do(b, req)
				durations = append(durations, time.Since(start))
				if r.Status != http.StatusOK {
					b.Fatalf("status %d: %s", r.Status, r.Body)
				}
			}
			slices.Sort(durations)
			b.ReportMetric(float64(durations[len(durations)/2].Microseconds()), "µs-median")
			b.ReportMetric(float64(durations[len(durations)*95/100].Microseconds()), "µs-p95")
		})
	}
}
