package routes_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"taskflow/app/apptest"
)

// TestWriteRefusalOrder: a write wrong in several ways gets the first
// problem of: no such task (404), a stale If-Match (412), tag ids that are
// not the caller's (422 naming tag_ids), and the task is left as it was.
func TestWriteRefusalOrder(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		mine, theirs := mustCreateTag(t, s, u, "mine"), mustCreateTag(t, s, other, "theirs")
		task := mustCreateTask(t, s, u, map[string]any{"title": "Kept", "tag_ids": []string{mine.ID}})
		foreign := []string{mine.ID, theirs.ID}
		for _, method := range []string{http.MethodPut, http.MethodPatch} {
			body := map[string]any{"title": "Changed", "tag_ids": foreign}
			r := call(t, s, u, method, "/api/v1/tasks/"+uuid.NewString(), body, map[string]string{"If-Match": `"9"`})
			apptest.RequireProblem(t, r, http.StatusNotFound)
			r = call(t, s, u, method, "/api/v1/tasks/"+task.ID, body, map[string]string{"If-Match": `"9"`})
			apptest.RequireProblem(t, r, http.StatusPreconditionFailed)
			r = call(t, s, u, method, "/api/v1/tasks/"+task.ID, body, map[string]string{"If-Match": `"1"`})
			requireFieldError(t, r, "tag_ids")
			r = call(t, s, u, method, "/api/v1/tasks/"+task.ID, body, nil)
			requireFieldError(t, r, "tag_ids")
		}
		after, etag := mustGetTask(t, s, u, task.ID)
		if after.Title != "Kept" || etag != `"1"` || len(after.Tags) != 1 || after.Tags[0].TaskCount != 1 {
			t.Errorf("refused writes changed the task: %+v %s", after, etag)
		}
		if r := call(t, s, other, http.MethodGet, "/api/v1/tags/"+theirs.ID, nil, nil); !strings.Contains(string(r.Body), `"task_count":0`) {
			t.Errorf("the other user's tag after the refusals: %s", r.Body)
		}
	})
}

// TestCreateRefusalOrderAtTheCaps: at the cap, a tag name already taken is
// still a conflict (409) and a new name is the cap (422); a task create
// with a foreign tag id is the cap too, and under the cap it is tag_ids.
func TestCreateRefusalOrderAtTheCaps(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TAGS_PER_USER": "1", "MAX_TASKS_PER_USER": "1"})
		u, other := newUser(t), newUser(t)
		mustCreateTag(t, s, u, "Only")
		theirs := mustCreateTag(t, s, other, "theirs")
		p := apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": "only"}, nil), http.StatusConflict)
		if !strings.Contains(p["detail"].(string), `"only"`) {
			t.Errorf("409 detail %q does not name the tag", p["detail"])
		}
		p = apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": "second"}, nil), http.StatusUnprocessableEntity)
		if !strings.Contains(p["detail"].(string), "at most 1 tags") {
			t.Errorf("422 detail %q does not name the cap", p["detail"])
		}
		requireFieldError(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "t", "tag_ids": []string{theirs.ID}}, nil), "tag_ids")
		mustCreateTask(t, s, u, map[string]any{"title": "first"})
		p = apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "t", "tag_ids": []string{theirs.ID}}, nil), http.StatusUnprocessableEntity)
		if !strings.Contains(p["detail"].(string), "at most 1 tasks") {
			t.Errorf("422 detail %q does not name the cap", p["detail"])
		}
	})
}
