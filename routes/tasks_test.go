package routes_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

// user is a caller with its own token; each test user has a fresh id, so
// tests sharing a server never see each other's data.
type user struct {
	id    string
	token string
}

func newUser(t testing.TB) user {
	t.Helper()
	id := uuid.NewString()
	return user{id: id, token: apptest.Token(t, id)}
}

// call sends one authenticated request as u.
func call(t testing.TB, s *apptest.Server, u user, method, path string, body any, headers map[string]string) apptest.Response {
	t.Helper()
	return s.Do(t, apptest.Request{Method: method, Path: path, Token: u.token, Body: body, Headers: headers})
}

var (
	taskKeys = []string{"id", "title", "description", "completed", "priority", "due_date", "tags", "project_id", "parent_id", "position", "created_at", "updated_at", "completed_at", "version"}
	tagKeys  = []string{"id", "name", "color", "task_count", "created_at"}
)

// requireKeys fails unless m has exactly the given keys.
func requireKeys(t testing.TB, what string, m map[string]any, keys []string) {
	t.Helper()
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	want := slices.Clone(keys)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s has keys %v, want exactly %v", what, got, want)
	}
}

// requireTaskShape checks a task body's exact shape, its tags' shapes, and
// that its times are RFC 3339 in UTC; it returns the task decoded.
func requireTaskShape(t testing.TB, r apptest.Response) client.Task {
	t.Helper()
	m := r.Map(t)
	requireKeys(t, "task", m, taskKeys)
	for _, key := range []string{"created_at", "updated_at", "due_date", "completed_at"} {
		requireUTCTime(t, key, m[key])
	}
	tags, ok := m["tags"].([]any)
	if !ok {
		t.Fatalf("tags = %v, want an array", m["tags"])
	}
	for _, tag := range tags {
		requireKeys(t, "task tag", tag.(map[string]any), tagKeys)
	}
	if _, err := uuid.Parse(m["id"].(string)); err != nil {
		t.Fatalf("id %q is not a UUID", m["id"])
	}
	var task client.Task
	r.JSON(t, &task)
	return task
}

func requireUTCTime(t testing.TB, key string, v any) {
	t.Helper()
	if v == nil {
		return
	}
	s, ok := v.(string)
	if !ok || !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s = %v, want an RFC 3339 time in UTC", key, v)
	}
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		t.Fatalf("%s = %q is not RFC 3339: %v", key, s, err)
	}
}

// requireFieldError asserts a 422 problem whose errors name field.
func requireFieldError(t testing.TB, r apptest.Response, field string) {
	t.Helper()
	p := apptest.RequireProblem(t, r, http.StatusUnprocessableEntity)
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		if e.(map[string]any)["field"] == field {
			return
		}
	}
	t.Fatalf("422 errors do not name %q: %s", field, r.Body)
}

func mustCreateTask(t testing.TB, s *apptest.Server, u user, body map[string]any) client.Task {
	t.Helper()
	r := call(t, s, u, http.MethodPost, "/api/v1/tasks", body, nil)
	apptest.RequireStatus(t, r, http.StatusCreated)
	var task client.Task
	r.JSON(t, &task)
	return task
}

func mustCreateTag(t testing.TB, s *apptest.Server, u user, name string) client.Tag {
	t.Helper()
	r := call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": name}, nil)
	apptest.RequireStatus(t, r, http.StatusCreated)
	var tag client.Tag
	r.JSON(t, &tag)
	return tag
}

