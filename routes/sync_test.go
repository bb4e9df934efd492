package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
	"taskflow/database"
	"taskflow/models"
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

// syncPage is GET /sync's answer.
type syncPage struct {
	Cursor   string           `json:"cursor"`
	Full     bool             `json:"full"`
	HasMore  bool             `json:"has_more"`
	Projects []map[string]any `json:"projects"`
	Tags     []map[string]any `json:"tags"`
	Tasks    []map[string]any `json:"tasks"`
	Deleted  struct {
		Projects []string `json:"projects"`
		Tags     []string `json:"tags"`
		Tasks    []string `json:"tasks"`
	} `json:"deleted"`
}

// changes counts what a page holds: objects and deletions.
func (p syncPage) changes() int {
	return len(p.Projects) + len(p.Tags) + len(p.Tasks) + len(p.Deleted.Projects) + len(p.Deleted.Tags) + len(p.Deleted.Tasks)
}

// objectIDs are the ids of the objects (not the deletions) a page holds.
func (p syncPage) objectIDs() []string {
	var ids []string
	for _, list := range [][]map[string]any{p.Projects, p.Tags, p.Tasks} {
		for _, o := range list {
			ids = append(ids, o["id"].(string))
		}
	}
	slices.Sort(ids)
	return ids
}

// getSync asks for one page with query and checks its shape: exactly the
// members of a page, every object of its kind's shape, every list there.
func getSync(t testing.TB, s *apptest.Server, u user, query url.Values) syncPage {
	t.Helper()
	r := call(t, s, u, http.MethodGet, "/api/v1/sync?"+query.Encode(), nil, nil)
	apptest.RequireStatus(t, r, http.StatusOK)
	m := r.Map(t)
	requireKeys(t, "sync page", m, []string{"cursor", "full", "has_more", "projects", "tags", "tasks", "deleted"})
	requireKeys(t, "deleted", m["deleted"].(map[string]any), []string{"projects", "tags", "tasks"})
	for kind, keys := range map[string][]string{"tasks": taskKeys, "tags": tagKeys, "projects": projectKeys} {
		for _, o := range m[kind].([]any) {
			requireKeys(t, "a synced "+kind, o.(map[string]any), keys)
		}
	}
	var page syncPage
	r.JSON(t, &page)
	if _, err := strconv.ParseUint(page.Cursor, 10, 63); err != nil {
		t.Fatalf("cursor %q is not a decimal string", page.Cursor)
	}
	return page
}

// syncQuery is the query of a sync from cursor ("" for none), at most
// limit changes a page (0 for the default).
func syncQuery(cursor string, limit int) url.Values {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q
}

// localCopy is what an offline client keeps: every object by id, and the
// cursor its last sync ended at.
type localCopy struct {
	cursor   string
	tasks    map[string]map[string]any
	tags     map[string]map[string]any
	projects map[string]map[string]any
}

func newLocalCopy() *localCopy {
	return &localCopy{tasks: map[string]map[string]any{}, tags: map[string]map[string]any{}, projects: map[string]map[string]any{}}
}

// apply applies a page as a client does: a full copy starts over; objects
// replace their older states; deletions remove objects, a tag's deletion
// its id from the tasks that carried it.
func (c *localCopy) apply(p syncPage) {
	if p.Full {
		*c = *newLocalCopy()
	}
	for kind, list := range map[*map[string]map[string]any][]map[string]any{&c.tasks: p.Tasks, &c.tags: p.Tags, &c.projects: p.Projects} {
		for _, o := range list {
			(*kind)[o["id"].(string)] = o
		}
	}
	for _, id := range p.Deleted.Tasks {
		delete(c.tasks, id)
	}
	for _, id := range p.Deleted.Projects {
		delete(c.projects, id)
	}
	for _, id := range p.Deleted.Tags {
		c.dropTag(id)
	}
	c.cursor = p.Cursor
}

// dropTag removes a deleted tag and its id from the tasks that carried it.
func (c *localCopy) dropTag(id string) {
	delete(c.tags, id)
	for taskID, task := range c.tasks {
		tags, _ := task["tags"].([]any)
		kept := slices.DeleteFunc(slices.Clone(tags), func(tag any) bool { return tag.(map[string]any)["id"] == id })
		if len(kept) != len(tags) {
			task = maps.Clone(task)
			task["tags"] = kept
			c.tasks[taskID] = task
		}
	}
}

// catchUp syncs from the copy's cursor, page after page of at most limit
// changes, until has_more is false, and returns the pages. Each page
// holds at most limit changes, and only the first of a full copy is full.
func (c *localCopy) catchUp(t testing.TB, s *apptest.Server, u user, limit int) []syncPage {
	t.Helper()
	var pages []syncPage
	for {
		page := getSync(t, s, u, syncQuery(c.cursor, limit))
		if limit > 0 && page.changes() > limit {
			t.Fatalf("a page of %d changes with limit %d", page.changes(), limit)
		}
		if page.Full && len(pages) > 0 {
			t.Fatalf("page %d of a sync is full again (cursor %s): a full copy must go on from its own cursors", len(pages)+1, c.cursor)
		}
		if len(pages) > 10000 {
			t.Fatal("a sync of more than 10000 pages: it does not end")
		}
		c.apply(page)
		pages = append(pages, page)
		if !page.HasMore {
			return pages
		}
	}
}

