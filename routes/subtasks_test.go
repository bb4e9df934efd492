package routes_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

func taskPath(id string) string { return "/api/v1/tasks/" + id }

// mustMoveTask moves u's task and returns the answer, checked.
func mustMoveTask(t testing.TB, s *apptest.Server, u user, id string, body map[string]any) client.Task {
	t.Helper()
	r := call(t, s, u, http.MethodPost, taskPath(id)+"/move", body, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	task := requireTaskShape(t, r)
	if got, want := r.Header.Get("ETag"), etagOf(task.Version); got != want {
		t.Fatalf("ETag = %q, want %q", got, want)
	}
	return task
}

func mustWriteTask(t testing.TB, s *apptest.Server, u user, method, id string, body map[string]any) client.Task {
	t.Helper()
	r := call(t, s, u, method, taskPath(id), body, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	return requireTaskShape(t, r)
}

// place is where a task is: its project ("" for the inbox) and parent
// ("" at the top level).
type place struct{ project, parent string }

func placeOf(task client.Task) place { return place{deref(task.ProjectID), deref(task.ParentID)} }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// siblings lists the tasks at p in their manual order (sort=position),
// checking that their positions increase byte by byte and that each is
// where p says.
func siblings(t testing.TB, s *apptest.Server, u user, p place) []client.Task {
	t.Helper()
	query := url.Values{"project_id": {"inbox"}, "parent_id": {"none"}, "sort": {"position"}, "limit": {"100"}}
	if p.project != "" {
		query.Set("project_id", p.project)
	}
	if p.parent != "" {
		query.Set("parent_id", p.parent)
	}
	page := listTasks(t, s, u, query)
	for i, task := range page.Items {
		if placeOf(task) != p {
			t.Fatalf("%q is at %+v, listed at %+v", task.Title, placeOf(task), p)
		}
		if len(task.Position) == 0 || len(task.Position) >= 64 {
			t.Fatalf("%q has position %q, want 1 to 63 bytes", task.Title, task.Position)
		}
		if i > 0 && page.Items[i-1].Position >= task.Position {
			t.Fatalf("%q (%q) is listed before %q (%q): positions out of order",
				page.Items[i-1].Title, page.Items[i-1].Position, task.Title, task.Position)
		}
	}
	return page.Items
}

func siblingTitles(t testing.TB, s *apptest.Server, u user, p place) []string {
	t.Helper()
	return titles(siblings(t, s, u, p))
}

// taskStates is, for each of ids, the task's place, position and version
// as a GET reads them.
func taskStates(t testing.TB, s *apptest.Server, u user, ids ...string) []string {
	t.Helper()
	out := make([]string, len(ids))
	for i, id := range ids {
		task, _ := mustGetTask(t, s, u, id)
		out[i] = fmt.Sprintf("%s %+v %q v%d completed=%v", task.Title, placeOf(task), task.Position, task.Version, task.Completed)
	}
	return out
}

func requireUnchanged(t testing.TB, s *apptest.Server, u user, before []string, ids ...string) {
	t.Helper()
	if after := taskStates(t, s, u, ids...); !slices.Equal(after, before) {
		t.Fatalf("a refused write changed tasks:\nbefore %v\nafter  %v", before, after)
	}
}

func TestTaskPlaceOnCreate(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")
		top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})

		t.Run("in a project, under a parent, in the inbox", func(t *testing.T) {
			inbox := mustCreateTask(t, s, u, map[string]any{"title": "inbox", "project_id": nil, "parent_id": nil})
			if placeOf(inbox) != (place{}) || inbox.Position == "" {
				t.Errorf("inbox task at %+v, position %q", placeOf(inbox), inbox.Position)
			}
			if placeOf(top) != (place{p.ID, ""}) || top.Position == "" {
				t.Errorf("task in p at %+v, position %q", placeOf(top), top.Position)
			}
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			if placeOf(sub) != (place{p.ID, top.ID}) {
				t.Errorf("a subtask sent without project_id is at %+v, want in its parent's project", placeOf(sub))
			}
			both := mustCreateTask(t, s, u, map[string]any{"title": "both", "project_id": strings.ToUpper(p.ID), "parent_id": strings.ToUpper(top.ID)})
			if placeOf(both) != (place{p.ID, top.ID}) {
				t.Errorf("upper-case ids gave %+v, want the ids as stored", placeOf(both))
			}
			r := call(t, s, u, http.MethodGet, taskPath(sub.ID), nil, nil)
			if !strings.Contains(string(r.Body), `"project_id":"`+p.ID+`","parent_id":"`+top.ID+`"`) {
				t.Errorf("body %s lacks its place", r.Body)
			}
			if r := call(t, s, u, http.MethodGet, taskPath(inbox.ID), nil, nil); !strings.Contains(string(r.Body), `"project_id":null,"parent_id":null`) {
				t.Errorf("body %s, want project_id and parent_id null", r.Body)
			}
		})

		t.Run("a new task goes last among its siblings", func(t *testing.T) {
			v := newUser(t)
			vp := mustCreateProject(t, s, v, "ordered")
			var want []string
			for i := range 5 {
				title := fmt.Sprint("task ", i)
				mustCreateTask(t, s, v, map[string]any{"title": title, "project_id": vp.ID})
				want = append(want, title)
			}
			if got := siblingTitles(t, s, v, place{vp.ID, ""}); !slices.Equal(got, want) {
				t.Errorf("siblings %v, want the order of creation %v", got, want)
			}
		})

		t.Run("refused places", func(t *testing.T) {
			other := newUser(t)
			theirs := mustCreateProject(t, s, other, "theirs")
			theirTask := mustCreateTask(t, s, other, map[string]any{"title": "theirs", "project_id": theirs.ID})
			inQ := mustCreateTask(t, s, u, map[string]any{"title": "in q", "project_id": q.ID})
			before := listTasks(t, s, u, url.Values{"limit": {"100"}}).Total
			for _, tc := range []struct {
				name   string
				body   map[string]any
				fields []string
			}{
				{"unknown project", map[string]any{"project_id": uuid.NewString()}, []string{"project_id"}},
				{"another user's project", map[string]any{"project_id": theirs.ID}, []string{"project_id"}},
				{"a task's id as project", map[string]any{"project_id": top.ID}, []string{"project_id"}},
				{"unknown parent", map[string]any{"parent_id": uuid.NewString()}, []string{"parent_id"}},
				{"another user's task as parent", map[string]any{"parent_id": theirTask.ID}, []string{"parent_id"}},
				{"a project's id as parent", map[string]any{"parent_id": p.ID}, []string{"parent_id"}},
				{"parent in another project", map[string]any{"project_id": q.ID, "parent_id": top.ID}, []string{"parent_id"}},
				{"parent in a project, task in the inbox", map[string]any{"project_id": nil, "parent_id": top.ID}, []string{"parent_id"}},
				{"unknown project and parent", map[string]any{"project_id": uuid.NewString(), "parent_id": uuid.NewString()}, []string{"project_id", "parent_id"}},
				{"malformed ids", map[string]any{"project_id": "p", "parent_id": "12"}, []string{"project_id", "parent_id"}},
				{"ids of the wrong type", map[string]any{"project_id": 1, "parent_id": true}, []string{"project_id", "parent_id"}},
				{"malformed ids beside a blank title", map[string]any{"title": " ", "project_id": "x", "parent_id": []string{inQ.ID}}, []string{"title", "project_id", "parent_id"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					body := map[string]any{"title": "refused"}
					for k, v := range tc.body {
						body[k] = v
					}
					requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", body, nil), http.StatusUnprocessableEntity, tc.fields...)
				})
			}
			if after := listTasks(t, s, u, url.Values{"limit": {"100"}}).Total; after != before {
				t.Errorf("refused creates left %d tasks, want %d", after, before)
			}
		})
	})
}

