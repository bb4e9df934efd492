package routes_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"taskflow/app/apptest"
)

// betterAuthUser is a frontend user with a token as Better Auth's shared
// secret setup signs it: HS256 with BETTER_AUTH_SECRET and no iss.
func betterAuthUser(t testing.TB) user {
	t.Helper()
	id := "ba_" + uuid.NewString()[:8] // Better Auth ids are not UUIDs
	token := apptest.SignHS256(t, apptest.BetterAuthSecret, jwt.MapClaims{
		"sub": id, "iat": time.Now().Unix(), "exp": time.Now().Add(15 * time.Minute).Unix(),
		"email": id + "@example.com", "name": "Frontend User",
	})
	return user{id: id, token: token}
}

// TestIsolation checks that one user can neither see nor change another's
// tasks and tags, whichever kind of token each holds.
func TestIsolation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		pairs := []struct {
			name string
			a, b func(testing.TB) user
		}{
			{"local users", newUser, newUser},
			{"Better Auth owner, local intruder", betterAuthUser, newUser},
			{"local owner, Better Auth intruder", newUser, betterAuthUser},
		}
		for _, pair := range pairs {
			t.Run(pair.name, func(t *testing.T) {
				isolationScenario(t, s, pair.a(t), pair.b(t))
			})
		}
	})
}

func isolationScenario(t *testing.T, s *apptest.Server, a, b user) {
	r := call(t, s, a, http.MethodGet, "/api/v1/tasks", nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK) // the owner's token is accepted at all
	aTag := mustCreateTag(t, s, a, "secret-tag")
	aTask := mustCreateTask(t, s, a, map[string]any{
		"title": "A's secret plan", "description": "needle", "tag_ids": []string{aTag.ID}, "user_id": b.id,
	})
	bTag := mustCreateTag(t, s, b, "b-tag")
	bTask := mustCreateTask(t, s, b, map[string]any{"title": "B's own task", "description": "hay"})

	snapshot := func() (string, string, string) {
		t.Helper()
		task := call(t, s, a, http.MethodGet, "/api/v1/tasks/"+aTask.ID, nil, nil)
		apptest.RequireStatus(t, task, http.StatusOK)
		tag := call(t, s, a, http.MethodGet, "/api/v1/tags/"+aTag.ID, nil, nil)
		apptest.RequireStatus(t, tag, http.StatusOK)
		return string(task.Body), task.Header.Get("ETag"), string(tag.Body)
	}
	taskBefore, etagBefore, tagBefore := snapshot()

	t.Run("user_id in a body is ignored", func(t *testing.T) {
		if page := listTasks(t, s, b, nil); page.Total != 1 || page.Items[0].ID != bTask.ID {
			t.Errorf("B's list = %+v: A's task was filed under B", titles(page.Items))
		}
	})

	t.Run("another user's resources are 404", func(t *testing.T) {
		cases := []struct {
			method string
			path   string
			body   any
			header map[string]string
		}{
			{http.MethodGet, "/api/v1/tasks/" + aTask.ID, nil, nil},
			{http.MethodPut, "/api/v1/tasks/" + aTask.ID, map[string]any{"title": "hijacked"}, nil},
			{http.MethodPut, "/api/v1/tasks/" + aTask.ID, map[string]any{"title": "hijacked"}, map[string]string{"If-Match": `"1"`}},
			{http.MethodPatch, "/api/v1/tasks/" + aTask.ID, map[string]any{"completed": true}, nil},
			{http.MethodPatch, "/api/v1/tasks/" + aTask.ID, map[string]any{"title": "x"}, map[string]string{"If-Match": "*"}},
			{http.MethodDelete, "/api/v1/tasks/" + aTask.ID, nil, nil},
			{http.MethodDelete, "/api/v1/tasks/" + aTask.ID, nil, map[string]string{"If-Match": `"1"`}},
			{http.MethodGet, "/api/v1/tags/" + aTag.ID, nil, nil},
			{http.MethodPatch, "/api/v1/tags/" + aTag.ID, map[string]any{"name": "mine now", "color": "#000000"}, nil},
			{http.MethodDelete, "/api/v1/tags/" + aTag.ID, nil, nil},
		}
		for _, tc := range cases {
			r := call(t, s, b, tc.method, tc.path, tc.body, tc.header)
			p := apptest.RequireProblem(t, r, http.StatusNotFound)
			if p["detail"] == nil {
				t.Errorf("%s %s: no detail", tc.method, tc.path)
			}
		}
	})

	t.Run("lists and searches show only the caller's rows", func(t *testing.T) {
		for _, query := range []url.Values{nil, {"q": {"needle"}}, {"q": {"secret"}}, {"tag": {aTag.ID}}, {"limit": {"100"}}} {
			page := listTasks(t, s, b, query)
			for _, task := range page.Items {
				if task.ID == aTask.ID {
					t.Errorf("B's list with %v shows A's task", query)
				}
			}
			if query.Get("q") != "" || query.Get("tag") != "" {
				if page.Total != 0 {
					t.Errorf("B's search %v found %d tasks, want 0", query, page.Total)
				}
			}
		}
		tags := listTags(t, s, b)
		if tags.Total != 1 || tags.Items[0].ID != bTag.ID {
			t.Errorf("B's tags = %v, want only b-tag", tagNames(tags.Items))
		}
		if page := listTasks(t, s, a, url.Values{"q": {"hay"}}); page.Total != 0 {
			t.Errorf("A's search found B's task")
		}
	})

	t.Run("another user's tag cannot be attached", func(t *testing.T) {
		attach := []string{bTag.ID, aTag.ID}
		requireFieldError(t, call(t, s, b, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "steal", "tag_ids": attach}, nil), "tag_ids")
		requireFieldError(t, call(t, s, b, http.MethodPut, "/api/v1/tasks/"+bTask.ID, map[string]any{"title": "steal", "tag_ids": attach}, nil), "tag_ids")
		requireFieldError(t, call(t, s, b, http.MethodPatch, "/api/v1/tasks/"+bTask.ID, map[string]any{"title": "steal", "tag_ids": attach}, nil), "tag_ids")
		page := listTasks(t, s, b, nil)
		if page.Total != 1 {
			t.Errorf("B has %d tasks after refused creates, want 1", page.Total)
		}
		if got := page.Items[0]; got.Title != "B's own task" || len(got.Tags) != 0 {
			t.Errorf("B's task after refused writes = %+v", got)
		}
		if tags := listTags(t, s, b); tags.Items[0].TaskCount != 0 {
			t.Errorf("b-tag task_count = %d, want 0", tags.Items[0].TaskCount)
		}
	})

	t.Run("A's resources are unchanged", func(t *testing.T) {
		taskAfter, etagAfter, tagAfter := snapshot()
		if taskAfter != taskBefore || etagAfter != etagBefore {
			t.Errorf("A's task changed:\nbefore %s (%s)\nafter  %s (%s)", taskBefore, etagBefore, taskAfter, etagAfter)
		}
		if tagAfter != tagBefore {
			t.Errorf("A's tag changed:\nbefore %s\nafter  %s", tagBefore, tagAfter)
		}
	})
}