// comparable is an object as the test compares a synced copy with the
// server's: a tag's and a project's counts are as of its last change, and
// the tags inside a task as of the task's, so those are left out and a
// task's tags compared by id.
func comparable(kind string, o map[string]any) map[string]any {
	o = maps.Clone(o)
	delete(o, "task_count")
	delete(o, "open_task_count")
	if kind == "task" {
		var ids []string
		for _, tag := range o["tags"].([]any) {
			ids = append(ids, tag.(map[string]any)["id"].(string))
		}
		slices.Sort(ids)
		o["tags"] = ids
	}
	return o
}

// serverCopy reads every object of u's through the API: the tasks of
// every project, archived ones' included, the tags, the projects.
func serverCopy(t testing.TB, s *apptest.Server, u user) *localCopy {
	t.Helper()
	c := newLocalCopy()
	projects := listProjects(t, s, u, "any")
	queries := []url.Values{{}}
	for _, p := range projects.Items {
		c.projects[p.ID] = decodeObject(t, p)
		if p.Archived {
			queries = append(queries, url.Values{"project_id": {p.ID}})
		}
	}
	for _, q := range queries {
		for offset := 0; ; offset += 100 {
			q.Set("limit", "100")
			q.Set("offset", strconv.Itoa(offset))
			page := listTasks(t, s, u, q)
			for _, task := range page.Items {
				c.tasks[task.ID] = decodeObject(t, task)
			}
			if offset+100 >= int(page.Total) {
				break
			}
		}
	}
	for _, tag := range listTags(t, s, u).Items {
		c.tags[tag.ID] = decodeObject(t, tag)
	}
	return c
}

// decodeObject turns a client type back into its JSON object.
func decodeObject(t testing.TB, v any) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustMarshal(t, v), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// requireSameCopy fails unless c holds what the server holds for u: the
// same ids of each kind, each object the same.
func requireSameCopy(t testing.TB, s *apptest.Server, u user, c *localCopy) {
	t.Helper()
	server := serverCopy(t, s, u)
	for _, kind := range []struct {
		name          string
		local, theirs map[string]map[string]any
	}{{"task", c.tasks, server.tasks}, {"tag", c.tags, server.tags}, {"project", c.projects, server.projects}} {
		mine, want := slices.Sorted(maps.Keys(kind.local)), slices.Sorted(maps.Keys(kind.theirs))
		if !slices.Equal(mine, want) {
			t.Fatalf("the synced copy's %ss\n%v\nthe server's\n%v", kind.name, mine, want)
		}
		for id, o := range kind.theirs {
			if got := comparable(kind.name, kind.local[id]); !reflect.DeepEqual(got, comparable(kind.name, o)) {
				t.Fatalf("the synced copy's %s %s\n%v\nthe server's\n%v", kind.name, id, got, comparable(kind.name, o))
			}
		}
	}
}

// seqOf reads the id of an object's last change, as a sync pages by it.
func seqOf(t testing.TB, s *apptest.Server, table, id string) int64 {
	t.Helper()
	var seq int64
	if err := s.DB.Raw("SELECT seq FROM "+table+" WHERE id = ?", id).Scan(&seq).Error; err != nil {
		t.Fatal(err)
	}
	return seq
}

// newestID is the user's newest id of the sequence: the id of the last
// change the user made.
func newestID(t testing.TB, s *apptest.Server, u user) int64 {
	t.Helper()
	var seq int64
	if err := s.DB.Raw("SELECT seq FROM event_counters WHERE user_id = ?", u.id).Scan(&seq).Error; err != nil {
		t.Fatal(err)
	}
	return seq
}

// someData gives u 2 projects (one archived), 3 tags and 6 tasks in them,
// subtasks and tags included; it returns the number of objects.
func someData(t testing.TB, s *apptest.Server, u user) int {
	t.Helper()
	home, work := mustCreateProject(t, s, u, "Home"), mustCreateProject(t, s, u, "Work")
	var tags []string
	for _, name := range []string{"errands", "calls", "later"} {
		tags = append(tags, mustCreateTag(t, s, u, name).ID)
	}
	paint := mustCreateTask(t, s, u, map[string]any{"title": "Paint", "project_id": home.ID, "tag_ids": tags[:2]})
	mustCreateTask(t, s, u, map[string]any{"title": "Buy paint", "parent_id": paint.ID, "tag_ids": tags[:1]})
	mustCreateTask(t, s, u, map[string]any{"title": "Report", "project_id": work.ID, "due_date": "2030-01-02T03:04:05Z"})
	mustCreateTask(t, s, u, map[string]any{"title": "Inbox one", "priority": "high", "completed": true})
	mustCreateTask(t, s, u, map[string]any{"title": "Inbox two", "tag_ids": tags})
	mustCreateTask(t, s, u, map[string]any{"title": "In the archive", "project_id": work.ID})
	mustPatchProject(t, s, u, work.ID, map[string]any{"archived": true})
	return 11
}

