package routes_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

var projectKeys = []string{"id", "name", "color", "position", "archived", "task_count", "open_task_count", "created_at", "updated_at", "version"}

// requireProjectShape checks a project body's exact shape and that its
// times are RFC 3339 in UTC; it returns the project decoded.
func requireProjectShape(t testing.TB, r apptest.Response) client.Project {
	t.Helper()
	m := r.Map(t)
	requireKeys(t, "project", m, projectKeys)
	requireUTCTime(t, "created_at", m["created_at"])
	requireUTCTime(t, "updated_at", m["updated_at"])
	var p client.Project
	r.JSON(t, &p)
	if got, want := r.Header.Get("ETag"), etagOf(p.Version); r.Status != http.StatusNotModified && got != want {
		t.Fatalf("ETag = %q, want %q (the body's version)", got, want)
	}
	return p
}

func etagOf(version int64) string { return fmt.Sprintf(`"%d"`, version) }

func projectPath(id string) string { return "/api/v1/projects/" + id }

func mustCreateProject(t testing.TB, s *apptest.Server, u user, name string) client.Project {
	t.Helper()
	r := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": name}, nil)
	apptest.RequireStatus(t, r, http.StatusCreated)
	return requireProjectShape(t, r)
}

func mustGetProject(t testing.TB, s *apptest.Server, u user, id string) (client.Project, apptest.Response) {
	t.Helper()
	r := call(t, s, u, http.MethodGet, projectPath(id), nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireProjectShape(t, r), r
}

func mustPatchProject(t testing.TB, s *apptest.Server, u user, id string, body map[string]any) client.Project {
	t.Helper()
	r := call(t, s, u, http.MethodPatch, projectPath(id), body, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireProjectShape(t, r)
}

func mustMoveProject(t testing.TB, s *apptest.Server, u user, id string, body map[string]any) client.Project {
	t.Helper()
	r := call(t, s, u, http.MethodPost, projectPath(id)+"/move", body, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireProjectShape(t, r)
}

// listProjects lists u's projects with archived ("" for the default) and
// checks the list's shape and that its order is the order of positions,
// byte by byte.
func listProjects(t testing.TB, s *apptest.Server, u user, archived string) client.ProjectList {
	t.Helper()
	path := "/api/v1/projects"
	if archived != "" {
		path += "?archived=" + url.QueryEscape(archived)
	}
	r := call(t, s, u, http.MethodGet, path, nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	m := r.Map(t)
	requireKeys(t, "project list", m, []string{"items", "total"})
	for _, item := range m["items"].([]any) {
		requireKeys(t, "listed project", item.(map[string]any), projectKeys)
	}
	var list client.ProjectList
	r.JSON(t, &list)
	if list.Total != len(list.Items) {
		t.Fatalf("total = %d for %d items", list.Total, len(list.Items))
	}
	for i := 1; i < len(list.Items); i++ {
		if list.Items[i-1].Position >= list.Items[i].Position {
			t.Fatalf("projects %q then %q are out of position order", list.Items[i-1].Position, list.Items[i].Position)
		}
	}
	return list
}

func projectIDs(projects []client.Project) []string {
	out := make([]string, len(projects))
	for i, p := range projects {
		out[i] = p.ID
	}
	return out
}

// projectStates is each project's id, position and version, in order.
func projectStates(projects []client.Project) []string {
	return ids(projects, func(p client.Project) string { return fmt.Sprint(p.ID, " ", p.Position, " ", p.Version) })
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = id(item)
	}
	return out
}

func TestProjectEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)

		t.Run("create, with client-only fields ignored", func(t *testing.T) {
			r := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{
				"name": "  Home renovation  ", "color": "#22C55E", "id": "00000000-0000-0000-0000-000000000000",
				"archived": true, "position": "0", "task_count": 9, "version": 7, "created_at": "2001-01-01T00:00:00Z",
			}, nil)
			apptest.RequireStatus(t, r, http.StatusCreated)
			p := requireProjectShape(t, r)
			if p.Name != "Home renovation" || p.Color == nil || *p.Color != "#22c55e" || p.Archived ||
				p.TaskCount != 0 || p.OpenTaskCount != 0 || p.Version != 1 || p.Position == "" || p.CreatedAt.Year() == 2001 {
				t.Errorf("created %+v", p)
			}
			if !p.UpdatedAt.Equal(p.CreatedAt) {
				t.Errorf("updated_at %v, want created_at %v", p.UpdatedAt, p.CreatedAt)
			}
			if v := uuid.MustParse(p.ID).Version(); v != 7 {
				t.Errorf("id version = %d, want 7", v)
			}
			if got, want := r.Header.Get("Location"), projectPath(p.ID); got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
			_, get := mustGetProject(t, s, u, p.ID)
			if string(get.Body) != string(r.Body) {
				t.Errorf("GET = %s\nwant POST's %s", get.Body, r.Body)
			}
			plain := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "Plain", "color": nil}, nil)
			apptest.RequireStatus(t, plain, http.StatusCreated)
			if !strings.Contains(string(plain.Body), `"color":null`) {
				t.Errorf("body = %s, want color null", plain.Body)
			}
			twin := mustCreateProject(t, s, u, "Plain") // names need not be unique
			if twin.Name != "Plain" {
				t.Errorf("a second project named Plain came back as %+v", twin)
			}
		})

		t.Run("the list is in manual order, filtered by archived", func(t *testing.T) {
			v := newUser(t)
			empty := listProjects(t, s, v, "")
			if empty.Total != 0 || empty.Items == nil {
				t.Errorf("empty list = %+v, want items [] and total 0", empty)
			}
			a, b, c := mustCreateProject(t, s, v, "zeta"), mustCreateProject(t, s, v, "alpha"), mustCreateProject(t, s, v, "Mid")
			if got := projectIDs(listProjects(t, s, v, "").Items); !slices.Equal(got, []string{a.ID, b.ID, c.ID}) {
				t.Fatalf("list = %v, want the order of creation %v", got, []string{a.ID, b.ID, c.ID})
			}
			archived := mustPatchProject(t, s, v, b.ID, map[string]any{"archived": true})
			if !archived.Archived || archived.Version != 2 {
				t.Errorf("after archiving: %+v", archived)
			}
			for _, tc := range []struct {
				archived string
				want     []string
			}{
				{"", []string{a.ID, c.ID}},
				{"false", []string{a.ID, c.ID}},
				{"true", []string{b.ID}},
				{"any", []string{a.ID, b.ID, c.ID}},
			} {
				if got := projectIDs(listProjects(t, s, v, tc.archived).Items); !slices.Equal(got, tc.want) {
					t.Errorf("archived=%q: %v, want %v", tc.archived, got, tc.want)
				}
			}
			for _, bad := range []string{"yes", "TRUE", "1", "all"} {
				requireExactFields(t, call(t, s, v, http.MethodGet, "/api/v1/projects?archived="+bad, nil, nil),
					http.StatusUnprocessableEntity, "archived")
			}
		})

		t.Run("task counts are counted live, subtasks included", func(t *testing.T) {
			v := newUser(t)
			p := mustCreateProject(t, s, v, "counted")
			top := mustCreateTask(t, s, v, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, v, map[string]any{"title": "sub", "parent_id": top.ID})
			mustCreateTask(t, s, v, map[string]any{"title": "sub of sub", "parent_id": sub.ID})
			done := mustCreateTask(t, s, v, map[string]any{"title": "done", "project_id": p.ID, "completed": true})
			mustCreateTask(t, s, v, map[string]any{"title": "in the inbox"})
			requireCounts := func(wantAll, wantOpen int) {
				t.Helper()
				got, _ := mustGetProject(t, s, v, p.ID)
				listed := listProjects(t, s, v, "").Items[0]
				if got.TaskCount != wantAll || got.OpenTaskCount != wantOpen || listed.TaskCount != wantAll || listed.OpenTaskCount != wantOpen {
					t.Fatalf("counts: GET %d/%d, list %d/%d; want %d tasks, %d open",
						got.TaskCount, got.OpenTaskCount, listed.TaskCount, listed.OpenTaskCount, wantAll, wantOpen)
				}
			}
			requireCounts(4, 3)
			apptest.RequireStatus(t, call(t, s, v, http.MethodPatch, "/api/v1/tasks/"+top.ID, map[string]any{"completed": true}, nil), http.StatusOK)
			requireCounts(4, 0) // completing a task completes its subtasks
			apptest.RequireStatus(t, call(t, s, v, http.MethodDelete, "/api/v1/tasks/"+done.ID, nil, nil), http.StatusNoContent)
			requireCounts(3, 0)
			apptest.RequireStatus(t, call(t, s, v, http.MethodPatch, "/api/v1/tasks/"+top.ID, map[string]any{"completed": false}, nil), http.StatusOK)
			requireCounts(3, 1) // reopening reopens none of its subtasks
		})

		t.Run("PATCH changes exactly what it is sent", func(t *testing.T) {
			p := mustCreateProject(t, s, u, "patch me")
			steps := []struct {
				body    map[string]any
				version int64
				check   func(p client.Project) bool
			}{
				{map[string]any{"color": "#00AA00"}, 2, func(p client.Project) bool { return p.Color != nil && *p.Color == "#00aa00" && p.Name == "patch me" }},
				{map[string]any{"name": "  renamed "}, 3, func(p client.Project) bool { return p.Name == "renamed" && p.Color != nil }},
				{map[string]any{"color": nil}, 4, func(p client.Project) bool { return p.Color == nil && p.Name == "renamed" }},
				{map[string]any{"archived": true}, 5, func(p client.Project) bool { return p.Archived && p.Name == "renamed" }},
				{map[string]any{"archived": false, "name": "renamed"}, 6, func(p client.Project) bool { return !p.Archived }},
				{map[string]any{}, 6, func(p client.Project) bool { return p.Name == "renamed" && !p.Archived }},
				{map[string]any{"name": "renamed", "color": nil, "archived": false, "id": uuid.NewString(), "task_count": 5}, 6,
					func(p client.Project) bool { return p.TaskCount == 0 }},
			}
			before := p
			for _, step := range steps {
				got := mustPatchProject(t, s, u, p.ID, step.body)
				if !step.check(got) || got.Version != step.version || got.ID != p.ID || !got.CreatedAt.Equal(p.CreatedAt) || got.Position != p.Position {
					t.Fatalf("PATCH %v: %+v, want version %d", step.body, got, step.version)
				}
				if changed := got.Version != before.Version; changed != got.UpdatedAt.After(before.UpdatedAt) {
					t.Fatalf("PATCH %v: version %d → %d but updated_at %v → %v", step.body, before.Version, got.Version, before.UpdatedAt, got.UpdatedAt)
				}
				before = got
			}
		})

		t.Run("DELETE removes the project and all its tasks", func(t *testing.T) {
			v := newUser(t)
			tag := mustCreateTag(t, s, v, "kept tag")
			p, other := mustCreateProject(t, s, v, "doomed"), mustCreateProject(t, s, v, "kept")
			top := mustCreateTask(t, s, v, map[string]any{"title": "top", "project_id": p.ID, "tag_ids": []string{tag.ID}})
			sub := mustCreateTask(t, s, v, map[string]any{"title": "sub", "parent_id": top.ID, "tag_ids": []string{tag.ID}})
			inbox := mustCreateTask(t, s, v, map[string]any{"title": "inbox", "tag_ids": []string{tag.ID}})
			elsewhere := mustCreateTask(t, s, v, map[string]any{"title": "elsewhere", "project_id": other.ID})
			r := call(t, s, v, http.MethodDelete, projectPath(p.ID), nil, nil)
			apptest.RequireStatus(t, r, http.StatusNoContent)
			if len(r.Body) != 0 {
				t.Errorf("204 body = %q", r.Body)
			}
			apptest.RequireProblem(t, call(t, s, v, http.MethodGet, projectPath(p.ID), nil, nil), http.StatusNotFound)
			apptest.RequireProblem(t, call(t, s, v, http.MethodDelete, projectPath(p.ID), nil, nil), http.StatusNotFound)
			for _, id := range []string{top.ID, sub.ID} {
				apptest.RequireProblem(t, call(t, s, v, http.MethodGet, "/api/v1/tasks/"+id, nil, nil), http.StatusNotFound)
			}
			mustGetTask(t, s, v, inbox.ID)
			mustGetTask(t, s, v, elsewhere.ID)
			if got := projectIDs(listProjects(t, s, v, "any").Items); !slices.Equal(got, []string{other.ID}) {
				t.Errorf("projects after the delete: %v, want [kept]", got)
			}
			if page := listTasks(t, s, v, nil); page.Total != 2 {
				t.Errorf("tasks after the delete: %v, want inbox and elsewhere", titles(page.Items))
			}
			if got, _ := mustGetTagByID(t, s, v, tag.ID); got.TaskCount != 1 {
				t.Errorf("the tag's task_count = %d after its project's tasks went, want 1", got.TaskCount)
			}
			requireFieldError(t, call(t, s, v, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "x", "project_id": p.ID}, nil), "project_id")
		})

		t.Run("malformed or unknown id is 404", func(t *testing.T) {
			for _, id := range []string{"nope", "1", strings.Repeat("a", 300), "%00", uuid.NewString(), "' OR 1=1 --", "{" + uuid.NewString() + "}"} {
				path := projectPath(url.PathEscape(id))
				apptest.RequireProblem(t, call(t, s, u, http.MethodGet, path, nil, nil), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, path, map[string]any{"name": "x"}, nil), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodPost, path+"/move", map[string]any{"after_id": nil}, nil), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, path, nil, nil), http.StatusNotFound)
			}
		})

		t.Run("validation", func(t *testing.T) {
			existing := mustCreateProject(t, s, u, "valid")
			existingBody := string(call(t, s, u, http.MethodGet, projectPath(existing.ID), nil, nil).Body)
			cases := []struct {
				name   string
				method string
				path   string
				body   any
				field  string
			}{
				{"name missing", http.MethodPost, "", map[string]any{}, "name"},
				{"name null", http.MethodPost, "", map[string]any{"name": nil}, "name"},
				{"name blank", http.MethodPost, "", map[string]any{"name": " \t "}, "name"},
				{"name 101 characters", http.MethodPost, "", map[string]any{"name": strings.Repeat("ä", 101)}, "name"},
				{"name wrong type", http.MethodPost, "", map[string]any{"name": 12}, "name"},
				{"name with NUL", http.MethodPost, "", map[string]any{"name": "a\x00"}, "name"},
				{"color short form", http.MethodPost, "", map[string]any{"name": "c", "color": "#f00"}, "color"},
				{"color named", http.MethodPost, "", map[string]any{"name": "c", "color": "green"}, "color"},
				{"color wrong type", http.MethodPost, "", map[string]any{"name": "c", "color": 255}, "color"},
				{"PATCH name null", http.MethodPatch, "", map[string]any{"name": nil}, "name"},
				{"PATCH name blank", http.MethodPatch, "", map[string]any{"name": ""}, "name"},
				{"PATCH name too long", http.MethodPatch, "", map[string]any{"name": strings.Repeat("n", 101)}, "name"},
				{"PATCH archived null", http.MethodPatch, "", map[string]any{"archived": nil}, "archived"},
				{"PATCH archived wrong type", http.MethodPatch, "", map[string]any{"archived": "yes"}, "archived"},
				{"PATCH color bad", http.MethodPatch, "", map[string]any{"color": "#12345g"}, "color"},
				{"move after_id not a UUID", http.MethodPost, "/move", map[string]any{"after_id": "nope"}, "after_id"},
				{"move after_id wrong type", http.MethodPost, "/move", map[string]any{"after_id": 5}, "after_id"},
				{"move after_id unknown", http.MethodPost, "/move", map[string]any{"after_id": uuid.NewString()}, "after_id"},
				{"move after itself", http.MethodPost, "/move", map[string]any{"after_id": existing.ID}, "after_id"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					path := "/api/v1/projects"
					if tc.method == http.MethodPatch || tc.path != "" {
						path = projectPath(existing.ID) + tc.path
					}
					requireExactFields(t, call(t, s, u, tc.method, path, tc.body, nil), http.StatusUnprocessableEntity, tc.field)
				})
			}
			hundred := mustCreateProject(t, s, u, strings.Repeat("é", 100))
			if len([]rune(hundred.Name)) != 100 {
				t.Errorf("a 100-character name came back as %q", hundred.Name)
			}
			for _, tc := range []struct {
				method, path string
				body         any
				headers      map[string]string
				status       int
			}{
				{http.MethodPost, "/api/v1/projects", `{"name":`, nil, http.StatusBadRequest},
				{http.MethodPost, "/api/v1/projects", `[]`, nil, http.StatusBadRequest},
				{http.MethodPatch, projectPath(existing.ID), `null`, nil, http.StatusBadRequest},
				{http.MethodPost, projectPath(existing.ID) + "/move", `{`, nil, http.StatusBadRequest},
				{http.MethodPost, projectPath(existing.ID) + "/move", ``, nil, http.StatusBadRequest},
				{http.MethodPost, "/api/v1/projects", `name=x`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
				{http.MethodPatch, projectPath(existing.ID), `{"name":"x"}`, map[string]string{"Content-Type": ""}, http.StatusUnsupportedMediaType},
				{http.MethodPost, projectPath(existing.ID) + "/move", `after_id=`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
			} {
				apptest.RequireProblem(t, call(t, s, u, tc.method, tc.path, tc.body, tc.headers), tc.status)
			}
			if after := string(call(t, s, u, http.MethodGet, projectPath(existing.ID), nil, nil).Body); after != existingBody {
				t.Errorf("rejected writes changed the project:\nbefore %s\nafter  %s", existingBody, after)
			}
		})

		t.Run("every problem in one 422", func(t *testing.T) {
			p := mustCreateProject(t, s, u, "named")
			requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "", "color": "red"}, nil),
				http.StatusUnprocessableEntity, "name", "color")
			requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": false, "color": 1}, nil),
				http.StatusUnprocessableEntity, "name", "color")
			requireExactFields(t, call(t, s, u, http.MethodPatch, projectPath(p.ID), map[string]any{"name": nil, "color": 5, "archived": "x"}, nil),
				http.StatusUnprocessableEntity, "name", "color", "archived")
		})
	})
}