// TestTaskCreateNamesEveryProblemAtOnce: the store's own refusals (an
// unknown project, parent and tag) come in one 422 too.
func TestTaskCreateNamesEveryProblemAtOnce(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		task := mustCreateTask(t, s, u, map[string]any{"title": "kept"})
		body := map[string]any{"title": "x", "project_id": uuid.NewString(), "parent_id": uuid.NewString(), "tag_ids": []string{uuid.NewString()}}
		requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", body, nil), http.StatusUnprocessableEntity, "project_id", "parent_id", "tag_ids")
		requireExactFields(t, call(t, s, u, http.MethodPut, taskPath(task.ID), body, nil), http.StatusUnprocessableEntity, "project_id", "parent_id", "tag_ids")
		delete(body, "title")
		requireExactFields(t, call(t, s, u, http.MethodPatch, taskPath(task.ID), body, nil), http.StatusUnprocessableEntity, "project_id", "parent_id", "tag_ids")
	})
}

func TestTaskPlaceOnReplace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")
		parent := mustCreateTask(t, s, u, map[string]any{"title": "parent", "project_id": p.ID})
		inQ := mustCreateTask(t, s, u, map[string]any{"title": "in q", "project_id": q.ID})

		t.Run("left out means the inbox at the top level", func(t *testing.T) {
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": parent.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "already in the inbox"})
			got := mustWriteTask(t, s, u, http.MethodPut, sub.ID, map[string]any{"title": "sub"})
			if placeOf(got) != (place{}) || got.Version != 2 {
				t.Errorf("PUT without a place: %+v v%d, want the inbox, top level, v2", placeOf(got), got.Version)
			}
			if inbox := siblingTitles(t, s, u, place{}); inbox[len(inbox)-1] != "sub" {
				t.Errorf("inbox %v, want the replaced task last", inbox)
			}
		})

		t.Run("a parent without a project brings its project", func(t *testing.T) {
			task := mustCreateTask(t, s, u, map[string]any{"title": "wanderer"})
			got := mustWriteTask(t, s, u, http.MethodPut, task.ID, map[string]any{"title": "wanderer", "parent_id": parent.ID})
			if placeOf(got) != (place{p.ID, parent.ID}) {
				t.Errorf("PUT with parent_id only: %+v, want in the parent's project", placeOf(got))
			}
			got = mustWriteTask(t, s, u, http.MethodPut, task.ID, map[string]any{"title": "wanderer", "project_id": q.ID})
			if placeOf(got) != (place{q.ID, ""}) {
				t.Errorf("PUT with project_id only: %+v, want q at the top level", placeOf(got))
			}
		})

		t.Run("a replace that changes nothing keeps the ETag and the position", func(t *testing.T) {
			sub := mustCreateTask(t, s, u, map[string]any{"title": "same", "parent_id": parent.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "younger sibling", "parent_id": parent.ID})
			for _, body := range []map[string]any{
				{"title": "same", "parent_id": parent.ID},
				{"title": "same", "parent_id": parent.ID, "project_id": p.ID},
			} {
				got := mustWriteTask(t, s, u, http.MethodPut, sub.ID, body)
				if got.Version != 1 || got.Position != sub.Position || !got.UpdatedAt.Equal(sub.UpdatedAt) {
					t.Errorf("PUT %v: v%d, position %q → %q: a no-op counted as a change", body, got.Version, sub.Position, got.Position)
				}
			}
		})

		t.Run("refused places change nothing", func(t *testing.T) {
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": parent.ID})
			subsub := mustCreateTask(t, s, u, map[string]any{"title": "subsub", "parent_id": sub.ID})
			before := taskStates(t, s, u, parent.ID, sub.ID, subsub.ID)
			for _, tc := range []struct {
				id    string
				body  map[string]any
				field string
			}{
				{sub.ID, map[string]any{"title": "x", "project_id": q.ID, "parent_id": parent.ID}, "parent_id"},
				{sub.ID, map[string]any{"title": "x", "project_id": nil, "parent_id": parent.ID}, "parent_id"},
				{parent.ID, map[string]any{"title": "x", "parent_id": subsub.ID}, "parent_id"},
				{parent.ID, map[string]any{"title": "x", "parent_id": parent.ID}, "parent_id"},
				{sub.ID, map[string]any{"title": "x", "parent_id": sub.ID}, "parent_id"},
				{sub.ID, map[string]any{"title": "x", "project_id": uuid.NewString()}, "project_id"},
				{sub.ID, map[string]any{"title": "x", "parent_id": inQ.ID, "project_id": p.ID}, "parent_id"},
			} {
				requireExactFields(t, call(t, s, u, http.MethodPut, taskPath(tc.id), tc.body, nil), http.StatusUnprocessableEntity, tc.field)
			}
			requireUnchanged(t, s, u, before, parent.ID, sub.ID, subsub.ID)
		})
	})
}