func mustGetTask(t testing.TB, s *apptest.Server, u user, id string) (client.Task, string) {
	t.Helper()
	r := call(t, s, u, http.MethodGet, "/api/v1/tasks/"+id, nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireTaskShape(t, r), r.Header.Get("ETag")
}

func listTasks(t testing.TB, s *apptest.Server, u user, query url.Values) client.TaskList {
	t.Helper()
	r := call(t, s, u, http.MethodGet, "/api/v1/tasks?"+query.Encode(), nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	m := r.Map(t)
	requireKeys(t, "task page", m, []string{"items", "total", "limit", "offset"})
	var page client.TaskList
	r.JSON(t, &page)
	return page
}

func titles(tasks []client.Task) []string {
	out := make([]string, len(tasks))
	for i, task := range tasks {
		out[i] = task.Title
	}
	return out
}

func tagIDs(tags []client.Tag) []string {
	out := make([]string, len(tags))
	for i, tag := range tags {
		out[i] = tag.ID
	}
	return out
}

func TestTaskCreateGetAndShapes(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		work := mustCreateTag(t, s, u, "work")

		t.Run("every field, and client-only fields ignored", func(t *testing.T) {
			before := time.Now().UTC().Add(-time.Second)
			r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{
				"title": "  Write the report  ", "description": "two pages", "completed": true,
				"priority": "high", "due_date": "2025-02-01T18:00:00+01:00", "tag_ids": []string{strings.ToUpper(work.ID)},
				"id": "00000000-0000-0000-0000-000000000000", "user_id": "someone-else",
				"created_at": "2001-01-01T00:00:00Z", "updated_at": "2001-01-01T00:00:00Z", "completed_at": "2001-01-01T00:00:00Z",
			}, nil)
			apptest.RequireStatus(t, r, http.StatusCreated)
			task := requireTaskShape(t, r)
			if task.ID == "00000000-0000-0000-0000-000000000000" {
				t.Fatal("the id sent in the body was applied")
			}
			if v := uuid.MustParse(task.ID).Version(); v != 7 {
				t.Errorf("id version = %d, want 7", v)
			}
			if got, want := r.Header.Get("Location"), "/api/v1/tasks/"+task.ID; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			if got := r.Header.Get("ETag"); got != `"1"` {
				t.Errorf("ETag = %q, want \"1\"", got)
			}
			if task.Title != "Write the report" || task.Description != "two pages" || !task.Completed || task.Priority != "high" {
				t.Errorf("task = %+v", task)
			}
			if task.DueDate == nil || !task.DueDate.Equal(time.Date(2025, 2, 1, 17, 0, 0, 0, time.UTC)) {
				t.Errorf("due_date = %v, want 2025-02-01T17:00:00Z", task.DueDate)
			}
			if task.CreatedAt.Before(before) || task.CompletedAt == nil || task.CompletedAt.Before(before) {
				t.Errorf("created_at = %v, completed_at = %v: the body's values were applied", task.CreatedAt, task.CompletedAt)
			}
			if !task.UpdatedAt.Equal(task.CreatedAt) {
				t.Errorf("updated_at = %v, want created_at %v", task.UpdatedAt, task.CreatedAt)
			}
			if len(task.Tags) != 1 || task.Tags[0].ID != work.ID || task.Tags[0].Name != "work" || task.Tags[0].TaskCount != 1 {
				t.Errorf("tags = %+v, want [work] with task_count 1", task.Tags)
			}
			got, etag := mustGetTask(t, s, u, task.ID)
			if etag != `"1"` {
				t.Errorf("GET ETag = %q, want \"1\"", etag)
			}
			if fmt.Sprint(got) != fmt.Sprint(task) {
				t.Errorf("GET = %+v\nwant POST's %+v", got, task)
			}
		})

		t.Run("defaults", func(t *testing.T) {
			r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "Just a title", "due_date": nil, "tag_ids": nil}, nil)
			apptest.RequireStatus(t, r, http.StatusCreated)
			task := requireTaskShape(t, r)
			if task.Description != "" || task.Completed || task.Priority != "medium" || task.DueDate != nil ||
				task.CompletedAt != nil || len(task.Tags) != 0 || task.Tags == nil {
				t.Errorf("defaults = %+v", task)
			}
			if !strings.Contains(string(r.Body), `"tags":[]`) || !strings.Contains(string(r.Body), `"due_date":null`) {
				t.Errorf("body = %s, want tags [] and due_date null", r.Body)
			}
		})

		t.Run("title counts characters, not bytes", func(t *testing.T) {
			title := strings.Repeat("é", 200) // 400 bytes
			task := mustCreateTask(t, s, u, map[string]any{"title": title, "description": strings.Repeat("ü", 5000)})
			if task.Title != title {
				t.Errorf("title was changed")
			}
		})

		t.Run("malformed or unknown id is 404", func(t *testing.T) {
			for _, id := range []string{"not-a-uuid", "1", strings.Repeat("a", 300), "%00", uuid.NewString(), "' OR 1=1 --"} {
				for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete} {
					var body any
					if method == http.MethodPut || method == http.MethodPatch {
						body = map[string]any{"title": "x"}
					}
					r := call(t, s, u, method, "/api/v1/tasks/"+url.PathEscape(id), body, nil)
					apptest.RequireProblem(t, r, http.StatusNotFound)
				}
			}
		})

		t.Run("without a token", func(t *testing.T) {
			r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks"})
			apptest.RequireProblem(t, r, http.StatusUnauthorized)
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
	})
}