func TestProjectMove(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		a, b, c, d := mustCreateProject(t, s, u, "a"), mustCreateProject(t, s, u, "b"), mustCreateProject(t, s, u, "c"), mustCreateProject(t, s, u, "d")
		names := func() []string {
			return ids(listProjects(t, s, u, "any").Items, func(p client.Project) string { return p.Name })
		}
		byID := func() map[string]client.Project {
			out := map[string]client.Project{}
			for _, p := range listProjects(t, s, u, "any").Items {
				out[p.ID] = p
			}
			return out
		}

		steps := []struct {
			name  string
			moved client.Project
			body  map[string]any
			want  []string
		}{
			{"right after a project", d, map[string]any{"after_id": a.ID}, []string{"a", "d", "b", "c"}},
			{"after_id in upper case", b, map[string]any{"after_id": strings.ToUpper(a.ID)}, []string{"a", "b", "d", "c"}},
			{"first when after_id is null", c, map[string]any{"after_id": nil}, []string{"c", "a", "b", "d"}},
			{"last when after_id is left out", c, map[string]any{}, []string{"a", "b", "d", "c"}},
			{"right after the last", a, map[string]any{"after_id": c.ID}, []string{"b", "d", "c", "a"}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				before := byID()
				r := call(t, s, u, http.MethodPost, projectPath(step.moved.ID)+"/move", step.body, nil)
				apptest.RequireStatus(t, r, http.StatusOK)
				moved := requireProjectShape(t, r)
				if got := names(); !slices.Equal(got, step.want) {
					t.Fatalf("order %v, want %v", got, step.want)
				}
				was := before[step.moved.ID]
				if moved.Version != was.Version+1 || !moved.UpdatedAt.After(was.UpdatedAt) || moved.Name != was.Name {
					t.Errorf("moved %+v, was %+v: want the version bumped once", moved, was)
				}
				if moved.Position == was.Position {
					t.Errorf("position unchanged: %q", moved.Position)
				}
				if len(moved.Position) >= 64 {
					t.Errorf("position %q is 64 bytes or more", moved.Position)
				}
				for id, p := range byID() {
					if id != moved.ID && (p.Position != before[id].Position || p.Version != before[id].Version) {
						t.Errorf("moving %s changed %s: %+v → %+v", step.moved.Name, p.Name, before[id], p)
					}
				}
			})
		}

		t.Run("archived projects keep their place", func(t *testing.T) {
			mustPatchProject(t, s, u, d.ID, map[string]any{"archived": true})
			mustMoveProject(t, s, u, a.ID, map[string]any{"after_id": d.ID})
			if got := names(); !slices.Equal(got, []string{"b", "d", "a", "c"}) {
				t.Errorf("order %v, want a right after the archived d", got)
			}
			active := ids(listProjects(t, s, u, "").Items, func(p client.Project) string { return p.Name })
			if !slices.Equal(active, []string{"b", "a", "c"}) {
				t.Errorf("active projects %v, want [b a c]", active)
			}
		})

		t.Run("an after_id that is not another of the caller's projects is a 422", func(t *testing.T) {
			before := listProjects(t, s, u, "any")
			other := newUser(t)
			theirs := mustCreateProject(t, s, other, "theirs")
			task := mustCreateTask(t, s, u, map[string]any{"title": "a task, not a project"})
			for _, after := range []string{a.ID, uuid.NewString(), theirs.ID, task.ID} {
				requireExactFields(t, call(t, s, u, http.MethodPost, projectPath(a.ID)+"/move", map[string]any{"after_id": after}, nil),
					http.StatusUnprocessableEntity, "after_id")
			}
			if got, want := projectStates(listProjects(t, s, u, "any").Items), projectStates(before.Items); !slices.Equal(got, want) {
				t.Errorf("refused moves changed the projects:\nbefore %v\nafter  %v", want, got)
			}
		})

		t.Run("positions stay short however many moves land in one spot", func(t *testing.T) {
			v := newUser(t)
			first := mustCreateProject(t, s, v, "first")
			mustCreateProject(t, s, v, "second")
			movers := []client.Project{mustCreateProject(t, s, v, "x"), mustCreateProject(t, s, v, "y")}
			for i := range 120 {
				p := mustMoveProject(t, s, v, movers[i%2].ID, map[string]any{"after_id": first.ID})
				if len(p.Position) >= 64 {
					t.Fatalf("move %d: position %q is %d bytes, want under 64", i, p.Position, len(p.Position))
				}
			}
			got := ids(listProjects(t, s, v, "").Items, func(p client.Project) string { return p.Name })
			if !slices.Equal(got, []string{"first", "y", "x", "second"}) {
				t.Errorf("order after the moves %v, want [first y x second]", got)
			}
		})
	})
}