func TestTaskPlaceOnPatch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")

		t.Run("a task changes project with its subtasks", func(t *testing.T) {
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			subsub := mustCreateTask(t, s, u, map[string]any{"title": "subsub", "parent_id": sub.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "already in q", "project_id": q.ID})
			got := mustWriteTask(t, s, u, http.MethodPatch, top.ID, map[string]any{"project_id": q.ID})
			if placeOf(got) != (place{q.ID, ""}) || got.Version != 2 || got.Title != "top" {
				t.Fatalf("after PATCH project_id: %+v v%d", placeOf(got), got.Version)
			}
			if titles := siblingTitles(t, s, u, place{q.ID, ""}); !slices.Equal(titles, []string{"already in q", "top"}) {
				t.Errorf("q's top level %v, want the moved task last", titles)
			}
			for _, was := range []client.Task{sub, subsub} {
				now, _ := mustGetTask(t, s, u, was.ID)
				if deref(now.ProjectID) != q.ID || deref(now.ParentID) != deref(was.ParentID) || now.Position != was.Position || now.Version != was.Version+1 {
					t.Errorf("%s after its parent moved: %+v %q v%d; want in q, same parent and position, v%d",
						was.Title, placeOf(now), now.Position, now.Version, was.Version+1)
				}
			}
			if page := listTasks(t, s, u, url.Values{"project_id": {p.ID}}); page.Total != 0 {
				t.Errorf("p still lists %v", titles(page.Items))
			}
		})

		t.Run("only what is sent changes", func(t *testing.T) {
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			got := mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"title": "renamed sub"})
			if placeOf(got) != placeOf(sub) || got.Position != sub.Position {
				t.Errorf("a PATCH of the title moved the task: %+v %q", placeOf(got), got.Position)
			}
			got = mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"parent_id": nil})
			if placeOf(got) != (place{p.ID, ""}) {
				t.Errorf("parent_id null: %+v, want p's top level", placeOf(got))
			}
			got = mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"parent_id": top.ID})
			if placeOf(got) != (place{p.ID, top.ID}) {
				t.Errorf("parent_id again: %+v", placeOf(got))
			}
			got = mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"project_id": nil, "parent_id": nil})
			if placeOf(got) != (place{}) {
				t.Errorf("project_id and parent_id null: %+v, want the inbox", placeOf(got))
			}
			inQ := mustCreateTask(t, s, u, map[string]any{"title": "in q", "project_id": q.ID})
			got = mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"parent_id": inQ.ID})
			if placeOf(got) != (place{q.ID, inQ.ID}) {
				t.Errorf("parent_id of a task in q: %+v, want under it in q", placeOf(got))
			}
		})

		t.Run("a subtask sent its own project stays where it is", func(t *testing.T) {
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			got := mustWriteTask(t, s, u, http.MethodPatch, sub.ID, map[string]any{"project_id": p.ID, "title": "sub"})
			if placeOf(got) != placeOf(sub) || got.Version != 1 {
				t.Errorf("PATCH with the project it is in: %+v v%d, want unchanged", placeOf(got), got.Version)
			}
		})

		t.Run("refused places change nothing", func(t *testing.T) {
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			before := taskStates(t, s, u, top.ID, sub.ID)
			for _, tc := range []struct {
				id    string
				body  map[string]any
				field string
			}{
				{sub.ID, map[string]any{"project_id": q.ID}, "parent_id"},
				{sub.ID, map[string]any{"project_id": nil}, "parent_id"},
				{sub.ID, map[string]any{"project_id": q.ID, "parent_id": top.ID}, "parent_id"},
				{top.ID, map[string]any{"parent_id": sub.ID}, "parent_id"},
				{top.ID, map[string]any{"parent_id": top.ID}, "parent_id"},
				{top.ID, map[string]any{"project_id": "inbox"}, "project_id"},
				{top.ID, map[string]any{"parent_id": "none"}, "parent_id"},
			} {
				requireExactFields(t, call(t, s, u, http.MethodPatch, taskPath(tc.id), tc.body, nil), http.StatusUnprocessableEntity, tc.field)
			}
			requireUnchanged(t, s, u, before, top.ID, sub.ID)
		})
	})
}