func TestTaskReplaceUpdateDelete(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		work, home := mustCreateTag(t, s, u, "work"), mustCreateTag(t, s, u, "home")
		full := map[string]any{
			"title": "Full", "description": "desc", "completed": true, "priority": "high",
			"due_date": "2030-01-01T00:00:00Z", "tag_ids": []string{work.ID, home.ID},
		}

		t.Run("PUT resets what it leaves out", func(t *testing.T) {
			created := mustCreateTask(t, s, u, full)
			r := call(t, s, u, http.MethodPut, "/api/v1/tasks/"+created.ID, map[string]any{"title": " Replaced "}, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			task := requireTaskShape(t, r)
			if r.Header.Get("ETag") != `"2"` {
				t.Errorf("ETag = %q, want \"2\"", r.Header.Get("ETag"))
			}
			if task.Title != "Replaced" || task.Description != "" || task.Completed || task.Priority != "medium" ||
				task.DueDate != nil || task.CompletedAt != nil || len(task.Tags) != 0 {
				t.Errorf("after PUT = %+v, want defaults", task)
			}
			if !task.CreatedAt.Equal(created.CreatedAt) || !task.UpdatedAt.After(created.UpdatedAt) {
				t.Errorf("created_at %v → %v, updated_at %v → %v", created.CreatedAt, task.CreatedAt, created.UpdatedAt, task.UpdatedAt)
			}
			again := call(t, s, u, http.MethodPut, "/api/v1/tasks/"+created.ID, full, nil)
			apptest.RequireStatus(t, again, http.StatusOK)
			task = requireTaskShape(t, again)
			if !task.Completed || task.CompletedAt == nil || len(task.Tags) != 2 || again.Header.Get("ETag") != `"3"` {
				t.Errorf("after second PUT = %+v, ETag %s", task, again.Header.Get("ETag"))
			}
		})

		t.Run("PATCH applies exactly the fields sent", func(t *testing.T) {
			cases := []struct {
				name  string
				patch map[string]any
				check func(t *testing.T, task client.Task)
			}{
				{"title", map[string]any{"title": "  New title "}, func(t *testing.T, task client.Task) {
					if task.Title != "New title" || task.Description != "desc" || task.Priority != "high" || len(task.Tags) != 2 {
						t.Errorf("got %+v", task)
					}
				}},
				{"empty description", map[string]any{"description": ""}, func(t *testing.T, task client.Task) {
					if task.Description != "" || task.Title != "Full" {
						t.Errorf("got %+v", task)
					}
				}},
				{"completed false clears completed_at", map[string]any{"completed": false}, func(t *testing.T, task client.Task) {
					if task.Completed || task.CompletedAt != nil || task.Priority != "high" {
						t.Errorf("got %+v", task)
					}
				}},
				{"priority low", map[string]any{"priority": "low"}, func(t *testing.T, task client.Task) {
					if task.Priority != "low" || !task.Completed {
						t.Errorf("got %+v", task)
					}
				}},
				{"due_date null clears it", map[string]any{"due_date": nil}, func(t *testing.T, task client.Task) {
					if task.DueDate != nil || task.Title != "Full" {
						t.Errorf("got %+v", task)
					}
				}},
				{"due_date set", map[string]any{"due_date": "2031-05-06T07:08:09.5-02:00"}, func(t *testing.T, task client.Task) {
					if task.DueDate == nil || !task.DueDate.Equal(time.Date(2031, 5, 6, 9, 8, 9, 5e8, time.UTC)) {
						t.Errorf("due_date = %v", task.DueDate)
					}
				}},
				{"tag_ids replaces the set", map[string]any{"tag_ids": []string{home.ID}}, func(t *testing.T, task client.Task) {
					if len(task.Tags) != 1 || task.Tags[0].ID != home.ID {
						t.Errorf("tags = %+v", task.Tags)
					}
				}},
				{"tag_ids empty removes all", map[string]any{"tag_ids": []string{}}, func(t *testing.T, task client.Task) {
					if len(task.Tags) != 0 {
						t.Errorf("tags = %+v", task.Tags)
					}
				}},
				{"null resets to defaults", map[string]any{"description": nil, "priority": nil, "completed": nil, "tag_ids": nil}, func(t *testing.T, task client.Task) {
					if task.Description != "" || task.Priority != "medium" || task.Completed || len(task.Tags) != 0 || task.Title != "Full" {
						t.Errorf("got %+v", task)
					}
				}},
				{"client-only fields ignored", map[string]any{"id": uuid.NewString(), "created_at": "2001-01-01T00:00:00Z", "completed_at": nil}, func(t *testing.T, task client.Task) {
					if task.CompletedAt == nil || task.CreatedAt.Year() == 2001 {
						t.Errorf("got %+v", task)
					}
				}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					created := mustCreateTask(t, s, u, full)
					r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+created.ID, tc.patch, nil)
					apptest.RequireStatus(t, r, http.StatusOK)
					task := requireTaskShape(t, r)
					tc.check(t, task)
					if task.ID != created.ID || !task.CreatedAt.Equal(created.CreatedAt) {
						t.Errorf("id or created_at changed: %+v", task)
					}
					stored, etag := mustGetTask(t, s, u, created.ID)
					if fmt.Sprint(stored) != fmt.Sprint(task) || etag != r.Header.Get("ETag") {
						t.Errorf("GET after PATCH = %+v (%s)\nwant %+v (%s)", stored, etag, task, r.Header.Get("ETag"))
					}
				})
			}
		})

		t.Run("completed_at follows completed", func(t *testing.T) {
			task := mustCreateTask(t, s, u, map[string]any{"title": "Lifecycle"})
			patch := func(body map[string]any) client.Task {
				r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID, body, nil)
				apptest.RequireStatus(t, r, http.StatusOK)
				return requireTaskShape(t, r)
			}
			done := patch(map[string]any{"completed": true})
			if done.CompletedAt == nil {
				t.Fatal("completed_at not set when the task became completed")
			}
			renamed := patch(map[string]any{"title": "Lifecycle 2", "completed": true})
			if renamed.CompletedAt == nil || !renamed.CompletedAt.Equal(*done.CompletedAt) {
				t.Errorf("completed_at moved from %v to %v although completed did not change", done.CompletedAt, renamed.CompletedAt)
			}
			reopened := patch(map[string]any{"completed": false})
			if reopened.CompletedAt != nil {
				t.Errorf("completed_at = %v after reopening, want null", reopened.CompletedAt)
			}
		})

		t.Run("a PATCH that changes nothing keeps the ETag", func(t *testing.T) {
			created := mustCreateTask(t, s, u, full)
			r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+created.ID,
				map[string]any{"title": "Full", "completed": true, "tag_ids": []string{home.ID, work.ID}}, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			task := requireTaskShape(t, r)
			if r.Header.Get("ETag") != `"1"` || !task.UpdatedAt.Equal(created.UpdatedAt) {
				t.Errorf("ETag = %s, updated_at %v → %v: a no-op counted as a change", r.Header.Get("ETag"), created.UpdatedAt, task.UpdatedAt)
			}
			empty := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+created.ID, map[string]any{}, nil)
			apptest.RequireStatus(t, empty, http.StatusOK)
			if empty.Header.Get("ETag") != `"1"` {
				t.Errorf("ETag after {} = %s", empty.Header.Get("ETag"))
			}
		})

		t.Run("every change bumps the version", func(t *testing.T) {
			created := mustCreateTask(t, s, u, map[string]any{"title": "Versions"})
			for i, body := range []map[string]any{{"title": "v2"}, {"completed": true}, {"tag_ids": []string{work.ID}}, {"due_date": "2030-01-01T00:00:00Z"}} {
				r := call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+created.ID, body, nil)
				apptest.RequireStatus(t, r, http.StatusOK)
				if want := fmt.Sprintf(`"%d"`, i+2); r.Header.Get("ETag") != want {
					t.Errorf("after %v ETag = %s, want %s", body, r.Header.Get("ETag"), want)
				}
			}
		})

		t.Run("DELETE", func(t *testing.T) {
			created := mustCreateTask(t, s, u, full)
			r := call(t, s, u, http.MethodDelete, "/api/v1/tasks/"+created.ID, nil, nil)
			apptest.RequireStatus(t, r, http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("204 body = %q", r.Body)
			}
			apptest.RequireProblem(t, call(t, s, u, http.MethodGet, "/api/v1/tasks/"+created.ID, nil, nil), http.StatusNotFound)
			apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, "/api/v1/tasks/"+created.ID, nil, nil), http.StatusNotFound)
			tag := call(t, s, u, http.MethodGet, "/api/v1/tags/"+work.ID, nil, nil)
			apptest.RequireStatus(t, tag, http.StatusOK)
		})
	})
}