func TestProjectConditionalRequests(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		ifMatch := func(v string) map[string]string { return map[string]string{"If-Match": v} }

		t.Run("If-None-Match on GET", func(t *testing.T) {
			p := mustCreateProject(t, s, u, "cached")
			p = mustPatchProject(t, s, u, p.ID, map[string]any{"name": "cached 2"})
			etag := etagOf(p.Version)
			for _, header := range []string{etag, "W/" + etag, `"9", ` + etag, "*"} {
				r := call(t, s, u, http.MethodGet, projectPath(p.ID), nil, map[string]string{"If-None-Match": header})
				apptest.RequireStatus(t, r, http.StatusNotModified)
				if len(r.Body) != 0 || r.Header.Get("ETag") != etag {
					t.Errorf("If-None-Match %s: 304 with body %q and ETag %q, want no body and %s", header, r.Body, r.Header.Get("ETag"), etag)
				}
			}
			r := call(t, s, u, http.MethodGet, projectPath(p.ID), nil, map[string]string{"If-None-Match": `"1"`})
			apptest.RequireStatus(t, r, http.StatusOK)
			if got := requireProjectShape(t, r); got.Name != "cached 2" {
				t.Errorf("GET after a stale If-None-Match = %+v", got)
			}
		})

		cases := []struct {
			name    string
			method  string
			suffix  string
			body    any
			ifMatch string
			status  int
		}{
			{"PATCH current", http.MethodPatch, "", map[string]any{"name": "changed"}, `"1"`, http.StatusOK},
			{"PATCH star", http.MethodPatch, "", map[string]any{"name": "changed"}, `*`, http.StatusOK},
			{"PATCH list with current", http.MethodPatch, "", map[string]any{"name": "changed"}, `"4", "1"`, http.StatusOK},
			{"PATCH stale", http.MethodPatch, "", map[string]any{"name": "changed"}, `"2"`, http.StatusPreconditionFailed},
			{"PATCH weak never matches", http.MethodPatch, "", map[string]any{"name": "changed"}, `W/"1"`, http.StatusPreconditionFailed},
			{"move current", http.MethodPost, "/move", map[string]any{"after_id": nil}, `"1"`, http.StatusOK},
			{"move star", http.MethodPost, "/move", map[string]any{}, `*`, http.StatusOK},
			{"move stale", http.MethodPost, "/move", map[string]any{"after_id": nil}, `"0"`, http.StatusPreconditionFailed},
			{"move garbage", http.MethodPost, "/move", map[string]any{}, `abc`, http.StatusPreconditionFailed},
			{"DELETE current", http.MethodDelete, "", nil, `"1"`, http.StatusNoContent},
			{"DELETE star", http.MethodDelete, "", nil, `*`, http.StatusNoContent},
			{"DELETE stale", http.MethodDelete, "", nil, `"3"`, http.StatusPreconditionFailed},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				v := newUser(t)
				mustCreateProject(t, s, v, "neighbour")
				p := mustCreateProject(t, s, v, "guarded")
				mustCreateTask(t, s, v, map[string]any{"title": "inside", "project_id": p.ID})
				_, before := mustGetProject(t, s, v, p.ID)
				r := call(t, s, v, tc.method, projectPath(p.ID)+tc.suffix, tc.body, ifMatch(tc.ifMatch))
				if tc.status != http.StatusPreconditionFailed {
					apptest.RequireStatus(t, r, tc.status)
					if tc.status == http.StatusOK {
						if got := requireProjectShape(t, r); got.Version != 2 {
							t.Errorf("version after a matching %s = %d, want 2", tc.method, got.Version)
						}
					}
					return
				}
				apptest.RequireProblem(t, r, http.StatusPreconditionFailed)
				if r.Header.Get("ETag") != "" {
					t.Errorf("412 carries ETag %q", r.Header.Get("ETag"))
				}
				if _, after := mustGetProject(t, s, v, p.ID); string(after.Body) != string(before.Body) {
					t.Errorf("a failed precondition changed the project:\nbefore %s\nafter  %s", before.Body, after.Body)
				}
				if page := listTasks(t, s, v, url.Values{"project_id": {p.ID}}); page.Total != 1 {
					t.Errorf("a failed precondition deleted the project's tasks")
				}
			})
		}

		t.Run("the ETag of a write is the next write's If-Match", func(t *testing.T) {
			p := mustCreateProject(t, s, u, "chain")
			etag := etagOf(p.Version)
			for i := range 4 {
				method, suffix, body := http.MethodPatch, "", any(map[string]any{"name": fmt.Sprint("chain ", i)})
				if i%2 == 1 {
					method, suffix, body = http.MethodPost, "/move", map[string]any{"after_id": nil}
				}
				r := call(t, s, u, method, projectPath(p.ID)+suffix, body, ifMatch(etag))
				apptest.RequireStatus(t, r, http.StatusOK)
				etag = r.Header.Get("ETag")
			}
			if etag != `"5"` {
				t.Errorf("ETag after 4 writes = %s, want \"5\"", etag)
			}
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, projectPath(p.ID), nil, ifMatch(etag)), http.StatusNoContent)
		})

		t.Run("unknown project with If-Match is 404", func(t *testing.T) {
			id := uuid.NewString()
			for _, header := range []string{`"1"`, "*"} {
				apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, projectPath(id), map[string]any{"name": "x"}, ifMatch(header)), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodPost, projectPath(id)+"/move", map[string]any{}, ifMatch(header)), http.StatusNotFound)
				apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, projectPath(id), nil, ifMatch(header)), http.StatusNotFound)
			}
		})
	})
}