// TestSyncFullCopyInPages: a sync without a cursor is a full copy, in
// pages of at most limit changes in the order of the sequence, each
// page's cursor the id of its last change and the last page's the newest
// id; the copy holds every object once, as the server has it.
func TestSyncFullCopyInPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)

		empty := getSync(t, s, u, nil)
		if empty.Cursor != "0" || !empty.Full || empty.HasMore || empty.changes() != 0 {
			t.Fatalf("a new user's sync: %+v", empty)
		}
		objects := someData(t, s, u)

		whole := getSync(t, s, u, nil)
		if !whole.Full || whole.HasMore || whole.changes() != objects || whole.Cursor != strconv.FormatInt(newestID(t, s, u), 10) {
			t.Fatalf("a full copy in one page (default limit): full %v, has_more %v, %d changes, cursor %s (newest id %d)",
				whole.Full, whole.HasMore, whole.changes(), whole.Cursor, newestID(t, s, u))
		}
		c := newLocalCopy()
		c.apply(whole)
		requireSameCopy(t, s, u, c)

		for _, limit := range []int{1, 3, 1000} {
			c := newLocalCopy()
			pages := c.catchUp(t, s, u, limit)
			if want := (objects + limit - 1) / limit; len(pages) != want {
				t.Fatalf("limit %d: %d pages, want %d", limit, len(pages), want)
			}
			var seen []string
			var last int64
			for i, page := range pages {
				if page.Full != (i == 0) {
					t.Fatalf("limit %d: page %d has full %v", limit, i, page.Full)
				}
				var highest int64
				for _, kind := range []struct {
					table string
					list  []map[string]any
				}{{"tasks", page.Tasks}, {"tags", page.Tags}, {"projects", page.Projects}} {
					for _, o := range kind.list {
						seq := seqOf(t, s, kind.table, o["id"].(string))
						if seq <= last {
							t.Fatalf("limit %d: page %d holds a change (%d) from before the last page's cursor (%d)", limit, i, seq, last)
						}
						highest = max(highest, seq)
					}
				}
				if page.HasMore && page.Cursor != strconv.FormatInt(highest, 10) {
					t.Fatalf("limit %d: page %d's cursor %s, want the id of its last change, %d", limit, i, page.Cursor, highest)
				}
				last, _ = strconv.ParseInt(page.Cursor, 10, 64)
				seen = append(seen, page.objectIDs()...)
			}
			if len(seen) != objects || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != objects {
				t.Fatalf("limit %d: %d objects sent, want each of %d once", limit, len(seen), objects)
			}
			if c.cursor != whole.Cursor {
				t.Fatalf("limit %d: the last page's cursor %s, want the newest id %s", limit, c.cursor, whole.Cursor)
			}
			requireSameCopy(t, s, u, c)
		}

		// Nothing changed since: an empty page at the same cursor.
		again := getSync(t, s, u, syncQuery(whole.Cursor, 0))
		if again.Full || again.HasMore || again.changes() != 0 || again.Cursor != whole.Cursor {
			t.Fatalf("a sync from the newest id: %+v", again)
		}
	})
}

// TestSyncCursorAndLimitRefused: a cursor that is not a decimal string, or
// that is ahead of the newest change, is a 422 naming cursor; a limit out
// of 1..1000 a 422 naming limit, one that is no number a 400.
func TestSyncCursorAndLimitRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		mustCreateTask(t, s, u, map[string]any{"title": "one"})
		mustCreateTask(t, s, u, map[string]any{"title": "two"})
		for range 5 {
			mustCreateTask(t, s, other, map[string]any{"title": "another user's"})
		}
		newest := newestID(t, s, u)
		for _, cursor := range []string{"abc", "-1", "-0", "+1", "1.5", "0x1", "1e3", " 1", "1 ", "99999999999999999999",
			strconv.FormatInt(newest+1, 10), strconv.FormatInt(newestID(t, s, other), 10)} {
			r := call(t, s, u, http.MethodGet, "/api/v1/sync?"+url.Values{"cursor": {cursor}}.Encode(), nil, nil)
			requireExactFields(t, r, http.StatusUnprocessableEntity, "cursor")
		}
		for _, limit := range []string{"0", "-1", "1001", "99999999999999999999"} {
			r := call(t, s, u, http.MethodGet, "/api/v1/sync?limit="+limit, nil, nil)
			requireExactFields(t, r, http.StatusUnprocessableEntity, "limit")
		}
		r := call(t, s, u, http.MethodGet, "/api/v1/sync?limit=ten&cursor=x", nil, nil)
		requireExactFields(t, r, http.StatusBadRequest, "limit", "cursor")
		apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/sync"}), http.StatusUnauthorized)
		for _, cursor := range []string{"0", strconv.FormatInt(newest, 10)} {
			if page := getSync(t, s, u, syncQuery(cursor, 0)); page.Full || page.HasMore {
				t.Fatalf("cursor %s: %+v", cursor, page)
			}
		}
	})
}

// TestSyncChangesAfterACursor: from a cursor, a sync lists exactly what
// changed after it, each object once in its current state, not what did
// not change (a write that changes nothing included); a task's change
// does not send its project or tags again, nor a tag's its tasks.
func TestSyncChangesAfterACursor(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		project := mustCreateProject(t, s, u, "Home")
		tag := mustCreateTag(t, s, u, "errands")
		a := mustCreateTask(t, s, u, map[string]any{"title": "a", "project_id": project.ID, "tag_ids": []string{tag.ID}})
		b := mustCreateTask(t, s, u, map[string]any{"title": "b"})
		c := mustCreateTask(t, s, u, map[string]any{"title": "c"})
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)

		mustWriteTask(t, s, u, http.MethodPatch, a.ID, map[string]any{"title": "a, renamed"})
		mustWriteTask(t, s, u, http.MethodPatch, a.ID, map[string]any{"completed": true})
		mustWriteTask(t, s, u, http.MethodPatch, b.ID, map[string]any{"title": "b"}) // changes nothing
		moved := mustMoveTask(t, s, u, c.ID, map[string]any{"project_id": project.ID})
		renamed := call(t, s, u, http.MethodPatch, "/api/v1/tags/"+tag.ID, map[string]any{"name": "chores"}, nil)
		apptest.RequireStatus(t, renamed, http.StatusOK)
		newProject := mustCreateProject(t, s, u, "Work")

		page := getSync(t, s, u, syncQuery(mine.cursor, 0))
		if page.Full || page.HasMore {
			t.Fatalf("a sync from a cursor: full %v, has_more %v", page.Full, page.HasMore)
		}
		want := slices.Sorted(slices.Values([]string{a.ID, c.ID, tag.ID, newProject.ID}))
		if got := page.objectIDs(); !slices.Equal(got, want) {
			t.Fatalf("changed after the cursor: %v, want %v (the updated tasks, the renamed tag, the new project)", got, want)
		}
		current, _ := mustGetTask(t, s, u, a.ID)
		for _, task := range page.Tasks {
			if task["id"] == a.ID && (task["title"] != "a, renamed" || task["completed"] != true || task["version"] != float64(current.Version)) {
				t.Fatalf("a task changed twice comes once, as it is now: %v", task)
			}
			if task["id"] == c.ID && task["project_id"] != *moved.ProjectID {
				t.Fatalf("the moved task: %v", task)
			}
		}
		mine.apply(page)
		requireSameCopy(t, s, u, mine)
	})
}