func TestTaskMove(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")
		in := place{p.ID, ""}
		byTitle := map[string]client.Task{}
		for _, title := range []string{"a", "b", "c", "d"} {
			byTitle[title] = mustCreateTask(t, s, u, map[string]any{"title": title, "project_id": p.ID})
		}
		a, b, c, d := byTitle["a"], byTitle["b"], byTitle["c"], byTitle["d"]

		steps := []struct {
			name  string
			moved client.Task
			body  map[string]any
			want  []string
		}{
			{"right after a sibling", d, map[string]any{"after_id": a.ID}, []string{"a", "d", "b", "c"}},
			{"first when after_id is null", c, map[string]any{"after_id": nil}, []string{"c", "a", "d", "b"}},
			{"last when after_id is left out", c, map[string]any{}, []string{"a", "d", "b", "c"}},
			{"right after the last", a, map[string]any{"after_id": c.ID}, []string{"d", "b", "c", "a"}},
			{"with its own project sent", b, map[string]any{"project_id": p.ID, "parent_id": nil, "after_id": nil}, []string{"b", "d", "c", "a"}},
			{"after_id in upper case", a, map[string]any{"after_id": strings.ToUpper(b.ID)}, []string{"b", "a", "d", "c"}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				before := map[string]client.Task{}
				for _, task := range siblings(t, s, u, in) {
					before[task.ID] = task
				}
				moved := mustMoveTask(t, s, u, step.moved.ID, step.body)
				if got := siblingTitles(t, s, u, in); !slices.Equal(got, step.want) {
					t.Fatalf("order %v, want %v", got, step.want)
				}
				was := before[step.moved.ID]
				if moved.Version != was.Version+1 || !moved.UpdatedAt.After(was.UpdatedAt) || moved.Title != was.Title || placeOf(moved) != in {
					t.Errorf("moved %+v, was %+v: want the version bumped once", moved, was)
				}
				for _, now := range siblings(t, s, u, in) {
					if now.ID != moved.ID && (now.Position != before[now.ID].Position || now.Version != before[now.ID].Version) {
						t.Errorf("moving %s changed %s: %q v%d → %q v%d", step.moved.Title, now.Title,
							before[now.ID].Position, before[now.ID].Version, now.Position, now.Version)
					}
				}
			})
		}

		t.Run("into another project, under another task, subtasks along", func(t *testing.T) {
			sub := mustCreateTask(t, s, u, map[string]any{"title": "a's sub", "parent_id": a.ID})
			subsub := mustCreateTask(t, s, u, map[string]any{"title": "a's subsub", "parent_id": sub.ID})
			inQ := mustCreateTask(t, s, u, map[string]any{"title": "in q", "project_id": q.ID})
			moved := mustMoveTask(t, s, u, a.ID, map[string]any{"project_id": q.ID})
			if placeOf(moved) != (place{q.ID, ""}) {
				t.Fatalf("moved to %+v, want q's top level", placeOf(moved))
			}
			if got := siblingTitles(t, s, u, place{q.ID, ""}); !slices.Equal(got, []string{"in q", "a"}) {
				t.Errorf("q's top level %v, want the moved task last", got)
			}
			for _, was := range []client.Task{sub, subsub} {
				now, _ := mustGetTask(t, s, u, was.ID)
				if deref(now.ProjectID) != q.ID || deref(now.ParentID) != deref(was.ParentID) || now.Position != was.Position || now.Version != was.Version+1 {
					t.Errorf("%s: %+v %q v%d; want in q, same parent and position, v%d", was.Title, placeOf(now), now.Position, now.Version, was.Version+1)
				}
			}
			under := mustMoveTask(t, s, u, b.ID, map[string]any{"parent_id": inQ.ID})
			if placeOf(under) != (place{q.ID, inQ.ID}) {
				t.Errorf("a move with parent_id only: %+v, want under it in its project", placeOf(under))
			}
			first := mustMoveTask(t, s, u, d.ID, map[string]any{"project_id": q.ID, "parent_id": inQ.ID, "after_id": nil})
			if got := siblingTitles(t, s, u, place{q.ID, inQ.ID}); placeOf(first) != (place{q.ID, inQ.ID}) || !slices.Equal(got, []string{"d", "b"}) {
				t.Errorf("under in q: %v, want [d b]", got)
			}
			back := mustMoveTask(t, s, u, d.ID, map[string]any{"project_id": nil, "parent_id": nil})
			if placeOf(back) != (place{}) {
				t.Errorf("to the inbox: %+v", placeOf(back))
			}
			if got := siblingTitles(t, s, u, in); !slices.Equal(got, []string{"c"}) {
				t.Errorf("p's top level %v, want [c]", got)
			}
		})

		t.Run("a subtask moved with its own project sent keeps its parent", func(t *testing.T) {
			sub := mustCreateTask(t, s, u, map[string]any{"title": "c's sub", "parent_id": c.ID})
			sibling := mustCreateTask(t, s, u, map[string]any{"title": "c's other sub", "parent_id": c.ID})
			got := mustMoveTask(t, s, u, sub.ID, map[string]any{"project_id": p.ID, "after_id": sibling.ID})
			if placeOf(got) != (place{p.ID, c.ID}) {
				t.Errorf("moved to %+v, want still under c", placeOf(got))
			}
			if order := siblingTitles(t, s, u, place{p.ID, c.ID}); !slices.Equal(order, []string{"c's other sub", "c's sub"}) {
				t.Errorf("c's subtasks %v", order)
			}
		})

		t.Run("refused moves change nothing", func(t *testing.T) {
			v := newUser(t)
			vp, vq := mustCreateProject(t, s, v, "vp"), mustCreateProject(t, s, v, "vq")
			x := mustCreateTask(t, s, v, map[string]any{"title": "x", "project_id": vp.ID})
			y := mustCreateTask(t, s, v, map[string]any{"title": "y", "project_id": vp.ID})
			xSub := mustCreateTask(t, s, v, map[string]any{"title": "x's sub", "parent_id": x.ID})
			inbox := mustCreateTask(t, s, v, map[string]any{"title": "inbox"})
			inVQ := mustCreateTask(t, s, v, map[string]any{"title": "in vq", "project_id": vq.ID})
			all := []string{x.ID, y.ID, xSub.ID, inbox.ID, inVQ.ID}
			before := taskStates(t, s, v, all...)
			for _, tc := range []struct {
				name   string
				id     string
				body   map[string]any
				fields []string
			}{
				{"after itself", x.ID, map[string]any{"after_id": x.ID}, []string{"after_id"}},
				{"after a task elsewhere", x.ID, map[string]any{"after_id": inbox.ID}, []string{"after_id"}},
				{"after a subtask of a sibling", y.ID, map[string]any{"after_id": xSub.ID}, []string{"after_id"}},
				{"after an old sibling, into another project", y.ID, map[string]any{"project_id": vq.ID, "after_id": x.ID}, []string{"after_id"}},
				{"after an unknown task", x.ID, map[string]any{"after_id": uuid.NewString()}, []string{"after_id"}},
				{"after a project", x.ID, map[string]any{"after_id": vp.ID}, []string{"after_id"}},
				{"a subtask to another project, parent kept", xSub.ID, map[string]any{"project_id": vq.ID}, []string{"parent_id"}},
				{"a subtask to the inbox, parent kept", xSub.ID, map[string]any{"project_id": nil}, []string{"parent_id"}},
				{"under its own subtask", x.ID, map[string]any{"parent_id": xSub.ID}, []string{"parent_id"}},
				{"under itself", x.ID, map[string]any{"parent_id": x.ID}, []string{"parent_id"}},
				{"a parent in another project", y.ID, map[string]any{"project_id": vp.ID, "parent_id": inVQ.ID}, []string{"parent_id"}},
				{"unknown project", x.ID, map[string]any{"project_id": uuid.NewString()}, []string{"project_id"}},
				{"unknown parent", x.ID, map[string]any{"parent_id": uuid.NewString()}, []string{"parent_id"}},
				{"malformed ids", x.ID, map[string]any{"project_id": "p", "parent_id": "q", "after_id": "r"}, []string{"project_id", "parent_id", "after_id"}},
				{"ids of the wrong type", x.ID, map[string]any{"project_id": 1, "parent_id": false, "after_id": []string{}}, []string{"project_id", "parent_id", "after_id"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					requireExactFields(t, call(t, s, v, http.MethodPost, taskPath(tc.id)+"/move", tc.body, nil), http.StatusUnprocessableEntity, tc.fields...)
				})
			}
			for _, id := range []string{"nope", "1", uuid.NewString(), "' OR 1=1 --"} {
				apptest.RequireProblem(t, call(t, s, v, http.MethodPost, taskPath(url.PathEscape(id))+"/move", map[string]any{}, nil), http.StatusNotFound)
			}
			for _, tc := range []struct {
				body    any
				headers map[string]string
				status  int
			}{
				{`{"after_id":`, nil, http.StatusBadRequest},
				{`[]`, nil, http.StatusBadRequest},
				{``, nil, http.StatusBadRequest},
				{`after_id=`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
			} {
				apptest.RequireProblem(t, call(t, s, v, http.MethodPost, taskPath(x.ID)+"/move", tc.body, tc.headers), tc.status)
			}
			requireUnchanged(t, s, v, before, all...)
		})

		t.Run("If-Match", func(t *testing.T) {
			v := newUser(t)
			x := mustCreateTask(t, s, v, map[string]any{"title": "x"})
			mustCreateTask(t, s, v, map[string]any{"title": "y"})
			for _, header := range []string{`"2"`, `W/"1"`, "garbage"} {
				r := call(t, s, v, http.MethodPost, taskPath(x.ID)+"/move", map[string]any{}, map[string]string{"If-Match": header})
				apptest.RequireProblem(t, r, http.StatusPreconditionFailed)
			}
			if got := siblingTitles(t, s, v, place{}); !slices.Equal(got, []string{"x", "y"}) {
				t.Fatalf("a failed precondition moved the task: %v", got)
			}
			// Each move changes the order: first, last, first.
			for i, header := range []string{`"1"`, "*", `"7", "3"`} {
				body := map[string]any{"after_id": nil}
				if i == 1 {
					body = map[string]any{}
				}
				r := call(t, s, v, http.MethodPost, taskPath(x.ID)+"/move", body, map[string]string{"If-Match": header})
				apptest.RequireStatus(t, r, http.StatusOK)
				if got := requireTaskShape(t, r); got.Version != int64(i+2) {
					t.Errorf("If-Match %s: version %d, want %d", header, got.Version, i+2)
				}
			}
			apptest.RequireProblem(t, call(t, s, v, http.MethodPost, taskPath(uuid.NewString())+"/move", map[string]any{}, map[string]string{"If-Match": "*"}), http.StatusNotFound)
		})

		t.Run("positions stay short however many moves land in one spot", func(t *testing.T) {
			v := newUser(t)
			first := mustCreateTask(t, s, v, map[string]any{"title": "first"})
			mustCreateTask(t, s, v, map[string]any{"title": "last"})
			movers := []client.Task{mustCreateTask(t, s, v, map[string]any{"title": "x"}), mustCreateTask(t, s, v, map[string]any{"title": "y"})}
			for i := range 120 {
				moved := mustMoveTask(t, s, v, movers[i%2].ID, map[string]any{"after_id": first.ID})
				if len(moved.Position) >= 64 {
					t.Fatalf("move %d: position %q is %d bytes, want under 64", i, moved.Position, len(moved.Position))
				}
			}
			if got := siblingTitles(t, s, v, place{}); !slices.Equal(got, []string{"first", "y", "x", "last"}) {
				t.Errorf("order after the moves %v, want [first y x last]", got)
			}
		})
	})
}