// TestProjectIsolation: another user's project is a 404 on every project
// endpoint and a 422 wherever a body names it; another user's task is a
// 422 as parent_id or after_id; nothing of the owner's changes.
func TestProjectIsolation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		for _, pair := range []struct {
			name string
			a, b func(testing.TB) user
		}{
			{"local users", newUser, newUser},
			{"Better Auth owner, local intruder", betterAuthUser, newUser},
			{"local owner, Better Auth intruder", newUser, betterAuthUser},
		} {
			t.Run(pair.name, func(t *testing.T) {
				projectIsolationScenario(t, s, pair.a(t), pair.b(t))
			})
		}
	})
}

func projectIsolationScenario(t *testing.T, s *apptest.Server, a, b user) {
	aProject := mustCreateProject(t, s, a, "A's project")
	aTask := mustCreateTask(t, s, a, map[string]any{"title": "A's task", "project_id": aProject.ID})
	aSub := mustCreateTask(t, s, a, map[string]any{"title": "A's subtask", "parent_id": aTask.ID})
	bProject := mustCreateProject(t, s, b, "B's project")
	bTask := mustCreateTask(t, s, b, map[string]any{"title": "B's task", "project_id": bProject.ID})
	bOther := mustCreateTask(t, s, b, map[string]any{"title": "B's other task", "project_id": bProject.ID})

	snapshot := func() []string {
		t.Helper()
		out := []string{}
		for _, path := range []string{projectPath(aProject.ID), "/api/v1/tasks/" + aTask.ID, "/api/v1/tasks/" + aSub.ID} {
			r := call(t, s, a, http.MethodGet, path, nil, nil)
			apptest.RequireStatus(t, r, http.StatusOK)
			out = append(out, string(r.Body)+" "+r.Header.Get("ETag"))
		}
		return out
	}
	aBefore := snapshot()
	bTaskBefore := string(call(t, s, b, http.MethodGet, "/api/v1/tasks/"+bTask.ID, nil, nil).Body)

	t.Run("another user's project is 404 on every project endpoint", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         any
			headers      map[string]string
		}{
			{http.MethodGet, projectPath(aProject.ID), nil, nil},
			{http.MethodGet, projectPath(aProject.ID), nil, map[string]string{"If-None-Match": `"1"`}},
			{http.MethodPatch, projectPath(aProject.ID), map[string]any{"name": "hijacked", "archived": true}, nil},
			{http.MethodPatch, projectPath(aProject.ID), map[string]any{"name": "hijacked"}, map[string]string{"If-Match": "*"}},
			{http.MethodPost, projectPath(aProject.ID) + "/move", map[string]any{"after_id": nil}, nil},
			{http.MethodPost, projectPath(aProject.ID) + "/move", map[string]any{"after_id": bProject.ID}, map[string]string{"If-Match": `"1"`}},
			{http.MethodDelete, projectPath(aProject.ID), nil, nil},
			{http.MethodDelete, projectPath(aProject.ID), nil, map[string]string{"If-Match": `"1"`}},
			{http.MethodPost, "/api/v1/tasks/" + aTask.ID + "/move", map[string]any{"project_id": bProject.ID}, nil},
			{http.MethodPost, "/api/v1/tasks/" + aSub.ID + "/move", map[string]any{"parent_id": nil}, map[string]string{"If-Match": "*"}},
		} {
			r := call(t, s, b, tc.method, tc.path, tc.body, tc.headers)
			if p := apptest.RequireProblem(t, r, http.StatusNotFound); p["detail"] == nil {
				t.Errorf("%s %s: no detail", tc.method, tc.path)
			}
		}
	})

	t.Run("another user's project or task named in a body is a 422 naming it", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			field        string
		}{
			{http.MethodPost, "/api/v1/tasks", map[string]any{"title": "x", "project_id": aProject.ID}, "project_id"},
			{http.MethodPost, "/api/v1/tasks", map[string]any{"title": "x", "parent_id": aTask.ID}, "parent_id"},
			{http.MethodPost, "/api/v1/tasks", map[string]any{"title": "x", "project_id": aProject.ID, "parent_id": aTask.ID}, "project_id"},
			{http.MethodPut, "/api/v1/tasks/" + bTask.ID, map[string]any{"title": "x", "project_id": aProject.ID}, "project_id"},
			{http.MethodPut, "/api/v1/tasks/" + bTask.ID, map[string]any{"title": "x", "parent_id": aSub.ID}, "parent_id"},
			{http.MethodPatch, "/api/v1/tasks/" + bTask.ID, map[string]any{"project_id": aProject.ID}, "project_id"},
			{http.MethodPatch, "/api/v1/tasks/" + bTask.ID, map[string]any{"parent_id": aTask.ID}, "parent_id"},
			{http.MethodPost, "/api/v1/tasks/" + bTask.ID + "/move", map[string]any{"project_id": aProject.ID}, "project_id"},
			{http.MethodPost, "/api/v1/tasks/" + bTask.ID + "/move", map[string]any{"parent_id": aTask.ID}, "parent_id"},
			{http.MethodPost, "/api/v1/tasks/" + bTask.ID + "/move", map[string]any{"after_id": aTask.ID}, "after_id"},
			{http.MethodPost, "/api/v1/tasks/" + bOther.ID + "/move", map[string]any{"project_id": aProject.ID, "after_id": aTask.ID}, "project_id"},
			{http.MethodPost, projectPath(bProject.ID) + "/move", map[string]any{"after_id": aProject.ID}, "after_id"},
		} {
			r := call(t, s, b, tc.method, tc.path, tc.body, nil)
			requireFieldError(t, r, tc.field)
			if strings.Contains(string(r.Body), "A's") {
				t.Errorf("%s %s: the refusal shows A's data: %s", tc.method, tc.path, r.Body)
			}
		}
		if got := string(call(t, s, b, http.MethodGet, "/api/v1/tasks/"+bTask.ID, nil, nil).Body); got != bTaskBefore {
			t.Errorf("refused writes changed B's task:\nbefore %s\nafter  %s", bTaskBefore, got)
		}
	})

	t.Run("lists show only the caller's rows", func(t *testing.T) {
		if got := projectIDs(listProjects(t, s, b, "any").Items); !slices.Equal(got, []string{bProject.ID}) {
			t.Errorf("B's projects = %v, want only B's", got)
		}
		for _, query := range []url.Values{{"project_id": {aProject.ID}}, {"parent_id": {aTask.ID}}, {"project_id": {aProject.ID}, "sort": {"position"}}} {
			if page := listTasks(t, s, b, query); page.Total != 0 || len(page.Items) != 0 {
				t.Errorf("B's list with %v shows %v", query, titles(page.Items))
			}
		}
		if page := listTasks(t, s, a, url.Values{"project_id": {bProject.ID}}); page.Total != 0 {
			t.Errorf("A's list of B's project shows %v", titles(page.Items))
		}
	})

	t.Run("A's project and tasks are unchanged", func(t *testing.T) {
		if after := snapshot(); !slices.Equal(after, aBefore) {
			t.Errorf("A's data changed:\nbefore %v\nafter  %v", aBefore, after)
		}
	})
}

