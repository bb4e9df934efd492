package routes_test

import (
	"net/http"
	"slices"
	"testing"

	"taskflow/app/apptest"
)

// requireExactFields asserts a problem with status whose errors name
// exactly fields, each once, in any order.
func requireExactFields(t testing.TB, r apptest.Response, status int, fields ...string) {
	t.Helper()
	p := apptest.RequireProblem(t, r, status)
	errs, _ := p["errors"].([]any)
	var got []string
	for _, e := range errs {
		got = append(got, e.(map[string]any)["field"].(string))
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(fields))
	if !slices.Equal(got, want) {
		t.Fatalf("errors name %v, want %v: %s", got, want, r.Body)
	}
}

// TestEveryFieldAtFaultIsNamed: a member of the wrong type does not hide
// the other problems of a body, and every bad list parameter is named.
func TestEveryFieldAtFaultIsNamed(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		task := mustCreateTask(t, s, u, map[string]any{"title": "kept"})
		tag := mustCreateTag(t, s, u, "kept")
		mixed := map[string]any{"title": "", "priority": "x", "completed": "yes", "due_date": "no"}
		for _, method := range []string{http.MethodPost, http.MethodPut} {
			path := "/api/v1/tasks"
			if method == http.MethodPut {
				path += "/" + task.ID
			}
			requireExactFields(t, call(t, s, u, method, path, mixed, nil), http.StatusUnprocessableEntity, "title", "priority", "completed", "due_date")
			requireExactFields(t, call(t, s, u, method, path, map[string]any{"title": 7, "tag_ids": "x", "description": false}, nil),
				http.StatusUnprocessableEntity, "title", "tag_ids", "description")
		}
		requireExactFields(t, call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID, map[string]any{"title": nil, "completed": 1, "priority": "x"}, nil),
			http.StatusUnprocessableEntity, "title", "completed", "priority")
		requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": 3, "color": "red"}, nil),
			http.StatusUnprocessableEntity, "name", "color")
		requireExactFields(t, call(t, s, u, http.MethodPatch, "/api/v1/tags/"+tag.ID, map[string]any{"name": "", "color": 5}, nil),
			http.StatusUnprocessableEntity, "name", "color")
		requireExactFields(t, s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/register", Body: map[string]any{"email": 5, "password": "short", "name": true}}),
			http.StatusUnprocessableEntity, "email", "password", "name")

		// The list: every parameter of the wrong type (400) or out of range.
		requireExactFields(t, call(t, s, u, http.MethodGet, "/api/v1/tasks?limit=x&completed=maybe&due_before=soon&sort=owner", nil, nil),
			http.StatusBadRequest, "limit", "completed", "due_before", "sort")
		requireExactFields(t, call(t, s, u, http.MethodGet, "/api/v1/tasks?limit=0&priority=urgent&tag=x", nil, nil),
			http.StatusUnprocessableEntity, "limit", "priority", "tag")
	})
}