// sortedIDs is ids sorted, for comparing sets.
func sortedIDs(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

// TestSyncDeletions: a deleted task is listed with its subtasks, a
// deleted project with every task that went with it, a deleted tag alone
// (its tasks are not sent again); a full copy lists no deletions.
func TestSyncDeletions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		project := mustCreateProject(t, s, u, "Going away")
		kept := mustCreateProject(t, s, u, "Staying")
		tag := mustCreateTag(t, s, u, "going away")
		inProject := mustCreateTask(t, s, u, map[string]any{"title": "in the project", "project_id": project.ID})
		underIt := mustCreateTask(t, s, u, map[string]any{"title": "under it", "parent_id": inProject.ID})
		deeper := mustCreateTask(t, s, u, map[string]any{"title": "deeper", "parent_id": underIt.ID})
		alsoInProject := mustCreateTask(t, s, u, map[string]any{"title": "also in the project", "project_id": project.ID})
		parent := mustCreateTask(t, s, u, map[string]any{"title": "parent", "project_id": kept.ID, "tag_ids": []string{tag.ID}})
		child := mustCreateTask(t, s, u, map[string]any{"title": "child", "parent_id": parent.ID})
		grandchild := mustCreateTask(t, s, u, map[string]any{"title": "grandchild", "parent_id": child.ID})
		tagged := mustCreateTask(t, s, u, map[string]any{"title": "tagged", "tag_ids": []string{tag.ID}})
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)
		from := mine.cursor

		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(parent.ID), nil, nil), http.StatusNoContent)
		page := getSync(t, s, u, syncQuery(from, 0))
		if got, want := sortedIDs(page.Deleted.Tasks...), sortedIDs(parent.ID, child.ID, grandchild.ID); !slices.Equal(got, want) {
			t.Fatalf("a task's deletion lists %v, want it and its subtasks %v", got, want)
		}
		if page.objectIDs() != nil || len(page.Deleted.Projects)+len(page.Deleted.Tags) != 0 {
			t.Fatalf("a task's deletion sends %v and %+v", page.objectIDs(), page.Deleted)
		}

		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, projectPath(project.ID), nil, nil), http.StatusNoContent)
		page = getSync(t, s, u, syncQuery(page.Cursor, 0))
		if !slices.Equal(page.Deleted.Projects, []string{project.ID}) ||
			!slices.Equal(sortedIDs(page.Deleted.Tasks...), sortedIDs(inProject.ID, underIt.ID, deeper.ID, alsoInProject.ID)) {
			t.Fatalf("a project's deletion lists %+v, want it and its 4 tasks", page.Deleted)
		}
		if page.objectIDs() != nil {
			t.Fatalf("a project's deletion sends %v", page.objectIDs())
		}

		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, "/api/v1/tags/"+tag.ID, nil, nil), http.StatusNoContent)
		page = getSync(t, s, u, syncQuery(page.Cursor, 0))
		if !slices.Equal(page.Deleted.Tags, []string{tag.ID}) || len(page.Deleted.Tasks)+len(page.Deleted.Projects) != 0 || page.objectIDs() != nil {
			t.Fatalf("a tag's deletion: %+v, objects %v; want its id alone", page.Deleted, page.objectIDs())
		}

		// All of it from the first cursor, in one page or in pages of 2.
		for _, limit := range []int{0, 2} {
			c := &localCopy{cursor: from, tasks: maps.Clone(mine.tasks), tags: maps.Clone(mine.tags), projects: maps.Clone(mine.projects)}
			var deleted []string
			for _, p := range c.catchUp(t, s, u, limit) {
				deleted = append(deleted, slices.Concat(p.Deleted.Projects, p.Deleted.Tags, p.Deleted.Tasks)...)
			}
			if len(deleted) != 9 {
				t.Fatalf("limit %d: %d deletions listed, want 9: %v", limit, len(deleted), deleted)
			}
			requireSameCopy(t, s, u, c)
			if tags := c.tasks[tagged.ID]["tags"].([]any); len(tags) != 0 {
				t.Fatalf("the deleted tag is still on a task of the copy: %v", tags)
			}
		}

		// A full copy holds only what exists.
		full := getSync(t, s, u, nil)
		if !full.Full || len(full.Deleted.Projects)+len(full.Deleted.Tags)+len(full.Deleted.Tasks) != 0 {
			t.Fatalf("a full copy lists deletions: %+v", full.Deleted)
		}
		if got, want := full.objectIDs(), sortedIDs(kept.ID, tagged.ID); !slices.Equal(got, want) {
			t.Fatalf("a full copy after the deletions: %v, want %v", got, want)
		}
	})
}