func TestProjectCap(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_PROJECTS_PER_USER": "2"})
		u := newUser(t)
		first := mustCreateProject(t, s, u, "one")
		mustCreateProject(t, s, u, "two")
		r := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "three"}, nil)
		p := apptest.RequireProblem(t, r, http.StatusUnprocessableEntity)
		if !strings.Contains(p["detail"].(string), "2") {
			t.Errorf("detail %q does not name the limit", p["detail"])
		}
		if _, ok := p["errors"]; ok {
			t.Errorf("the cap's 422 has errors: %s", r.Body)
		}
		mustPatchProject(t, s, u, first.ID, map[string]any{"archived": true}) // archived projects count too
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "three"}, nil), http.StatusUnprocessableEntity)
		if list := listProjects(t, s, u, "any"); list.Total != 2 {
			t.Errorf("total = %d after refused creates, want 2", list.Total)
		}
		mustCreateProject(t, s, newUser(t), "the cap is per user")
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, projectPath(first.ID), nil, nil), http.StatusNoContent)
		mustCreateProject(t, s, u, "room again")
	})
}

// TestProjectCapUnderConcurrentCreates: creates sent at once never take a
// user past the cap.
func TestProjectCapUnderConcurrentCreates(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		const limit, sent = 5, 20
		s := apptest.Start(t, db, map[string]string{"MAX_PROJECTS_PER_USER": fmt.Sprint(limit)})
		u := newUser(t)
		answers := make([]apptest.Response, sent)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Go(func() {
				<-start
				answers[i] = call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": fmt.Sprint("racer ", i)}, nil)
			})
		}
		close(start)
		wg.Wait()
		created := 0
		for i, r := range answers {
			switch r.Status {
			case http.StatusCreated:
				created++
			case http.StatusUnprocessableEntity:
				apptest.RequireProblem(t, r, http.StatusUnprocessableEntity)
			default:
				t.Fatalf("create %d: %d %s, want 201 or 422", i, r.Status, r.Body)
			}
		}
		if created != limit {
			t.Errorf("%d of %d concurrent creates succeeded, want the cap, %d", created, sent, limit)
		}
		if list := listProjects(t, s, u, "any"); list.Total != limit {
			t.Errorf("the user has %d projects, want %d", list.Total, limit)
		}
	})
}