func TestTaskTreeLimits(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p := mustCreateProject(t, s, u, "deep")
		l1 := mustCreateTask(t, s, u, map[string]any{"title": "l1", "project_id": p.ID})
		l2 := mustCreateTask(t, s, u, map[string]any{"title": "l2", "parent_id": l1.ID})
		l3 := mustCreateTask(t, s, u, map[string]any{"title": "l3", "parent_id": l2.ID})
		l4 := mustCreateTask(t, s, u, map[string]any{"title": "l4", "parent_id": l3.ID})
		pair := mustCreateTask(t, s, u, map[string]any{"title": "pair", "project_id": p.ID})
		pairSub := mustCreateTask(t, s, u, map[string]any{"title": "pair's sub", "parent_id": pair.ID})
		loose := mustCreateTask(t, s, u, map[string]any{"title": "loose", "project_id": p.ID})
		all := []string{l1.ID, l2.ID, l3.ID, l4.ID, pair.ID, pairSub.ID, loose.ID}
		before := taskStates(t, s, u, all...)
		count := listTasks(t, s, u, nil).Total

		t.Run("a fifth level is a 422", func(t *testing.T) {
			requireExactFields(t, call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "l5", "parent_id": l4.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			requireExactFields(t, call(t, s, u, http.MethodPatch, taskPath(loose.ID), map[string]any{"parent_id": l4.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			requireExactFields(t, call(t, s, u, http.MethodPut, taskPath(loose.ID), map[string]any{"title": "loose", "parent_id": l4.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			requireExactFields(t, call(t, s, u, http.MethodPost, taskPath(loose.ID)+"/move", map[string]any{"parent_id": l4.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			// A tree of two levels under the third makes five.
			requireExactFields(t, call(t, s, u, http.MethodPost, taskPath(pair.ID)+"/move", map[string]any{"parent_id": l3.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			requireExactFields(t, call(t, s, u, http.MethodPatch, taskPath(pair.ID), map[string]any{"parent_id": l3.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			// l1's tree is four levels: under anything, it would be five.
			requireExactFields(t, call(t, s, u, http.MethodPost, taskPath(l1.ID)+"/move", map[string]any{"parent_id": loose.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
		})

		t.Run("a cycle is a 422", func(t *testing.T) {
			for _, under := range []client.Task{l1, l2, l4} {
				requireExactFields(t, call(t, s, u, http.MethodPost, taskPath(l1.ID)+"/move", map[string]any{"parent_id": under.ID}, nil),
					http.StatusUnprocessableEntity, "parent_id")
			}
			requireExactFields(t, call(t, s, u, http.MethodPatch, taskPath(l2.ID), map[string]any{"parent_id": l4.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
			requireExactFields(t, call(t, s, u, http.MethodPut, taskPath(pair.ID), map[string]any{"title": "pair", "parent_id": pairSub.ID}, nil),
				http.StatusUnprocessableEntity, "parent_id")
		})

		t.Run("nothing changed", func(t *testing.T) {
			requireUnchanged(t, s, u, before, all...)
			if after := listTasks(t, s, u, nil).Total; after != count {
				t.Errorf("%d tasks after refused creates, want %d", after, count)
			}
		})

		t.Run("four levels are fine", func(t *testing.T) {
			moved := mustMoveTask(t, s, u, pair.ID, map[string]any{"parent_id": l2.ID})
			if placeOf(moved) != (place{p.ID, l2.ID}) {
				t.Errorf("pair under l2: %+v", placeOf(moved))
			}
			leaf := mustMoveTask(t, s, u, loose.ID, map[string]any{"parent_id": l3.ID, "after_id": l4.ID})
			if placeOf(leaf) != (place{p.ID, l3.ID}) {
				t.Errorf("loose under l3: %+v", placeOf(leaf))
			}
			mustCreateTask(t, s, u, map[string]any{"title": "another l4", "parent_id": l3.ID})
		})
	})
}

func TestTaskCascades(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		tag := mustCreateTag(t, s, u, "counted")

		t.Run("completing a task completes its open subtasks; reopening reopens none", func(t *testing.T) {
			for _, method := range []string{http.MethodPatch, http.MethodPut} {
				t.Run(method, func(t *testing.T) {
					top := mustCreateTask(t, s, u, map[string]any{"title": "top"})
					open := mustCreateTask(t, s, u, map[string]any{"title": "open", "parent_id": top.ID})
					deep := mustCreateTask(t, s, u, map[string]any{"title": "deep", "parent_id": open.ID})
					done := mustCreateTask(t, s, u, map[string]any{"title": "done", "parent_id": top.ID, "completed": true})
					sibling := mustCreateTask(t, s, u, map[string]any{"title": "sibling"})
					completed := mustWriteTask(t, s, u, method, top.ID, map[string]any{"title": "top", "completed": true})
					if !completed.Completed || completed.CompletedAt == nil || completed.Version != 2 {
						t.Fatalf("completed parent %+v", completed)
					}
					for _, was := range []client.Task{open, deep} {
						now, _ := mustGetTask(t, s, u, was.ID)
						if !now.Completed || now.CompletedAt == nil || now.Version != was.Version+1 || now.Position != was.Position {
							t.Errorf("%s after its parent was completed: completed %v at %v, v%d", was.Title, now.Completed, now.CompletedAt, now.Version)
						}
					}
					for _, was := range []client.Task{done, sibling} {
						now, _ := mustGetTask(t, s, u, was.ID)
						if now.Version != was.Version || !sameTime(now.CompletedAt, was.CompletedAt) {
							t.Errorf("%s changed: v%d → v%d, completed_at %v → %v", was.Title, was.Version, now.Version, was.CompletedAt, now.CompletedAt)
						}
					}
					reopened := mustWriteTask(t, s, u, http.MethodPatch, top.ID, map[string]any{"completed": false})
					if reopened.Completed || reopened.CompletedAt != nil {
						t.Errorf("reopened parent %+v", reopened)
					}
					for _, was := range []client.Task{open, deep, done} {
						if now, _ := mustGetTask(t, s, u, was.ID); !now.Completed {
							t.Errorf("%s was reopened with its parent", was.Title)
						}
					}
				})
			}
		})

		t.Run("deleting a task deletes its subtasks", func(t *testing.T) {
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "tag_ids": []string{tag.ID}})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID, "tag_ids": []string{tag.ID}})
			subsub := mustCreateTask(t, s, u, map[string]any{"title": "subsub", "parent_id": sub.ID, "tag_ids": []string{tag.ID}})
			keep := mustCreateTask(t, s, u, map[string]any{"title": "keep", "tag_ids": []string{tag.ID}})
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(sub.ID), nil, map[string]string{"If-Match": `"1"`}), http.StatusNoContent)
			for _, gone := range []string{sub.ID, subsub.ID} {
				apptest.RequireProblem(t, call(t, s, u, http.MethodGet, taskPath(gone), nil, nil), http.StatusNotFound)
			}
			mustGetTask(t, s, u, top.ID)
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(top.ID), nil, nil), http.StatusNoContent)
			mustGetTask(t, s, u, keep.ID)
			if got, _ := mustGetTagByID(t, s, u, tag.ID); got.TaskCount != 1 {
				t.Errorf("the tag's task_count = %d, want 1 (keep)", got.TaskCount)
			}
		})
	})
}

// TestTaskPlaceEvents: a move and a change of place are task.updated; the
// subtasks that change project with it, and those a completion completes,
// get task.updated each; the subtasks deleted with their parent get
// task.deleted each; a refused write gets nothing.
func TestTaskPlaceEvents(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")
		top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
		sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
		subsub := mustCreateTask(t, s, u, map[string]any{"title": "subsub", "parent_id": sub.ID})
		done := mustCreateTask(t, s, u, map[string]any{"title": "done", "parent_id": top.ID, "completed": true})
		open := mustCreateTask(t, s, u, map[string]any{"title": "open", "parent_id": top.ID})
		sibling := mustCreateTask(t, s, u, map[string]any{"title": "sibling", "project_id": p.ID})
		feed := openFeed(t, s, u)

		// Within the project: the task alone.
		r := call(t, s, u, http.MethodPost, taskPath(sibling.ID)+"/move", map[string]any{"after_id": nil}, nil)
		apptest.RequireStatus(t, r, http.StatusOK)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "task.updated", r)})

		// To another project: the task and every subtask, each as it now is.
		r = call(t, s, u, http.MethodPost, taskPath(top.ID)+"/move", map[string]any{"project_id": q.ID}, nil)
		apptest.RequireStatus(t, r, http.StatusOK)
		events := requireEventSet(t, feed, []wantEvent{eventOf(t, "task.updated", r), {typ: "task.updated", id: sub.ID},
			{typ: "task.updated", id: subsub.ID}, {typ: "task.updated", id: done.ID}, {typ: "task.updated", id: open.ID}})
		for _, was := range []client.Task{sub, subsub, done, open} {
			object := carried(t, events, "task.updated", was.ID)
			now := call(t, s, u, http.MethodGet, taskPath(was.ID), nil, nil).Map(t)
			if object["project_id"] != q.ID || versionOf(object) != fmt.Sprint(was.Version+1) || !reflect.DeepEqual(object, now) {
				t.Errorf("%s's event carries %v\nwant the task as it now is %v", was.Title, object, now)
			}
		}

		// By PATCH: the same.
		r = call(t, s, u, http.MethodPatch, taskPath(sub.ID), map[string]any{"parent_id": nil}, nil)
		apptest.RequireStatus(t, r, http.StatusOK)
		requireEventSet(t, feed, []wantEvent{eventOf(t, "task.updated", r)})

		// Refused, or changing nothing: no event.
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, taskPath(top.ID)+"/move", map[string]any{"parent_id": top.ID}, nil), http.StatusUnprocessableEntity)
		apptest.RequireProblem(t, call(t, s, u, http.MethodPatch, taskPath(subsub.ID), map[string]any{"project_id": p.ID}, nil), http.StatusUnprocessableEntity)
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, taskPath(top.ID)+"/move", map[string]any{}, map[string]string{"If-Match": `"1"`}), http.StatusPreconditionFailed)
		apptest.RequireStatus(t, call(t, s, u, http.MethodPatch, taskPath(top.ID), map[string]any{"project_id": q.ID}, nil), http.StatusOK)
		feed.None(t, feedQuiet)

		// Completing: the task and its open subtasks, not the done one.
		r = call(t, s, u, http.MethodPatch, taskPath(top.ID), map[string]any{"completed": true}, nil)
		apptest.RequireStatus(t, r, http.StatusOK)
		events = requireEventSet(t, feed, []wantEvent{eventOf(t, "task.updated", r), {typ: "task.updated", id: open.ID}})
		if object := carried(t, events, "task.updated", open.ID); object["completed"] != true || object["completed_at"] == nil {
			t.Errorf("open's event carries %v, want it completed", object)
		}
		feed.None(t, feedQuiet) // sub is no longer under top; done was done

		// Deleting: the task and every subtask.
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(sub.ID), nil, nil), http.StatusNoContent)
		requireEventSet(t, feed, []wantEvent{{typ: "task.deleted", id: sub.ID}, {typ: "task.deleted", id: subsub.ID}})
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(top.ID), nil, nil), http.StatusNoContent)
		requireEventSet(t, feed, []wantEvent{{typ: "task.deleted", id: top.ID}, {typ: "task.deleted", id: done.ID}, {typ: "task.deleted", id: open.ID}})
		feed.None(t, feedQuiet)
	})
}