// TestSyncIsolation: another user's changes, deletions included, never
// appear in a user's sync, and do not move the user's cursor.
func TestSyncIsolation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		for _, pair := range []struct {
			name string
			a, b func(testing.TB) user
		}{{"local users", newUser, newUser}, {"a Better Auth user and a local one", betterAuthUser, newUser}} {
			t.Run(pair.name, func(t *testing.T) {
				a, b := pair.a(t), pair.b(t)
				mine := mustCreateTask(t, s, a, map[string]any{"title": "mine"})
				mineCopy := newLocalCopy()
				mineCopy.catchUp(t, s, a, 0)

				project := mustCreateProject(t, s, b, "theirs")
				theirs := mustCreateTask(t, s, b, map[string]any{"title": "theirs", "project_id": project.ID})
				tag := mustCreateTag(t, s, b, "theirs")
				apptest.RequireStatus(t, call(t, s, b, http.MethodDelete, taskPath(theirs.ID), nil, nil), http.StatusNoContent)
				apptest.RequireStatus(t, call(t, s, b, http.MethodDelete, "/api/v1/tags/"+tag.ID, nil, nil), http.StatusNoContent)
				apptest.RequireStatus(t, call(t, s, b, http.MethodDelete, projectPath(project.ID), nil, nil), http.StatusNoContent)

				page := getSync(t, s, a, syncQuery(mineCopy.cursor, 0))
				if page.changes() != 0 || page.Cursor != mineCopy.cursor {
					t.Fatalf("another user's changes in a sync: %+v", page)
				}
				if full := getSync(t, s, a, nil); !slices.Equal(full.objectIDs(), []string{mine.ID}) {
					t.Fatalf("a full copy holds %v, want only %s", full.objectIDs(), mine.ID)
				}
				theirCopy := newLocalCopy()
				theirCopy.catchUp(t, s, b, 1)
				if theirCopy.cursor == "0" || len(theirCopy.tasks)+len(theirCopy.tags)+len(theirCopy.projects) != 0 {
					t.Fatalf("the other user's copy: %+v", theirCopy)
				}
			})
		}
	})
}

// churn is a writer that changes a user's data without pause: it creates,
// updates, moves and deletes tasks, tags and projects at random (from a
// fixed seed), keeping track of what exists, so that every write it
// sends must succeed. It runs on its own goroutine: it reports with
// t.Errorf and stops at the first failure.
type churn struct {
	t        testing.TB
	s        *apptest.Server
	u        user
	rng      *rand.Rand
	projects []string
	tags     []string
	tasks    map[string]churnTask
	made     int
	// writes counts the writes made; the test reads it while they go on.
	writes atomic.Int64
}

// churnTask is where a task of the churn is: its project ("" for the
// inbox) and parent ("" for the top level; subtasks go one level deep).
type churnTask struct{ project, parent string }

func newChurn(t testing.TB, s *apptest.Server, u user, seed uint64) *churn {
	return &churn{t: t, s: s, u: u, rng: rand.New(rand.NewPCG(seed, seed)), tasks: map[string]churnTask{}}
}

// run writes until stop is closed, or until it has made max writes.
func (w *churn) run(stop <-chan struct{}, max int) {
	for w.writes.Load() < int64(max) {
		select {
		case <-stop:
			return
		default:
		}
		if !w.step() {
			return
		}
		w.writes.Add(1)
	}
}

// do sends one write and checks it got status; it returns the answer's
// id, if any, and whether it succeeded.
func (w *churn) do(method, path string, body any, status int) (string, bool) {
	r := w.s.Do(w.t, apptest.Request{Method: method, Path: path, Token: w.u.token, Body: body})
	if r.Status != status {
		w.t.Errorf("churn: %s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
		return "", false
	}
	var answer struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &answer)
	return answer.ID, true
}

func (w *churn) name(what string) string {
	w.made++
	return fmt.Sprintf("%s %d", what, w.made)
}

func pick[T any](rng *rand.Rand, items []T) T { return items[rng.IntN(len(items))] }

func (w *churn) someTask() (string, churnTask) {
	ids := slices.Sorted(maps.Keys(w.tasks))
	id := pick(w.rng, ids)
	return id, w.tasks[id]
}

// step makes one write, chosen at random among those possible now.
func (w *churn) step() bool {
	switch n := w.rng.IntN(20); {
	case n < 2 || len(w.projects) == 0:
		return w.createProject()
	case n < 4 || len(w.tags) == 0:
		return w.createTag()
	case n < 8 || len(w.tasks) < 3:
		return w.createTask()
	case n < 11:
		return w.updateTask()
	case n < 12:
		return w.moveTask()
	case n < 14:
		return w.deleteTask()
	case n < 15:
		id := pick(w.rng, w.tags)
		_, ok := w.do(http.MethodPatch, "/api/v1/tags/"+id, map[string]any{"name": w.name("tag"), "color": "#123456"}, http.StatusOK)
		return ok
	case n < 16:
		return w.deleteTag()
	case n < 17:
		_, ok := w.do(http.MethodPatch, projectPath(pick(w.rng, w.projects)), map[string]any{"name": w.name("project")}, http.StatusOK)
		return ok
	case n < 18:
		_, ok := w.do(http.MethodPost, projectPath(pick(w.rng, w.projects))+"/move", map[string]any{"after_id": nil}, http.StatusOK)
		return ok
	default:
		return w.deleteProject()
	}
}