// TestProjectIdempotency: every new write (create, patch, move and delete
// of projects, the move of a task) replayed with its Idempotency-Key gets
// the first answer byte for byte and applies nothing twice.
func TestProjectIdempotency(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		keyed := func(key string) map[string]string { return map[string]string{"Idempotency-Key": key} }
		other := mustCreateProject(t, s, u, "other")
		task := mustCreateTask(t, s, u, map[string]any{"title": "moved once"})
		feed := openFeed(t, s, u)

		var created client.Project
		steps := []struct {
			name   string
			method string
			path   func() string
			body   any
			status int
			event  string
			check  func(t *testing.T)
		}{
			{"create", http.MethodPost, func() string { return "/api/v1/projects" }, map[string]any{"name": "keyed"}, http.StatusCreated, "project.created",
				func(t *testing.T) {
					if list := listProjects(t, s, u, "any"); list.Total != 2 {
						t.Errorf("%d projects after a replayed create, want 2", list.Total)
					}
				}},
			{"patch", http.MethodPatch, func() string { return projectPath(created.ID) }, map[string]any{"name": "keyed 2"}, http.StatusOK, "project.updated",
				func(t *testing.T) {
					if p, _ := mustGetProject(t, s, u, created.ID); p.Version != 2 {
						t.Errorf("version %d after a replayed patch, want 2", p.Version)
					}
				}},
			{"move", http.MethodPost, func() string { return projectPath(created.ID) + "/move" }, map[string]any{"after_id": nil}, http.StatusOK, "project.updated",
				func(t *testing.T) {
					if p, _ := mustGetProject(t, s, u, created.ID); p.Version != 3 {
						t.Errorf("version %d after a replayed move, want 3", p.Version)
					}
				}},
			{"task move", http.MethodPost, func() string { return "/api/v1/tasks/" + task.ID + "/move" }, map[string]any{"project_id": other.ID}, http.StatusOK, "task.updated",
				func(t *testing.T) {
					if got, _ := mustGetTask(t, s, u, task.ID); got.Version != 2 {
						t.Errorf("version %d after a replayed task move, want 2", got.Version)
					}
				}},
			{"delete", http.MethodDelete, func() string { return projectPath(created.ID) }, nil, http.StatusNoContent, "project.deleted",
				func(t *testing.T) {
					apptest.RequireProblem(t, call(t, s, u, http.MethodGet, projectPath(created.ID), nil, nil), http.StatusNotFound)
				}},
		}
		for i, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				key := fmt.Sprintf("%s-%d", uuid.NewString(), i)
				path := step.path()
				first := call(t, s, u, step.method, path, step.body, keyed(key))
				apptest.RequireStatus(t, first, step.status)
				if first.Header.Get("Idempotent-Replayed") != "" {
					t.Fatalf("the first answer is marked replayed")
				}
				if step.name == "create" {
					created = requireProjectShape(t, first)
				}
				want := wantEvent{typ: step.event, id: created.ID}
				if step.name == "task move" {
					want.id = task.ID
				}
				if len(first.Body) > 0 {
					want = eventOf(t, step.event, first)
				}
				requireEventSet(t, feed, []wantEvent{want})
				for range 2 {
					again := call(t, s, u, step.method, path, step.body, keyed(key))
					if again.Status != first.Status || string(again.Body) != string(first.Body) ||
						again.Header.Get("ETag") != first.Header.Get("ETag") || again.Header.Get("Location") != first.Header.Get("Location") {
						t.Fatalf("replay = %d %s (ETag %q, Location %q)\nwant %d %s (ETag %q, Location %q)",
							again.Status, again.Body, again.Header.Get("ETag"), again.Header.Get("Location"),
							first.Status, first.Body, first.Header.Get("ETag"), first.Header.Get("Location"))
					}
					if again.Header.Get("Idempotent-Replayed") != "true" {
						t.Fatalf("Idempotent-Replayed = %q on a replay, want true", again.Header.Get("Idempotent-Replayed"))
					}
				}
				step.check(t)
				reused := call(t, s, u, step.method, path, map[string]any{"name": "another body"}, keyed(key))
				p := apptest.RequireProblem(t, reused, http.StatusUnprocessableEntity)
				if typ, _ := p["type"].(string); !strings.HasSuffix(typ, "idempotency-key-reused") {
					t.Errorf("the key with another body: type %q, want one ending idempotency-key-reused", typ)
				}
				feed.None(t, feedQuiet) // replays announce nothing
			})
		}
	})
}

