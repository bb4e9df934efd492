package routes_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"taskflow/app/apptest"
)

// TestTaskVersionAndConditionalGet: the body's version is the ETag's
// number, a list view can send If-Match with it, and If-None-Match with
// the current ETag gets a 304 without a body.
func TestTaskVersionAndConditionalGet(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		created := mustCreateTask(t, s, u, map[string]any{"title": "versioned"})
		if created.Version != 1 {
			t.Fatalf("a new task's version = %d, want 1", created.Version)
		}
		listed := listTasks(t, s, u, nil).Items[0]
		r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+listed.ID, map[string]any{"completed": true},
			map[string]string{"If-Match": `"` + strconv.FormatInt(listed.Version, 10) + `"`})
		apptest.RequireStatus(t, r, http.StatusOK)
		task, etag := mustGetTask(t, s, u, created.ID)
		if want := `"` + strconv.FormatInt(task.Version, 10) + `"`; task.Version != 2 || etag != want {
			t.Fatalf("version %d with ETag %s, want 2 and %s", task.Version, etag, want)
		}

		for _, header := range []string{etag, "W/" + etag, `"1", ` + etag, "*"} {
			r = call(t, s, u, http.MethodGet, "/api/v1/tasks/"+task.ID, nil, map[string]string{"If-None-Match": header})
			apptest.RequireStatus(t, r, http.StatusNotModified)
			if len(r.Body) != 0 || r.Header.Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: 304 with body %q and ETag %q, want no body and %s", header, r.Body, r.Header.Get("ETag"), etag)
			}
		}
		r = call(t, s, u, http.MethodGet, "/api/v1/tasks/"+task.ID, nil, map[string]string{"If-None-Match": `"1"`})
		apptest.RequireStatus(t, r, http.StatusOK)
		requireTaskShape(t, r)
	})
}

// TestTaskListSyncFilters: updated_after, due=none|overdue and the sort by
// updated_at.
func TestTaskListSyncFilters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
		future := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		undated := mustCreateTask(t, s, u, map[string]any{"title": "undated"})
		late := mustCreateTask(t, s, u, map[string]any{"title": "late", "due_date": past})
		mustCreateTask(t, s, u, map[string]any{"title": "late but done", "due_date": past, "completed": true})
		mustCreateTask(t, s, u, map[string]any{"title": "ahead", "due_date": future})

		if got := titles(listTasks(t, s, u, url.Values{"due": {"none"}}).Items); !slices.Equal(got, []string{"undated"}) {
			t.Errorf("due=none: %v, want [undated]", got)
		}
		if got := titles(listTasks(t, s, u, url.Values{"due": {"overdue"}}).Items); !slices.Equal(got, []string{"late"}) {
			t.Errorf("due=overdue: %v, want [late]", got)
		}
		requireFieldError(t, call(t, s, u, http.MethodGet, "/api/v1/tasks?due=soon", nil, nil), "due")

		time.Sleep(5 * time.Millisecond)
		mark := time.Now().UTC()
		time.Sleep(5 * time.Millisecond)
		for _, id := range []string{late.ID, undated.ID} {
			apptest.RequireStatus(t, call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"description": "touched"}, nil), http.StatusOK)
		}
		changed := listTasks(t, s, u, url.Values{"updated_after": {mark.Format(time.RFC3339Nano)}, "sort": {"updated_at"}})
		if got := titles(changed.Items); !slices.Equal(got, []string{"late", "undated"}) || changed.Total != 2 {
			t.Errorf("updated_after, sort=updated_at: %v (total %d), want [late undated]", got, changed.Total)
		}
		newest := titles(listTasks(t, s, u, url.Values{"sort": {"-updated_at"}}).Items)
		if !slices.Equal(newest[:2], []string{"undated", "late"}) || len(newest) != 4 {
			t.Errorf("sort=-updated_at: %v, want undated, late first", newest)
		}
		apptest.RequireProblem(t, call(t, s, u, http.MethodGet, "/api/v1/tasks?updated_after=yesterday", nil, nil), http.StatusBadRequest)
	})
}