func TestTaskIfMatch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		path := func(task client.Task) string { return "/api/v1/tasks/" + task.ID }
		ifMatch := func(v string) map[string]string { return map[string]string{"If-Match": v} }

		cases := []struct {
			name    string
			method  string
			ifMatch string
			status  int
		}{
			{"PUT current", http.MethodPut, `"1"`, http.StatusOK},
			{"PUT stale", http.MethodPut, `"7"`, http.StatusPreconditionFailed},
			{"PUT star", http.MethodPut, `*`, http.StatusOK},
			{"PUT list with current", http.MethodPut, `"5", "1"`, http.StatusOK},
			{"PUT weak tag never matches", http.MethodPut, `W/"1"`, http.StatusPreconditionFailed},
			{"PUT garbage", http.MethodPut, `abc`, http.StatusPreconditionFailed},
			{"PATCH current", http.MethodPatch, `"1"`, http.StatusOK},
			{"PATCH stale", http.MethodPatch, `"0"`, http.StatusPreconditionFailed},
			{"PATCH star", http.MethodPatch, `*`, http.StatusOK},
			{"DELETE current", http.MethodDelete, `"1"`, http.StatusNoContent},
			{"DELETE stale", http.MethodDelete, `"2"`, http.StatusPreconditionFailed},
			{"DELETE star", http.MethodDelete, `*`, http.StatusNoContent},
			{"DELETE garbage", http.MethodDelete, `"x"`, http.StatusPreconditionFailed},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				task := mustCreateTask(t, s, u, map[string]any{"title": "Guarded", "priority": "high"})
				var body any
				if tc.method != http.MethodDelete {
					body = map[string]any{"title": "Changed"}
				}
				r := call(t, s, u, tc.method, path(task), body, ifMatch(tc.ifMatch))
				if tc.status == http.StatusPreconditionFailed {
					apptest.RequireProblem(t, r, tc.status)
					if r.Header.Get("ETag") != "" {
						t.Errorf("412 carries ETag %q", r.Header.Get("ETag"))
					}
					after, etag := mustGetTask(t, s, u, task.ID)
					if after.Title != "Guarded" || etag != `"1"` {
						t.Errorf("a failed precondition changed the task: %+v %s", after, etag)
					}
					return
				}
				apptest.RequireStatus(t, r, tc.status)
			})
		}

		t.Run("unknown task with If-Match is 404", func(t *testing.T) {
			for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
				r := call(t, s, u, method, "/api/v1/tasks/"+uuid.NewString(), map[string]any{"title": "x"}, ifMatch(`"1"`))
				apptest.RequireProblem(t, r, http.StatusNotFound)
				r = call(t, s, u, method, "/api/v1/tasks/"+uuid.NewString(), map[string]any{"title": "x"}, ifMatch(`*`))
				apptest.RequireProblem(t, r, http.StatusNotFound)
			}
		})

		t.Run("the ETag of a write is the next write's If-Match", func(t *testing.T) {
			task := mustCreateTask(t, s, u, map[string]any{"title": "Chain"})
			etag := `"1"`
			for i := range 3 {
				r := call(t, s, u, http.MethodPatch, path(task), map[string]any{"title": fmt.Sprint("Chain ", i)}, ifMatch(etag))
				apptest.RequireStatus(t, r, http.StatusOK)
				etag = r.Header.Get("ETag")
			}
			if etag != `"4"` {
				t.Errorf("ETag = %s, want \"4\"", etag)
			}
		})
	})
}