// TestProjectEvents: project.created, project.updated (a patch, a move)
// and project.deleted, each carrying the write's answer; nothing for a
// write that changes nothing or is refused; the tasks deleted with a
// project are not announced one by one.
func TestProjectEvents(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		feed, otherFeed := openFeed(t, s, u), openFeed(t, s, other)

		created := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "announced", "color": "#123456"}, nil)
		apptest.RequireStatus(t, created, http.StatusCreated)
		p := requireProjectShape(t, created)
		second := call(t, s, u, http.MethodPost, "/api/v1/projects", map[string]any{"name": "second"}, nil)
		apptest.RequireStatus(t, second, http.StatusCreated)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "project.created", created)})
		requireEventSet(t, feed, []wantEvent{eventOf(t, "project.created", second)})

		renamed := call(t, s, u, http.MethodPatch, projectPath(p.ID), map[string]any{"name": "renamed", "archived": true}, nil)
		apptest.RequireStatus(t, renamed, http.StatusOK)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "project.updated", renamed)})

		// Nothing changes, or nothing is allowed: no event.
		apptest.RequireStatus(t, call(t, s, u, http.MethodPatch, projectPath(p.ID), map[string]any{"name": "renamed"}, nil), http.StatusOK)
		apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, projectPath(p.ID), map[string]any{"name": ""}, nil), http.StatusUnprocessableEntity)
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, projectPath(p.ID)+"/move", map[string]any{"after_id": p.ID}, nil), http.StatusUnprocessableEntity)
		apptest.RequireProblem(t, call(t, s, u, http.MethodDelete, projectPath(p.ID), nil, map[string]string{"If-Match": `"1"`}), http.StatusPreconditionFailed)
		feed.None(t, feedQuiet)

		moved := call(t, s, u, http.MethodPost, projectPath(p.ID)+"/move", map[string]any{}, nil)
		apptest.RequireStatus(t, moved, http.StatusOK)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "project.updated", moved)})

		top := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "top", "project_id": p.ID}, nil)
		apptest.RequireStatus(t, top, http.StatusCreated)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "task.created", top)})
		sub := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "sub", "parent_id": top.Map(t)["id"]}, nil)
		apptest.RequireStatus(t, sub, http.StatusCreated)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "task.created", sub)})

		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, projectPath(p.ID), nil, nil), http.StatusNoContent)
		requireEventSet(t, feed, []wantEvent{{typ: "project.deleted", id: p.ID}})
		feed.None(t, feedQuiet)
		otherFeed.None(t, feedQuiet)
	})
}

