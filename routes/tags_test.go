package routes_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

// requireTagShape checks a tag body's exact shape and returns it decoded.
func requireTagShape(t testing.TB, r apptest.Response) client.Tag {
	t.Helper()
	m := r.Map(t)
	requireKeys(t, "tag", m, tagKeys)
	requireUTCTime(t, "created_at", m["created_at"])
	var tag client.Tag
	r.JSON(t, &tag)
	return tag
}

func listTags(t testing.TB, s *apptest.Server, u user) client.TagList {
	t.Helper()
	r := call(t, s, u, http.MethodGet, "/api/v1/tags", nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	m := r.Map(t)
	requireKeys(t, "tag list", m, []string{"items", "total"})
	for _, item := range m["items"].([]any) {
		requireKeys(t, "listed tag", item.(map[string]any), tagKeys)
	}
	var list client.TagList
	r.JSON(t, &list)
	return list
}

func tagNames(tags []client.Tag) []string {
	out := make([]string, len(tags))
	for i, tag := range tags {
		out[i] = tag.Name
	}
	return out
}

func TestTagEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)

		t.Run("create", func(t *testing.T) {
			before := time.Now().UTC().Add(-time.Second)
			r := call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": "  Urgent  ", "color": "#FF0000", "id": "x", "task_count": 9}, nil)
			apptest.RequireStatus(t, r, http.StatusCreated)
			tag := requireTagShape(t, r)
			if tag.Name != "Urgent" || tag.Color == nil || *tag.Color != "#ff0000" || tag.TaskCount != 0 || tag.CreatedAt.Before(before) {
				t.Errorf("created %+v", tag)
			}
			if v := uuid.MustParse(tag.ID).Version(); v != 7 {
				t.Errorf("id version = %d, want 7", v)
			}
			if got, want := r.Header.Get("Location"), "/api/v1/tags/"+tag.ID; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			get := call(t, s, u, http.MethodGet, "/api/v1/tags/"+tag.ID, nil, nil)
			apptest.RequireStatus(t, get, http.StatusOK)
			got := requireTagShape(t, get)
			if got.ID != tag.ID || got.Name != tag.Name || got.Color == nil || *got.Color != *tag.Color ||
				got.TaskCount != 0 || !got.CreatedAt.Equal(tag.CreatedAt) {
				t.Errorf("GET = %+v, want %+v", got, tag)
			}
			plain := call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": "plain", "color": nil}, nil)
			apptest.RequireStatus(t, plain, http.StatusCreated)
			if !strings.Contains(string(plain.Body), `"color":null`) {
				t.Errorf("body = %s, want color null", plain.Body)
			}
		})

		t.Run("names are unique per user ignoring case", func(t *testing.T) {
			mustCreateTag(t, s, u, "Home")
			for _, name := range []string{"home", "HOME", "  hOmE "} {
				apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": name}, nil), http.StatusConflict)
			}
			other := newUser(t)
			mustCreateTag(t, s, other, "home") // another user may use the name
			garden := mustCreateTag(t, s, u, "garden")
			r := call(t, s, u, http.MethodPatch, "/api/v1/tags/"+garden.ID, map[string]any{"name": "HOME"}, nil)
			apptest.RequireProblem(t, r, http.StatusConflict)
			r = call(t, s, u, http.MethodPatch, "/api/v1/tags/"+garden.ID, map[string]any{"name": "Garden"}, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			if tag := requireTagShape(t, r); tag.Name != "Garden" {
				t.Errorf("renaming to a different case gave %+v", tag)
			}
		})

		t.Run("list sorted by name ignoring case, with task counts", func(t *testing.T) {
			v := newUser(t)
			zeta, alpha, beta := mustCreateTag(t, s, v, "zeta"), mustCreateTag(t, s, v, "Alpha"), mustCreateTag(t, s, v, "beta")
			mustCreateTask(t, s, v, map[string]any{"title": "a", "tag_ids": []string{zeta.ID, beta.ID}})
			mustCreateTask(t, s, v, map[string]any{"title": "b", "tag_ids": []string{zeta.ID}})
			list := listTags(t, s, v)
			if got := tagNames(list.Items); !slices.Equal(got, []string{"Alpha", "beta", "zeta"}) || list.Total != 3 {
				t.Fatalf("list = %v (total %d)", got, list.Total)
			}
			counts := []int{list.Items[0].TaskCount, list.Items[1].TaskCount, list.Items[2].TaskCount}
			if !slices.Equal(counts, []int{0, 1, 2}) {
				t.Errorf("task counts = %v, want [0 1 2]", counts)
			}
			if list.Items[0].ID != alpha.ID {
				t.Errorf("first tag = %s, want Alpha", list.Items[0].ID)
			}
			empty := listTags(t, s, newUser(t))
			if empty.Total != 0 || empty.Items == nil {
				t.Errorf("empty list = %+v, want items [] and total 0", empty)
			}
		})

		t.Run("PATCH recolours and renames", func(t *testing.T) {
			tag := mustCreateTag(t, s, u, "recolour me")
			patch := func(body map[string]any) client.Tag {
				r := call(t, s, u, http.MethodPatch, "/api/v1/tags/"+tag.ID, body, nil)
				apptest.RequireStatus(t, r, http.StatusOK)
				return requireTagShape(t, r)
			}
			if got := patch(map[string]any{"color": "#00aa00"}); got.Name != "recolour me" || got.Color == nil || *got.Color != "#00aa00" {
				t.Errorf("after colour = %+v", got)
			}
			if got := patch(map[string]any{"name": " renamed "}); got.Name != "renamed" || got.Color == nil {
				t.Errorf("after rename = %+v", got)
			}
			if got := patch(map[string]any{"color": nil}); got.Color != nil || got.Name != "renamed" {
				t.Errorf("after color null = %+v", got)
			}
			if got := patch(map[string]any{}); got.Name != "renamed" || !got.CreatedAt.Equal(tag.CreatedAt) {
				t.Errorf("after {} = %+v", got)
			}
		})

		t.Run("DELETE removes the tag from its tasks, which stay", func(t *testing.T) {
			tag, keep := mustCreateTag(t, s, u, "doomed"), mustCreateTag(t, s, u, "kept")
			task := mustCreateTask(t, s, u, map[string]any{"title": "tagged", "tag_ids": []string{tag.ID, keep.ID}})
			r := call(t, s, u, http.MethodDelete, "/api/v1/tags/"+tag.ID, nil, nil)
			apptest.RequireStatus(t, r, http.StatusNoContent)
			apptest.RequireProblem(t, call(t, s, u, http.MethodGet, "/api/v1/tags/"+tag.ID, nil, nil), http.StatusNotFound)
			apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, "/api/v1/tags/"+tag.ID, nil, nil), http.StatusNotFound)
			after, _ := mustGetTask(t, s, u, task.ID)
			if got := tagIDs(after.Tags); !slices.Equal(got, []string{keep.ID}) {
				t.Errorf("task's tags after deleting one = %v, want [kept]", got)
			}
			r = call(t, s, u, http.MethodPatch, "/api/v1/tasks/"+task.ID, map[string]any{"tag_ids": []string{tag.ID}}, nil)
			requireFieldError(t, r, "tag_ids")
		})

		t.Run("malformed or unknown id is 404", func(t *testing.T) {
			for _, id := range []string{"nope", "12", uuid.NewString()} {
				apptest.RequireProblem(t, call(t, s, u, http.MethodGet, "/api/v1/tags/"+id, nil, nil), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, "/api/v1/tags/"+id, map[string]any{"name": "x"}, nil), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, "/api/v1/tags/"+id, nil, nil), http.StatusNotFound)
			}
		})

		t.Run("validation", func(t *testing.T) {
			existing := mustCreateTag(t, s, u, "valid")
			cases := []struct {
				name   string
				method string
				body   any
				field  string
			}{
				{"name missing", http.MethodPost, map[string]any{}, "name"},
				{"name blank", http.MethodPost, map[string]any{"name": "  "}, "name"},
				{"name 51 characters", http.MethodPost, map[string]any{"name": strings.Repeat("ä", 51)}, "name"},
				{"name wrong type", http.MethodPost, map[string]any{"name": true}, "name"},
				{"name with NUL", http.MethodPost, map[string]any{"name": "a\x00"}, "name"},
				{"color without #", http.MethodPost, map[string]any{"name": "c1", "color": "ff0000"}, "color"},
				{"color short form", http.MethodPost, map[string]any{"name": "c2", "color": "#f00"}, "color"},
				{"color with alpha", http.MethodPost, map[string]any{"name": "c3", "color": "#ff000080"}, "color"},
				{"color named", http.MethodPost, map[string]any{"name": "c4", "color": "red"}, "color"},
				{"color not hex", http.MethodPost, map[string]any{"name": "c5", "color": "#gg0000"}, "color"},
				{"PATCH name null", http.MethodPatch, map[string]any{"name": nil}, "name"},
				{"PATCH name blank", http.MethodPatch, map[string]any{"name": ""}, "name"},
				{"PATCH name too long", http.MethodPatch, map[string]any{"name": strings.Repeat("n", 51)}, "name"},
				{"PATCH color bad", http.MethodPatch, map[string]any{"color": "#12345"}, "color"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					path := "/api/v1/tags"
					if tc.method == http.MethodPatch {
						path += "/" + existing.ID
					}
					requireFieldError(t, call(t, s, u, tc.method, path, tc.body, nil), tc.field)
				})
			}
			fifty := mustCreateTag(t, s, u, strings.Repeat("é", 50))
			if len([]rune(fifty.Name)) != 50 {
				t.Errorf("a 50-character name came back as %q", fifty.Name)
			}
			apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", `{"name":`, nil), http.StatusBadRequest)
			apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", `name=x`,
				map[string]string{"Content-Type": "text/plain"}), http.StatusUnsupportedMediaType)
			apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, "/api/v1/tags/"+existing.ID, `"x"`, nil), http.StatusBadRequest)
			if got, _ := mustGetTagByID(t, s, u, existing.ID); got.Name != "valid" || got.Color != nil {
				t.Errorf("rejected writes changed the tag: %+v", got)
			}
		})
	})
}

func mustGetTagByID(t testing.TB, s *apptest.Server, u user, id string) (client.Tag, apptest.Response) {
	t.Helper()
	r := call(t, s, u, http.MethodGet, "/api/v1/tags/"+id, nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireTagShape(t, r), r
}

func TestTagCap(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TAGS_PER_USER": "2"})
		u := newUser(t)
		mustCreateTag(t, s, u, "one")
		mustCreateTag(t, s, u, "two")
		p := apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/tags", map[string]any{"name": "three"}, nil), http.StatusUnprocessableEntity)
		if !strings.Contains(p["detail"].(string), "2") {
			t.Errorf("detail %q does not name the limit", p["detail"])
		}
		if list := listTags(t, s, u); list.Total != 2 {
			t.Errorf("total = %d after a refused create, want 2", list.Total)
		}
		mustCreateTag(t, s, newUser(t), "three") // the cap is per user
	})
}