func TestTaskValidation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		existing := mustCreateTask(t, s, u, map[string]any{"title": "Existing", "description": "kept"})
		tagID := mustCreateTag(t, s, u, "mine").ID
		manyIDs := make([]string, 51)
		for i := range manyIDs {
			manyIDs[i] = uuid.NewString()
		}

		// Each case is checked on POST and PUT (same rules); PATCH has its own rows.
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"title missing", map[string]any{}, "title"},
			{"title null", map[string]any{"title": nil}, "title"},
			{"title blank", map[string]any{"title": "   "}, "title"},
			{"title 201 characters", map[string]any{"title": strings.Repeat("x", 201)}, "title"},
			{"title wrong type", map[string]any{"title": 12}, "title"},
			{"title with NUL", map[string]any{"title": "a\x00b"}, "title"},
			{"description 5001 characters", map[string]any{"title": "t", "description": strings.Repeat("é", 5001)}, "description"},
			{"description with NUL", map[string]any{"title": "t", "description": "\x00"}, "description"},
			{"priority unknown", map[string]any{"title": "t", "priority": "urgent"}, "priority"},
			{"priority empty", map[string]any{"title": "t", "priority": ""}, "priority"},
			{"priority wrong case", map[string]any{"title": "t", "priority": "HIGH"}, "priority"},
			{"completed wrong type", map[string]any{"title": "t", "completed": "yes"}, "completed"},
			{"due_date not RFC 3339", map[string]any{"title": "t", "due_date": "tomorrow"}, "due_date"},
			{"due_date date only", map[string]any{"title": "t", "due_date": "2025-02-01"}, "due_date"},
			{"due_date number", map[string]any{"title": "t", "due_date": 1738400000}, "due_date"},
			{"tag_ids over 50", map[string]any{"title": "t", "tag_ids": manyIDs}, "tag_ids"},
			{"tag_ids duplicates", map[string]any{"title": "t", "tag_ids": []string{tagID, tagID}}, "tag_ids"},
			{"tag_ids same id in other case", map[string]any{"title": "t", "tag_ids": []string{tagID, strings.ToUpper(tagID)}}, "tag_ids"},
			{"tag_ids not a UUID", map[string]any{"title": "t", "tag_ids": []string{"nope"}}, "tag_ids[0]"},
			{"tag_ids unknown tag", map[string]any{"title": "t", "tag_ids": []string{tagID, uuid.NewString()}}, "tag_ids"},
			{"tag_ids not an array", map[string]any{"title": "t", "tag_ids": "x"}, "tag_ids"},
		}
		for _, tc := range cases {
			t.Run("POST "+tc.name, func(t *testing.T) {
				requireFieldError(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", tc.body, nil), tc.field)
			})
			t.Run("PUT "+tc.name, func(t *testing.T) {
				requireFieldError(t, call(t, s, u, http.MethodPut, "/api/v1/tasks/"+existing.ID, tc.body, nil), tc.field)
			})
		}
		patchCases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"title null", map[string]any{"title": nil}, "title"},
			{"title blank", map[string]any{"title": " "}, "title"},
			{"title too long", map[string]any{"title": strings.Repeat("ß", 201)}, "title"},
			{"description too long", map[string]any{"description": strings.Repeat("x", 5001)}, "description"},
			{"priority unknown", map[string]any{"priority": "soon"}, "priority"},
			{"completed wrong type", map[string]any{"completed": 1}, "completed"},
			{"due_date bad", map[string]any{"due_date": "2025-13-01T00:00:00Z"}, "due_date"},
			{"tag_ids unknown", map[string]any{"tag_ids": []string{uuid.NewString()}}, "tag_ids"},
			{"tag_ids element", map[string]any{"tag_ids": []string{tagID, "x"}}, "tag_ids[1]"},
		}
		for _, tc := range patchCases {
			t.Run("PATCH "+tc.name, func(t *testing.T) {
				requireFieldError(t, call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+existing.ID, tc.body, nil), tc.field)
			})
		}

		t.Run("several problems at once", func(t *testing.T) {
			r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "", "priority": "x", "due_date": "y"}, nil)
			for _, field := range []string{"title", "priority", "due_date"} {
				requireFieldError(t, r, field)
			}
		})

		t.Run("nothing was written", func(t *testing.T) {
			page := listTasks(t, s, u, nil)
			if page.Total != 1 || page.Items[0].Title != "Existing" || page.Items[0].Description != "kept" {
				t.Errorf("after rejected writes the list is %+v", page)
			}
			tag := call(t, s, u, http.MethodGet, "/api/v1/tags/"+tagID, nil, nil).Map(t)
			if tag["task_count"].(float64) != 0 {
				t.Errorf("a rejected write linked the tag: %v", tag)
			}
		})

		t.Run("400 and 415", func(t *testing.T) {
			cases := []struct {
				name    string
				method  string
				path    string
				body    any
				headers map[string]string
				status  int
			}{
				{"invalid JSON", http.MethodPost, "/api/v1/tasks", `{"title": `, nil, http.StatusBadRequest},
				{"empty body", http.MethodPost, "/api/v1/tasks", ``, nil, http.StatusBadRequest},
				{"array body", http.MethodPost, "/api/v1/tasks", `[{"title":"x"}]`, nil, http.StatusBadRequest},
				{"array body on PATCH", http.MethodPatch, "/api/v1/tasks/" + existing.ID, `[]`, nil, http.StatusBadRequest},
				{"null body on PATCH", http.MethodPatch, "/api/v1/tasks/" + existing.ID, `null`, nil, http.StatusBadRequest},
				{"invalid JSON on PUT", http.MethodPut, "/api/v1/tasks/" + existing.ID, `{`, nil, http.StatusBadRequest},
				{"text body", http.MethodPost, "/api/v1/tasks", `title=x`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
				{"form body on PATCH", http.MethodPatch, "/api/v1/tasks/" + existing.ID, `title=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
				{"no content type on PUT", http.MethodPut, "/api/v1/tasks/" + existing.ID, `{"title":"x"}`, map[string]string{"Content-Type": ""}, http.StatusUnsupportedMediaType},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					apptest.RequireProblem(t, call(t, s, u, tc.method, tc.path, tc.body, tc.headers), tc.status)
				})
			}
		})
	})
}

func TestTaskCap(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TASKS_PER_USER": "2"})
		u, other := newUser(t), newUser(t)
		mustCreateTask(t, s, u, map[string]any{"title": "one"})
		mustCreateTask(t, s, u, map[string]any{"title": "two"})
		r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "three"}, nil)
		p := apptest.RequireProblem(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(p["detail"].(string), "2") {
			t.Errorf("detail %q does not name the limit", p["detail"])
		}
		if page := listTasks(t, s, u, nil); page.Total != 2 {
			t.Errorf("total = %d after a refused create, want 2", page.Total)
		}
		mustCreateTask(t, s, other, map[string]any{"title": "the cap is per user"})
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, "/api/v1/tasks/"+listTasks(t, s, u, nil).Items[0].ID, nil, nil), http.StatusNoContent)
		mustCreateTask(t, s, u, map[string]any{"title": "room again"})
	})
}

func TestTaskList(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		work, home := mustCreateTag(t, s, u, "work"), mustCreateTag(t, s, u, "home")
		// Created in this order, so -created_at lists them in reverse.
		for _, body := range []map[string]any{
			{"title": "alpha", "description": "Quarterly NUMBERS", "priority": "high", "due_date": "2025-03-01T10:00:00Z", "tag_ids": []string{work.ID}},
			{"title": "Bravo", "description": "buy milk", "priority": "low", "due_date": "2025-01-15T10:00:00Z", "completed": true, "tag_ids": []string{home.ID}},
			{"title": "charlie", "priority": "medium", "tag_ids": []string{work.ID, home.ID}},
			{"title": "Delta 100% sure", "description": "under_score", "priority": "high", "due_date": "2025-02-01T00:00:00Z"},
			{"title": "echo 1000 sure", "description": "underXscore", "priority": "low", "completed": true},
			{"title": `back\slash`, "description": "", "due_date": "2025-02-01T00:00:00Z"},
			{"title": "backslashes", "description": "ALPHA in the description"},
		} {
			mustCreateTask(t, s, u, body)
		}
		all := []string{"backslashes", `back\slash`, "echo 1000 sure", "Delta 100% sure", "charlie", "Bravo", "alpha"}

		cases := []struct {
			name  string
			query url.Values
			want  []string
		}{
			{"default: newest first", nil, all},
			{"completed=true", url.Values{"completed": {"true"}}, []string{"echo 1000 sure", "Bravo"}},
			{"completed=false", url.Values{"completed": {"false"}}, []string{"backslashes", `back\slash`, "Delta 100% sure", "charlie", "alpha"}},
			{"priority=high", url.Values{"priority": {"high"}}, []string{"Delta 100% sure", "alpha"}},
			{"priority=medium", url.Values{"priority": {"medium"}}, []string{"backslashes", `back\slash`, "charlie"}},
			{"tag", url.Values{"tag": {work.ID}}, []string{"charlie", "alpha"}},
			{"tag in upper case", url.Values{"tag": {strings.ToUpper(home.ID)}}, []string{"charlie", "Bravo"}},
			{"tag unknown", url.Values{"tag": {uuid.NewString()}}, []string{}},
			{"tag and priority", url.Values{"tag": {home.ID}, "priority": {"low"}}, []string{"Bravo"}},
			{"q ignores case, title matches first", url.Values{"q": {"ALPHA"}}, []string{"alpha", "backslashes"}},
			{"q in description", url.Values{"q": {"numbers"}}, []string{"alpha"}},
			{"q percent is literal", url.Values{"q": {"100%"}}, []string{"Delta 100% sure"}},
			{"q underscore is literal", url.Values{"q": {"under_s"}}, []string{"Delta 100% sure"}},
			{"q backslash is literal", url.Values{"q": {`back\s`}}, []string{`back\slash`}},
			{"q lone percent", url.Values{"q": {"%"}}, []string{"Delta 100% sure"}},
			{"q no match", url.Values{"q": {"zzz"}}, []string{}},
			{"due_before", url.Values{"due_before": {"2025-02-01T00:00:01Z"}}, []string{`back\slash`, "Delta 100% sure", "Bravo"}},
			{"due_after with offset", url.Values{"due_after": {"2025-02-01T01:00:00+01:00"}}, []string{"alpha"}},
			{"due window", url.Values{"due_after": {"2025-01-20T00:00:00Z"}, "due_before": {"2025-02-15T00:00:00Z"}}, []string{`back\slash`, "Delta 100% sure"}},
			{"sort=created_at", url.Values{"sort": {"created_at"}}, reversed(all)},
			{"sort=title", url.Values{"sort": {"title"}}, []string{"alpha", `back\slash`, "backslashes", "Bravo", "charlie", "Delta 100% sure", "echo 1000 sure"}},
			{"sort=-title", url.Values{"sort": {"-title"}}, []string{"echo 1000 sure", "Delta 100% sure", "charlie", "Bravo", "backslashes", `back\slash`, "alpha"}},
			{"sort=priority", url.Values{"sort": {"priority"}}, []string{"Bravo", "echo 1000 sure", "charlie", `back\slash`, "backslashes", "alpha", "Delta 100% sure"}},
			{"sort=-priority", url.Values{"sort": {"-priority"}}, []string{"Delta 100% sure", "alpha", "backslashes", `back\slash`, "charlie", "echo 1000 sure", "Bravo"}},
			{"sort=due_date, undated last", url.Values{"sort": {"due_date"}}, []string{"Bravo", "Delta 100% sure", `back\slash`, "alpha", "charlie", "echo 1000 sure", "backslashes"}},
			{"sort=-due_date, undated last", url.Values{"sort": {"-due_date"}}, []string{"alpha", `back\slash`, "Delta 100% sure", "Bravo", "backslashes", "echo 1000 sure", "charlie"}},
			{"limit and offset", url.Values{"limit": {"2"}, "offset": {"1"}}, []string{`back\slash`, "echo 1000 sure"}},
			{"offset past the end", url.Values{"offset": {"50"}}, []string{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				page := listTasks(t, s, u, tc.query)
				if got := titles(page.Items); !slices.Equal(got, tc.want) {
					t.Errorf("titles = %q\nwant     %q", got, tc.want)
				}
				wantTotal := len(tc.want)
				if tc.query.Get("limit") != "" || tc.query.Get("offset") != "" {
					wantTotal = len(all)
				}
				if page.Total != wantTotal {
					t.Errorf("total = %d, want %d", page.Total, wantTotal)
				}
			})
		}

		t.Run("items carry their tags, sorted by name", func(t *testing.T) {
			page := listTasks(t, s, u, url.Values{"q": {"charlie"}})
			if got := tagIDs(page.Items[0].Tags); !slices.Equal(got, []string{home.ID, work.ID}) {
				t.Errorf("charlie's tags = %v, want [home work]", got)
			}
			if page.Items[0].Tags[0].TaskCount != 2 {
				t.Errorf("home's task_count = %d, want 2", page.Items[0].Tags[0].TaskCount)
			}
			if page.Limit != 20 || page.Offset != 0 {
				t.Errorf("limit, offset = %d, %d; want the defaults 20, 0", page.Limit, page.Offset)
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			cases := []struct {
				query  url.Values
				status int
				field  string
			}{
				{url.Values{"limit": {"abc"}}, http.StatusBadRequest, ""},
				{url.Values{"limit": {"1.5"}}, http.StatusBadRequest, ""},
				{url.Values{"offset": {"x"}}, http.StatusBadRequest, ""},
				{url.Values{"completed": {"maybe"}}, http.StatusBadRequest, ""},
				{url.Values{"completed": {"1"}}, http.StatusBadRequest, ""},
				{url.Values{"due_before": {"yesterday"}}, http.StatusBadRequest, ""},
				{url.Values{"due_after": {"2025-02-01"}}, http.StatusBadRequest, ""},
				{url.Values{"limit": {"0"}}, http.StatusUnprocessableEntity, "limit"},
				{url.Values{"limit": {"101"}}, http.StatusUnprocessableEntity, "limit"},
				{url.Values{"limit": {"-1"}}, http.StatusUnprocessableEntity, "limit"},
				{url.Values{"limit": {"99999999999999999999999"}}, http.StatusUnprocessableEntity, "limit"},
				{url.Values{"offset": {"-1"}}, http.StatusUnprocessableEntity, "offset"},
				{url.Values{"sort": {"owner"}}, http.StatusUnprocessableEntity, "sort"},
				{url.Values{"sort": {"created_at; DROP TABLE tasks"}}, http.StatusUnprocessableEntity, "sort"},
				{url.Values{"priority": {"urgent"}}, http.StatusUnprocessableEntity, "priority"},
				{url.Values{"tag": {"not-a-uuid"}}, http.StatusUnprocessableEntity, "tag"},
				{url.Values{"q": {strings.Repeat("q", 201)}}, http.StatusUnprocessableEntity, "q"},
				{url.Values{"q": {"a\x00b"}}, http.StatusUnprocessableEntity, "q"},
				{url.Values{"q": {"\xff\xfe"}}, http.StatusUnprocessableEntity, "q"},
			}
			for _, tc := range cases {
				t.Run(tc.query.Encode(), func(t *testing.T) {
					r := call(t, s, u, http.MethodGet, "/api/v1/tasks?"+tc.query.Encode(), nil, nil)
					if tc.field != "" {
						requireFieldError(t, r, tc.field)
						return
					}
					apptest.RequireProblem(t, r, tc.status)
				})
			}
			r := call(t, s, u, http.MethodGet, "/api/v1/tasks?limit=0&offset=-3&sort=x", nil, nil)
			for _, field := range []string{"limit", "offset", "sort"} {
				requireFieldError(t, r, field)
			}
		})

		t.Run("a + in an offset may arrive unencoded", func(t *testing.T) {
			// A leniency for clients that forget to percent-encode '+' (it
			// decodes to a space): outside the document, which wants %2B.
			r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks?due_after=2025-02-01T01:00:00+01:00",
				Token: u.token, SkipContract: true})
			apptest.RequireStatus(t, r, http.StatusOK)
		})
	})
}

func reversed(in []string) []string {
	out := slices.Clone(in)
	slices.Reverse(out)
	return out
}

func TestTaskPagingCoversEveryTaskOnce(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		tag := mustCreateTag(t, s, u, "paged")
		created := map[string]bool{}
		for i := range 25 {
			body := map[string]any{"title": fmt.Sprintf("task %02d", i%5), "priority": []string{"low", "medium", "high"}[i%3]}
			if i%2 == 0 {
				body["tag_ids"] = []string{tag.ID}
				body["due_date"] = "2030-01-01T00:00:00Z" // many equal keys: order rests on the id tie-break
			}
			created[mustCreateTask(t, s, u, body).ID] = true
		}
		for _, sortKey := range []string{"-created_at", "created_at", "due_date", "-due_date", "priority", "-priority", "title", "-title"} {
			t.Run(sortKey, func(t *testing.T) {
				seen := map[string]bool{}
				pages := 0
				for offset := 0; ; offset += 7 {
					page := listTasks(t, s, u, url.Values{"limit": {"7"}, "offset": {fmt.Sprint(offset)}, "sort": {sortKey}})
					if page.Total != 25 || page.Limit != 7 || page.Offset != offset {
						t.Fatalf("page at %d: total %d, limit %d, offset %d", offset, page.Total, page.Limit, page.Offset)
					}
					if len(page.Items) == 0 {
						break
					}
					pages++
					for _, task := range page.Items {
						if seen[task.ID] {
							t.Fatalf("task %s appears on two pages", task.ID)
						}
						seen[task.ID] = true
					}
				}
				if len(seen) != len(created) || pages != 4 {
					t.Errorf("saw %d tasks on %d pages, want 25 on 4", len(seen), pages)
				}
			})
		}
	})
}