func (w *churn) createProject() bool {
	id, ok := w.do(http.MethodPost, "/api/v1/projects", map[string]any{"name": w.name("project")}, http.StatusCreated)
	w.projects = append(w.projects, id)
	return ok
}

func (w *churn) createTag() bool {
	id, ok := w.do(http.MethodPost, "/api/v1/tags", map[string]any{"name": w.name("tag")}, http.StatusCreated)
	w.tags = append(w.tags, id)
	return ok
}

func (w *churn) createTask() bool {
	body := map[string]any{"title": w.name("task")}
	where := churnTask{}
	switch n := w.rng.IntN(3); {
	case n == 0 && len(w.tasks) > 0:
		if parent, at := w.someTask(); at.parent == "" {
			body["parent_id"], where = parent, churnTask{project: at.project, parent: parent}
			break
		}
		fallthrough
	case n < 2:
		where.project = pick(w.rng, w.projects)
		body["project_id"] = where.project
	}
	if w.rng.IntN(2) == 0 {
		body["tag_ids"] = []string{pick(w.rng, w.tags)}
	}
	id, ok := w.do(http.MethodPost, "/api/v1/tasks", body, http.StatusCreated)
	w.tasks[id] = where
	return ok
}

func (w *churn) updateTask() bool {
	id, _ := w.someTask()
	body := map[string]any{"title": w.name("task")}
	switch w.rng.IntN(3) {
	case 0:
		body["completed"] = w.rng.IntN(2) == 0
	case 1:
		body["tag_ids"] = []string{pick(w.rng, w.tags)}
	}
	_, ok := w.do(http.MethodPatch, taskPath(id), body, http.StatusOK)
	return ok
}

// moveTask moves a top-level task, its subtasks with it, to another
// project or the inbox, first there.
func (w *churn) moveTask() bool {
	id, at := w.someTask()
	if at.parent != "" {
		return w.updateTask()
	}
	project := ""
	if w.rng.IntN(3) > 0 {
		project = pick(w.rng, w.projects)
	}
	body := map[string]any{"project_id": nil, "after_id": nil}
	if project != "" {
		body["project_id"] = project
	}
	_, ok := w.do(http.MethodPost, taskPath(id)+"/move", body, http.StatusOK)
	for other, where := range w.tasks {
		if other == id || where.parent == id {
			where.project = project
			w.tasks[other] = where
		}
	}
	return ok
}

func (w *churn) deleteTask() bool {
	id, _ := w.someTask()
	_, ok := w.do(http.MethodDelete, taskPath(id), nil, http.StatusNoContent)
	for other, where := range w.tasks {
		if other == id || where.parent == id {
			delete(w.tasks, other)
		}
	}
	return ok
}

func (w *churn) deleteTag() bool {
	i := w.rng.IntN(len(w.tags))
	_, ok := w.do(http.MethodDelete, "/api/v1/tags/"+w.tags[i], nil, http.StatusNoContent)
	w.tags = slices.Delete(w.tags, i, i+1)
	return ok
}

func (w *churn) deleteProject() bool {
	i := w.rng.IntN(len(w.projects))
	project := w.projects[i]
	_, ok := w.do(http.MethodDelete, projectPath(project), nil, http.StatusNoContent)
	w.projects = slices.Delete(w.projects, i, i+1)
	for id, where := range w.tasks {
		if where.project == project {
			delete(w.tasks, id)
		}
	}
	return ok
}

// churnWrites is how many writes the churn of a test makes: enough for
// many pages to be read while they land, few enough for a loaded machine.
const churnWrites = 250

// TestSyncSkipsNothing: while a writer changes a user's data without
// pause, a client pages from an old cursor, a few changes a page, over
// and over; once the writer stops and the client's last page has
// has_more false, its copy is the server's, object for object.
func TestSyncSkipsNothing(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		w := newChurn(t, s, u, 1)
		w.run(nil, 40)
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)
		w.run(nil, 80) // the old cursor is 40 writes behind before paging starts

		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			w.run(stop, churnWrites)
		}()
		rounds, pages := 0, 0
		for running := true; running; rounds++ {
			select {
			case <-done:
				running = false
			default:
			}
			pages += len(mine.catchUp(t, s, u, 3))
		}
		pages += len(mine.catchUp(t, s, u, 3))
		if t.Failed() {
			return
		}
		t.Logf("%d writes while the client read %d pages in %d syncs", w.writes.Load(), pages, rounds)
		requireSameCopy(t, s, u, mine)
	})
}

// applyEvent applies an event of the change feed to c, as a client that
// follows the feed after a sync does.
func (c *localCopy) applyEvent(t testing.TB, e eventstest.Event) {
	t.Helper()
	var data map[string]any
	e.Decode(t, &data)
	kind, action, _ := strings.Cut(e.Type, ".")
	id, _ := data["id"].(string)
	objects := map[string]map[string]map[string]any{"task": c.tasks, "tag": c.tags, "project": c.projects}[kind]
	switch {
	case objects == nil:
		t.Fatalf("event %d: %s %s", e.ID, e.Type, e.Data)
	case action != "deleted":
		objects[id] = data[kind].(map[string]any)
	case kind == "tag":
		c.dropTag(id)
	case kind == "project": // its tasks went with it, unannounced
		delete(c.projects, id)
		for taskID, task := range c.tasks {
			if task["project_id"] == id {
				delete(c.tasks, taskID)
			}
		}
	default:
		delete(objects, id)
	}
}