func TestTaskListPlaceFilters(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		p, q := mustCreateProject(t, s, u, "p"), mustCreateProject(t, s, u, "q")
		i1 := mustCreateTask(t, s, u, map[string]any{"title": "i1"})
		mustCreateTask(t, s, u, map[string]any{"title": "i1 sub", "parent_id": i1.ID})
		p1 := mustCreateTask(t, s, u, map[string]any{"title": "p1", "project_id": p.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "p2", "project_id": p.ID})
		s1 := mustCreateTask(t, s, u, map[string]any{"title": "s1", "parent_id": p1.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "ss1", "parent_id": s1.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "s2", "parent_id": p1.ID})
		mustCreateTask(t, s, u, map[string]any{"title": "q1", "project_id": q.ID})

		for _, tc := range []struct {
			name  string
			query url.Values
			want  []string // in any order unless sort is given
		}{
			{"project", url.Values{"project_id": {p.ID}}, []string{"p1", "p2", "s1", "ss1", "s2"}},
			{"project in upper case", url.Values{"project_id": {strings.ToUpper(q.ID)}}, []string{"q1"}},
			{"inbox", url.Values{"project_id": {"inbox"}}, []string{"i1", "i1 sub"}},
			{"a task's subtasks, direct ones only", url.Values{"parent_id": {p1.ID}}, []string{"s1", "s2"}},
			{"top level", url.Values{"parent_id": {"none"}}, []string{"i1", "p1", "p2", "q1"}},
			{"a project's top level", url.Values{"project_id": {p.ID}, "parent_id": {"none"}}, []string{"p1", "p2"}},
			{"with other filters", url.Values{"project_id": {p.ID}, "q": {"s"}}, []string{"s1", "ss1", "s2"}},
			{"unknown project", url.Values{"project_id": {uuid.NewString()}}, []string{}},
			{"unknown parent", url.Values{"parent_id": {uuid.NewString()}}, []string{}},
			{"a project's id as parent", url.Values{"parent_id": {p.ID}}, []string{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page := listTasks(t, s, u, tc.query)
				got := slices.Sorted(slices.Values(titles(page.Items)))
				if want := slices.Sorted(slices.Values(tc.want)); !slices.Equal(got, want) || page.Total != len(want) {
					t.Errorf("%v (total %d), want %v", got, page.Total, want)
				}
			})
		}

		t.Run("sort=position: by project, then parent, then position", func(t *testing.T) {
			mustMoveTask(t, s, u, s1.ID, map[string]any{}) // s2, s1 under p1
			page := listTasks(t, s, u, url.Values{"sort": {"position"}, "limit": {"100"}})
			if page.Total != 8 || len(page.Items) != 8 {
				t.Fatalf("sort=position lists %d of %d tasks, want 8", len(page.Items), page.Total)
			}
			key := func(task client.Task) string {
				return deref(task.ProjectID) + "\x00" + deref(task.ParentID) + "\x00" + task.Position
			}
			if !slices.IsSortedFunc(page.Items, func(a, b client.Task) int { return strings.Compare(key(a), key(b)) }) {
				t.Errorf("sort=position: %v is not ordered by project, parent and position", titles(page.Items))
			}
			if got := titles(page.Items)[:2]; !slices.Equal(got, []string{"i1", "i1 sub"}) {
				t.Errorf("sort=position starts %v, want the inbox first, its top level before the subtasks", got)
			}
			underP1 := titles(listTasks(t, s, u, url.Values{"sort": {"position"}, "parent_id": {p1.ID}}).Items)
			if !slices.Equal(underP1, []string{"s2", "s1"}) {
				t.Errorf("p1's subtasks by position %v, want the manual order [s2 s1]", underP1)
			}
			seen := map[string]bool{}
			for offset := 0; offset < 8; offset += 3 {
				for _, task := range listTasks(t, s, u, url.Values{"sort": {"position"}, "limit": {"3"}, "offset": {fmt.Sprint(offset)}}).Items {
					if seen[task.ID] {
						t.Fatalf("%s appears on two pages", task.Title)
					}
					seen[task.ID] = true
				}
			}
			if len(seen) != 8 {
				t.Errorf("the pages of sort=position hold %d tasks, want 8", len(seen))
			}
		})

		t.Run("bad values are a 422 naming each", func(t *testing.T) {
			for _, tc := range []struct {
				query  string
				fields []string
			}{
				{"project_id=nope", []string{"project_id"}},
				{"project_id=INBOX", []string{"project_id"}},
				{"project_id=none", []string{"project_id"}},
				{"parent_id=inbox", []string{"parent_id"}},
				{"parent_id=12", []string{"parent_id"}},
				{"sort=-position", []string{"sort"}},
				{"project_id=x&parent_id=y&sort=z&limit=0", []string{"project_id", "parent_id", "sort", "limit"}},
			} {
				requireExactFields(t, call(t, s, u, http.MethodGet, "/api/v1/tasks?"+tc.query, nil, nil), http.StatusUnprocessableEntity, tc.fields...)
			}
		})
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// TestTaskCapCountsCascades: the tasks a cascade deletes (a task's
// subtasks, a project's tasks) free their room under MAX_TASKS_PER_USER.
func TestTaskCapCountsCascades(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TASKS_PER_USER": "3"})
		u := newUser(t)
		p := mustCreateProject(t, s, u, "p")
		fill := func() client.Task {
			t.Helper()
			top := mustCreateTask(t, s, u, map[string]any{"title": "top", "project_id": p.ID})
			sub := mustCreateTask(t, s, u, map[string]any{"title": "sub", "parent_id": top.ID})
			mustCreateTask(t, s, u, map[string]any{"title": "subsub", "parent_id": sub.ID})
			r := call(t, s, u, http.MethodPost, "/api/v1/tasks", map[string]any{"title": "one too many", "parent_id": top.ID}, nil)
			apptest.RequireProblem(t, r, http.StatusUnprocessableEntity)
			return top
		}
		top := fill()
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(top.ID), nil, nil), http.StatusNoContent)
		fill()
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, projectPath(p.ID), nil, nil), http.StatusNoContent)
		p = mustCreateProject(t, s, u, "p again")
		fill()
		if page := listTasks(t, s, u, nil); page.Total != 3 {
			t.Errorf("the user has %d tasks, want 3", page.Total)
		}
	})
}