// TestArchivedProjectTasks: a list without project_id leaves out the
// tasks of archived projects; with the id of an archived project it
// lists them.
func TestArchivedProjectTasks(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		archived, active := mustCreateProject(t, s, u, "archived"), mustCreateProject(t, s, u, "active")
		hidden := mustCreateTask(t, s, u, map[string]any{"title": "hidden", "project_id": archived.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "hidden sub", "parent_id": hidden.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "shown", "project_id": active.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "inbox"})
		mustPatchProject(t, s, u, archived.ID, map[string]any{"archived": true})

		for _, tc := range []struct {
			query url.Values
			want  []string
		}{
			{nil, []string{"inbox", "shown"}},
			{url.Values{"q": {"hidden"}}, []string{}},
			{url.Values{"parent_id": {"none"}}, []string{"inbox", "shown"}},
			{url.Values{"sort": {"position"}, "limit": {"100"}}, nil},
			{url.Values{"project_id": {archived.ID}}, []string{"hidden", "hidden sub"}},
			{url.Values{"project_id": {archived.ID}, "parent_id": {hidden.ID}}, []string{"hidden sub"}},
			{url.Values{"project_id": {"inbox"}}, []string{"inbox"}},
		} {
			page := listTasks(t, s, u, tc.query)
			got := slices.Sorted(slices.Values(titles(page.Items)))
			want := tc.want
			if want == nil {
				want = []string{"inbox", "shown"}
			}
			if !slices.Equal(got, want) || page.Total != len(want) {
				t.Errorf("%v: %v (total %d), want %v", tc.query, got, page.Total, want)
			}
		}
		mustPatchProject(t, s, u, archived.ID, map[string]any{"archived": false})
		if page := listTasks(t, s, u, nil); page.Total != 4 {
			t.Errorf("after restoring the project the list has %v, want all 4 tasks", titles(page.Items))
		}
	})
}