// TestSyncThenStream: a client that syncs to the end while a writer keeps
// writing, then opens the change feed with Last-Event-ID set to the
// sync's cursor, misses nothing: the events after the cursor, applied to
// its copy, make it the server's.
func TestSyncThenStream(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		w := newChurn(t, s, u, 2)
		w.run(nil, 40)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			w.run(stop, churnWrites)
		}()
		mine := newLocalCopy()
		for w.writes.Load() < churnWrites/2 && !t.Failed() {
			mine.catchUp(t, s, u, 5)
		}
		feed := eventstest.Open(t, s.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + u.token, "Last-Event-ID": mine.cursor})
		if feed.Status != http.StatusOK {
			t.Fatalf("GET /api/v1/events: %d", feed.Status)
		}
		<-done
		if t.Failed() {
			return
		}
		last, _ := strconv.ParseInt(mine.cursor, 10, 64)
		events := 0
		for {
			select {
			case e := <-feed.Events:
				if e.ID <= last {
					t.Fatalf("event %d (%s) after %d: the feed goes on from the cursor, in order", e.ID, e.Type, last)
				}
				last = e.ID
				mine.applyEvent(t, e)
				events++
				continue
			case <-time.After(2 * feedQuiet):
			}
			break
		}
		t.Logf("%d writes; %d events after the sync's cursor %s", w.writes.Load(), events, mine.cursor)
		requireSameCopy(t, s, u, mine)
	})
}

// ageDeletions makes u's deletions older than they are kept, and prunes
// them as the server's pruner does.
func ageDeletions(t testing.TB, s *apptest.Server, u user) {
	t.Helper()
	old := time.Now().Add(-models.TombstoneTTL - time.Hour).UTC()
	if err := s.DB.Exec("UPDATE tombstones SET deleted_at = ? WHERE user_id = ?", old, u.id).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := database.NewEvents(s.DB).Prune(context.Background(), time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// TestSyncPastPrunedDeletions: a sync from a cursor older than a deletion
// no longer kept is a full copy; a full copy goes on, page after page,
// whatever the deletions pruned before it, and ends.
func TestSyncPastPrunedDeletions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)

		t.Run("a cursor older than a pruned deletion", func(t *testing.T) {
			u := newUser(t)
			gone := mustCreateTask(t, s, u, map[string]any{"title": "gone"})
			mine := newLocalCopy()
			mine.catchUp(t, s, u, 0)
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(gone.ID), nil, nil), http.StatusNoContent)
			for i := range 5 {
				mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprintf("kept %d", i)})
			}
			after := newLocalCopy()
			after.catchUp(t, s, u, 0)
			ageDeletions(t, s, u)

			first := getSync(t, s, u, syncQuery(mine.cursor, 2))
			if !first.Full || len(first.Deleted.Tasks) != 0 {
				t.Fatalf("a sync from before a pruned deletion: full %v, deleted %v; want a full copy", first.Full, first.Deleted.Tasks)
			}
			pages := mine.catchUp(t, s, u, 2)
			if len(pages) != 3 {
				t.Fatalf("the full copy of 5 tasks in pages of 2 took %d pages", len(pages))
			}
			requireSameCopy(t, s, u, mine)
			if page := getSync(t, s, u, syncQuery(after.cursor, 0)); page.Full {
				t.Fatal("a sync from after the pruned deletion is a full copy")
			}
		})

		t.Run("objects older than a pruned deletion", func(t *testing.T) {
			u := newUser(t)
			for i := range 5 {
				mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprintf("old %d", i)})
			}
			gone := mustCreateTask(t, s, u, map[string]any{"title": "gone"})
			before := newestID(t, s, u)
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(gone.ID), nil, nil), http.StatusNoContent)
			ageDeletions(t, s, u)

			mine := newLocalCopy()
			if pages := mine.catchUp(t, s, u, 2); len(pages) != 3 {
				t.Fatalf("a full copy of 5 tasks in pages of 2 took %d pages", len(pages))
			}
			requireSameCopy(t, s, u, mine)
			page := getSync(t, s, u, syncQuery(strconv.FormatInt(before, 10), 0))
			if page.Full || !slices.Equal(page.Deleted.Tasks, []string{gone.ID}) {
				t.Fatalf("a sync from before the deletion: full %v, deleted %v; want the deletion listed", page.Full, page.Deleted.Tasks)
			}
		})
	})
}

// TestSyncPastCappedDeletions: past the cap of deletions kept for a user,
// the oldest go and a sync from before them is a full copy; that copy
// goes on, page after page, and ends, however old the objects it holds.
func TestSyncPastCappedDeletions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"MAX_TOMBSTONES_PER_USER": "5"})
		u := newUser(t)
		project := mustCreateProject(t, s, u, "old")
		tag := mustCreateTag(t, s, u, "old")
		for i := range 4 {
			mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprintf("old %d", i), "project_id": project.ID, "tag_ids": []string{tag.ID}})
		}
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)
		for i := range 12 {
			gone := mustCreateTask(t, s, u, map[string]any{"title": fmt.Sprintf("gone %d", i)})
			apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(gone.ID), nil, nil), http.StatusNoContent)
		}

		if page := getSync(t, s, u, syncQuery(mine.cursor, 2)); !page.Full {
			t.Fatal("a sync from before the deletions past the cap is not a full copy")
		}
		// The deletions kept past the first page are listed: a few pages
		// more than 6 objects need, and an end.
		if pages := mine.catchUp(t, s, u, 2); len(pages) > 8 {
			t.Fatalf("a full copy of 6 objects in pages of 2 took %d pages", len(pages))
		}
		requireSameCopy(t, s, u, mine)
		fresh := newLocalCopy()
		fresh.catchUp(t, s, u, 2)
		requireSameCopy(t, s, u, fresh)
	})
}

// TestSyncSendsRowsWrittenBeforeIt: tasks and tags written before syncs
// existed (no id of the sequence yet) are stamped by the migration, and
// sent by a full copy and by a sync from any cursor.
func TestSyncSendsRowsWrittenBeforeIt(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		mustCreateTask(t, s, u, map[string]any{"title": "new"})
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)
		task, tag := uuid.NewString(), uuid.NewString()
		now := time.Now().UTC()
		for _, stmt := range []struct {
			query string
			args  []any
		}{
			{"INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at, position) VALUES (?, ?, 'old', '', false, 1, 1, ?, ?, 'A')",
				[]any{task, u.id, now, now}},
			{"INSERT INTO tags (id, user_id, name, name_key, created_at, updated_at) VALUES (?, ?, 'old', 'old', ?, ?)", []any{tag, u.id, now, now}},
			{"DELETE FROM schema_steps WHERE name = ?", []any{"sync-stamps"}},
		} {
			if err := s.DB.Exec(stmt.query, stmt.args...).Error; err != nil {
				t.Fatalf("%s: %v", stmt.query, err)
			}
		}
		if err := database.Migrate(context.Background(), s.DB, database.MigrateOptions{}); err != nil {
			t.Fatal(err)
		}
		full := getSync(t, s, u, nil)
		if got, want := full.objectIDs(), sortedIDs(task, tag, mine.tasksIDs()[0]); !slices.Equal(got, want) {
			t.Fatalf("a full copy holds %v, want %v", got, want)
		}
		page := getSync(t, s, u, syncQuery(mine.cursor, 0))
		if got, want := page.objectIDs(), sortedIDs(task, tag); !slices.Equal(got, want) {
			t.Fatalf("a sync from the cursor before the migration holds %v, want %v", got, want)
		}
		mine.apply(page)
		requireSameCopy(t, s, u, mine)
	})
}

func (c *localCopy) tasksIDs() []string { return slices.Sorted(maps.Keys(c.tasks)) }

// TestSyncAfterDataDeleted: once a user's data is deleted (DELETE /me), a
// sync from a cursor taken before is a full copy, of nothing: a client
// does not keep what is gone. An external user is the same user again
// with the next token its frontend issues, so it is the one that syncs
// from such a cursor.
func TestSyncAfterDataDeleted(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := betterAuthUser(t)
		userID := models.ExternalUserID("", u.id) // BETTER_AUTH_URL is not set: no issuer
		project := mustCreateProject(t, s, u, "p")
		mustCreateTask(t, s, u, map[string]any{"title": "t", "project_id": project.ID})
		gone := mustCreateTask(t, s, u, map[string]any{"title": "gone"})
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, taskPath(gone.ID), nil, nil), http.StatusNoContent)
		mustCreateTag(t, s, u, "g")
		mustBatch(t, s, u, command("d-1", "task.create", "later", map[string]any{"title": "by batch"}))
		mine := newLocalCopy()
		mine.catchUp(t, s, u, 0)
		kept := []string{"tombstones", "temp_ids", "events", "idempotency_keys", "projects"}
		requireRows(t, s, userID, kept, true)

		before := mine.cursor
		apptest.RequireStatus(t, call(t, s, u, http.MethodDelete, "/api/v1/auth/me", nil, nil), http.StatusNoContent)
		requireRows(t, s, userID, kept, false)
		u = user{id: u.id, token: apptest.SignHS256(t, apptest.BetterAuthSecret, jwt.MapClaims{
			"sub": u.id, "iat": time.Now().Unix(), "exp": time.Now().Add(15 * time.Minute).Unix(),
		})}
		page := getSync(t, s, u, syncQuery(before, 0))
		if !page.Full || page.changes() != 0 {
			t.Fatalf("a sync after DELETE /me: full %v, %d changes; want a full copy of nothing", page.Full, page.changes())
		}
		mine.apply(page)
		requireSameCopy(t, s, u, mine)

		// The change feed resumed from before starts over too.
		feed := eventstest.Open(t, s.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + u.token, "Last-Event-ID": before})
		if feed.Status != http.StatusOK {
			t.Fatalf("the feed resumed from before DELETE /me: status %d", feed.Status)
		}
		if e := feed.Next(t, feedWait); e.Type != "reset" {
			t.Fatalf("the feed resumed from before DELETE /me: first event %s %s, want reset", e.Type, e.Data)
		}
		// The batch's uuid and temp id are forgotten with the rest.
		again, _ := mustBatch(t, s, u, command("d-1", "task.create", "later", map[string]any{"title": "by batch"}))
		if again.Results[0].Status != http.StatusCreated || again.TempIDs["later"] == "" {
			t.Fatalf("the batch after DELETE /me: %+v", again)
		}
	})
}

// requireRows fails unless each of tables holds rows of userID (some, or
// none).
func requireRows(t testing.TB, s *apptest.Server, userID string, tables []string, some bool) {
	t.Helper()
	for _, table := range tables {
		var n int64
		if err := s.DB.Table(table).Where("user_id = ?", userID).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if (n > 0) != some {
			t.Fatalf("%s: %d rows of the user", table, n)
		}
	}
}
