package routes_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/app/apptest/latency"
)

// roundTripBudgets is how many times each request waits for PostgreSQL on a
// warm connection: deployed, each costs a network round trip (about 20 ms
// from Railway to Neon), more than everything else the request does. A
// change that adds one must change this table, and say why.
var roundTripBudgets = map[string]int{
	"GET /tasks":      1, // the page as JSON, its total and tags included (one statement)
	"GET /tasks/{id}": 1, // the task joined to its tags
	// Every write is one call of a function of the database
	// (database/functions_postgres.go): the user's lock, the checks, the
	// write, its events, stamps and NOTIFY, and a key's answer.
	"POST /tasks": 1, // the cap, the tags and place checked, the position after the last sibling, the INSERT, the event
	// The write records its answer under the key in its own call.
	"POST /tasks with a key":      2, // the key's stored answer (none); the create, its answer recorded in it
	"POST /tasks, a key replayed": 1, // the key's stored answer, sent again
	"POST /tasks with 2 tag_ids":  1, // the create, its tags checked and linked
	"PUT /tasks/{id} new tags":    1, // the version checked, the UPDATE, links removed and added, the event
	"PATCH /tasks/{id} If-Match":  1, // the version checked, the UPDATE (only if something changes), the event
	"DELETE /tasks/{id}":          1, // the task and its subtasks, an event and a tombstone each
	"GET /tags":                   1, // the tags with their task counts
	"POST /tags":                  1, // the name and the cap checked, the INSERT, the event
	"PATCH /tags/{id}":            1, // the UPDATE, the tag's task count, the event
	"DELETE /tags/{id}":           1, // the DELETE, its event and tombstone (links go by cascade)
	"POST /auth/login":            2, // the user by email; the token inserted with the sweep of expired ones (one statement)
	"POST /auth/refresh":          2, // the spend and the successor (one statement); the user

	// Projects and the task tree: each request one statement.
	"GET /projects":                        1, // the projects with their task counts
	"GET /projects/{id}":                   1, // the project with its task counts
	"POST /projects":                       1, // the cap, the position after the last, the INSERT, the event
	"PATCH /projects/{id}":                 1, // the version checked, the UPDATE (only if something changes), the counts, the event
	"POST /projects/{id}/move":             1, // the neighbours' positions, the UPDATE if the version matches, the event
	"DELETE /projects/{id}":                1, // the project and its tasks deleted, the counters, the one event
	"POST /tasks/{id}/move":                1, // the place checked, the neighbours' positions, the UPDATE, its subtasks, the events
	"POST /tasks under a parent":           1, // the parent's project and depth checked, the position last, the INSERT, the event
	"PATCH /tasks/{id} to another project": 1, // the place checked, the UPDATE, its subtasks along, the events
	"GET /tasks in a project by position":  1, // the page of one project in manual order, as JSON

	// Offline clients.
	"GET /sync": 1, // the head, each kind's changes after the cursor and the deletions, as JSON (one statement)
	// The results and temp ids kept from before (none), one statement of
	// one text whatever the batch; the 100 writes in one pipeline.
	"POST /batch (100 commands)": 2,
}

// roundTripSamples is how often each request is measured; the fewest
// round trips seen is its cost.
const roundTripSamples = 5

// A roundTripCase sets up one request (uncounted) and says what answer
// it must get.
type roundTripCase struct {
	name    string
	prepare func(t *testing.T) apptest.Request
	status  int
}

func TestRoundTripBudgets(t *testing.T) {
	pg := apptest.Postgres(t)
	proxy, proxied := apptest.LatencyProxy(t, pg, 0)
	// One connection: every statement of a request goes through it in
	// order, and nothing else of the request's runs beside it.
	s := apptest.Start(t, proxied, map[string]string{
		"DB_MAX_OPEN_CONNS": "1", "DB_MAX_IDLE_CONNS": "1", "DB_MIN_IDLE_CONNS": "1", "AUTH_RATE_LIMIT": "1000",
	})
	a := newRoundTripAccount(t, s)
	cases := a.cases()

	var names []string
	for _, c := range cases {
		names = append(names, c.name)
		if _, ok := roundTripBudgets[c.name]; !ok {
			t.Errorf("%s has no round-trip budget", c.name)
		}
	}
	for name := range roundTripBudgets {
		if !slices.Contains(names, name) {
			t.Errorf("budget %q measures no request", name)
		}
	}

	for _, c := range cases {
		a.send(t, c, c.prepare(t)) // warm: statements prepared, caches filled
	}
	requireNothingInBackground(t, proxy)
	for _, c := range cases {
		fewest := -1
		var seen []int
		for range roundTripSamples {
			req := c.prepare(t)
			proxy.Reset()
			a.send(t, c, req)
			n := proxy.Count()
			seen = append(seen, n)
			if fewest < 0 || n < fewest {
				fewest = n
			}
		}
		budget := roundTripBudgets[c.name]
		switch {
		case fewest > budget:
			t.Errorf("%s: %d round trips, over its budget of %d (samples %v)", c.name, fewest, budget, seen)
		case fewest < budget:
			t.Errorf("%s: %d round trips, under its budget of %d: lower the budget (samples %v)", c.name, fewest, budget, seen)
		default:
			t.Logf("%-28s %d round trips (samples %v)", c.name, fewest, seen)
		}
	}
}

// requireNothingInBackground fails if the server sends its database
// anything with no request in flight: a statement of its own would land
// inside some requests' counts (and keep a database that suspends when
// idle awake).
func requireNothingInBackground(t *testing.T, proxy *latency.Proxy) {
	t.Helper()
	proxy.Reset()
	time.Sleep(400 * time.Millisecond)
	if sent := proxy.Requests(); len(sent) != 0 {
		t.Fatalf("the idle server sent its database %d requests in 400 ms, the first %q", len(sent), sent[0])
	}
}

// roundTripAccount is a registered user with tasks and tags to work on.
type roundTripAccount struct {
	s              *apptest.Server
	email          string
	password       string
	token          string
	tagA, tagB     string
	listedTaskID   string
	createdTaskNum int
	// projectA and projectB hold tasks; parentID is a task of projectA.
	projectA, projectB string
	parentID           string
	batches            int
}

func newRoundTripAccount(t *testing.T, s *apptest.Server) *roundTripAccount {
	t.Helper()
	a := &roundTripAccount{s: s, email: "rt-" + uuid.NewString()[:8] + "@example.com", password: "correct horse battery"}
	r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/register",
		Body: map[string]any{"email": a.email, "password": a.password}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	a.token = r.Map(t)["access_token"].(string)
	a.tagA, a.tagB = a.newTag(t), a.newTag(t)
	// A page of tagged and untagged tasks, so the list reads tags.
	for i := range 5 {
		tags := []string{a.tagA}
		if i%2 == 0 {
			tags = append(tags, a.tagB)
		}
		a.listedTaskID = a.newTask(t, tags)
	}
	a.projectA, a.projectB = a.newProject(t), a.newProject(t)
	a.parentID = a.newTaskIn(t, map[string]any{"project_id": a.projectA})
	for range 3 {
		a.newTaskIn(t, map[string]any{"parent_id": a.parentID})
		a.newTaskIn(t, map[string]any{"project_id": a.projectA})
	}
	return a
}

func (a *roundTripAccount) cases() []roundTripCase {
	auth := func(method, path string, body any, headers map[string]string) apptest.Request {
		return apptest.Request{Method: method, Path: path, Token: a.token, Body: body, Headers: headers}
	}
	return []roundTripCase{
		{"GET /tasks", func(*testing.T) apptest.Request { return auth(http.MethodGet, "/api/v1/tasks", nil, nil) }, http.StatusOK},
		{"GET /tasks/{id}", func(*testing.T) apptest.Request {
			return auth(http.MethodGet, "/api/v1/tasks/"+a.listedTaskID, nil, nil)
		}, http.StatusOK},
		{"POST /tasks", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()}, nil)
		}, http.StatusCreated},
		{"POST /tasks with a key", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()},
				map[string]string{"Idempotency-Key": uuid.NewString()})
		}, http.StatusCreated},
		{"POST /tasks, a key replayed", func(t *testing.T) apptest.Request {
			req := auth(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()},
				map[string]string{"Idempotency-Key": uuid.NewString()})
			apptest.RequireStatus(t, a.s.Do(t, req), http.StatusCreated)
			return req
		}, http.StatusCreated},
		{"POST /tasks with 2 tag_ids", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle(), "tag_ids": []string{a.tagA, a.tagB}}, nil)
		}, http.StatusCreated},
		{"PUT /tasks/{id} new tags", func(t *testing.T) apptest.Request {
			id := a.newTask(t, []string{a.tagA})
			return auth(http.MethodPut, "/api/v1/tasks/"+id, map[string]any{"title": "replaced", "tag_ids": []string{a.tagB}}, nil)
		}, http.StatusOK},
		{"PATCH /tasks/{id} If-Match", func(t *testing.T) apptest.Request {
			id := a.newTask(t, nil)
			return auth(http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"title": "patched"}, map[string]string{"If-Match": `"1"`})
		}, http.StatusOK},
		{"DELETE /tasks/{id}", func(t *testing.T) apptest.Request {
			return auth(http.MethodDelete, "/api/v1/tasks/"+a.newTask(t, nil), nil, nil)
		}, http.StatusNoContent},
		{"GET /tags", func(*testing.T) apptest.Request { return auth(http.MethodGet, "/api/v1/tags", nil, nil) }, http.StatusOK},
		{"POST /tags", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/tags", map[string]any{"name": a.nextTitle()}, nil)
		}, http.StatusCreated},
		{"PATCH /tags/{id}", func(t *testing.T) apptest.Request {
			return auth(http.MethodPatch, "/api/v1/tags/"+a.newTag(t), map[string]any{"name": a.nextTitle(), "color": "#112233"}, nil)
		}, http.StatusOK},
		{"DELETE /tags/{id}", func(t *testing.T) apptest.Request {
			return auth(http.MethodDelete, "/api/v1/tags/"+a.newTag(t), nil, nil)
		}, http.StatusNoContent},
		{"GET /projects", func(*testing.T) apptest.Request { return auth(http.MethodGet, "/api/v1/projects", nil, nil) }, http.StatusOK},
		{"GET /projects/{id}", func(*testing.T) apptest.Request {
			return auth(http.MethodGet, "/api/v1/projects/"+a.projectA, nil, nil)
		}, http.StatusOK},
		{"POST /projects", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/projects", map[string]any{"name": a.nextTitle()}, nil)
		}, http.StatusCreated},
		{"PATCH /projects/{id}", func(t *testing.T) apptest.Request {
			return auth(http.MethodPatch, "/api/v1/projects/"+a.newProject(t), map[string]any{"name": a.nextTitle()}, map[string]string{"If-Match": `"1"`})
		}, http.StatusOK},
		{"POST /projects/{id}/move", func(t *testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/projects/"+a.newProject(t)+"/move", map[string]any{"after_id": a.projectA}, nil)
		}, http.StatusOK},
		{"DELETE /projects/{id}", func(t *testing.T) apptest.Request {
			id := a.newProject(t)
			a.newTaskIn(t, map[string]any{"project_id": id})
			return auth(http.MethodDelete, "/api/v1/projects/"+id, nil, nil)
		}, http.StatusNoContent},
		{"POST /tasks/{id}/move", func(t *testing.T) apptest.Request {
			id := a.newTaskIn(t, map[string]any{"project_id": a.projectA})
			a.newTaskIn(t, map[string]any{"parent_id": id})
			return auth(http.MethodPost, "/api/v1/tasks/"+id+"/move", map[string]any{"project_id": a.projectB, "after_id": nil}, nil)
		}, http.StatusOK},
		{"POST /tasks under a parent", func(*testing.T) apptest.Request {
			return auth(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle(), "parent_id": a.parentID}, nil)
		}, http.StatusCreated},
		{"PATCH /tasks/{id} to another project", func(t *testing.T) apptest.Request {
			id := a.newTaskIn(t, map[string]any{"project_id": a.projectA})
			return auth(http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"project_id": a.projectB}, nil)
		}, http.StatusOK},
		{"GET /tasks in a project by position", func(*testing.T) apptest.Request {
			return auth(http.MethodGet, "/api/v1/tasks?sort=position&project_id="+a.projectA, nil, nil)
		}, http.StatusOK},
		{"GET /sync", func(*testing.T) apptest.Request {
			return auth(http.MethodGet, "/api/v1/sync?limit=100", nil, nil)
		}, http.StatusOK},
		{"POST /batch (100 commands)", func(*testing.T) apptest.Request {
			a.batches++
			return auth(http.MethodPost, "/api/v1/batch", map[string]any{"commands": offlineBatch(fmt.Sprintf("rt%d", a.batches))}, nil)
		}, http.StatusOK},
		{"POST /auth/login", func(*testing.T) apptest.Request {
			return apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/login", Body: map[string]any{"email": a.email, "password": a.password}}
		}, http.StatusOK},
		{"POST /auth/refresh", func(t *testing.T) apptest.Request {
			return apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": a.login(t)}}
		}, http.StatusOK},
	}
}

// send makes the request and checks its answer.
func (a *roundTripAccount) send(t *testing.T, c roundTripCase, req apptest.Request) {
	t.Helper()
	r := a.s.Do(t, req)
	if r.Status != c.status {
		t.Fatalf("%s: status %d, want %d; body: %s", c.name, r.Status, c.status, r.Body)
	}
}

func (a *roundTripAccount) nextTitle() string {
	a.createdTaskNum++
	return "item " + strconv.Itoa(a.createdTaskNum)
}

func (a *roundTripAccount) newTask(t *testing.T, tagIDs []string) string {
	t.Helper()
	body := map[string]any{"title": a.nextTitle()}
	if tagIDs != nil {
		body["tag_ids"] = tagIDs
	}
	r := a.s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: a.token, Body: body})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return r.Map(t)["id"].(string)
}

// newTaskIn creates a task placed by place (project_id, parent_id).
func (a *roundTripAccount) newTaskIn(t *testing.T, place map[string]any) string {
	t.Helper()
	body := map[string]any{"title": a.nextTitle()}
	for k, v := range place {
		body[k] = v
	}
	r := a.s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: a.token, Body: body})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return r.Map(t)["id"].(string)
}

func (a *roundTripAccount) newProject(t *testing.T) string {
	t.Helper()
	r := a.s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/projects", Token: a.token,
		Body: map[string]any{"name": a.nextTitle()}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return r.Map(t)["id"].(string)
}

func (a *roundTripAccount) newTag(t *testing.T) string {
	t.Helper()
	r := a.s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tags", Token: a.token,
		Body: map[string]any{"name": fmt.Sprintf("tag %s", uuid.NewString()[:8])}})
	apptest.RequireStatus(t, r, http.StatusCreated)
	return r.Map(t)["id"].(string)
}

// login returns a fresh refresh token.
func (a *roundTripAccount) login(t *testing.T) string {
	t.Helper()
	r := a.s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/auth/login",
		Body: map[string]any{"email": a.email, "password": a.password}})
	apptest.RequireStatus(t, r, http.StatusOK)
	return r.Map(t)["refresh_token"].(string)
}

// offlineBatch is a batch of 100 commands, each of which succeeds, as a
// client sends what it queued offline: 10 projects, 10 tags and 30 tasks
// made with temp ids, 20 tasks updated and 10 moved, 10 tasks, 5
// projects (with their tasks) deleted and 5 recoloured. prefix keeps its
// uuids, temp ids and names apart from another batch's. bench/rtt.go
// sends the same batch.
func offlineBatch(prefix string) []map[string]any {
	var commands []map[string]any
	add := func(typ, temp string, args map[string]any) {
		c := map[string]any{"uuid": fmt.Sprintf("%s-%d", prefix, len(commands)), "type": typ, "args": args}
		if temp != "" {
			c["temp_id"] = temp
		}
		commands = append(commands, c)
	}
	temp := func(kind string, i int) string { return fmt.Sprintf("%s-%s%d", prefix, kind, i) }
	for i := range 10 {
		add("project.create", temp("p", i), map[string]any{"name": temp("project ", i)})
		add("tag.create", temp("g", i), map[string]any{"name": temp("tag ", i)})
	}
	for i := range 30 {
		add("task.create", temp("t", i), map[string]any{"title": temp("task ", i), "project_id": temp("p", i%10), "tag_ids": []string{temp("g", i%10)}})
	}
	for i := range 20 {
		add("task.update", "", map[string]any{"id": temp("t", i), "version": 1, "title": temp("renamed ", i), "completed": i%2 == 0})
	}
	for i := 20; i < 30; i++ {
		add("task.move", "", map[string]any{"id": temp("t", i), "project_id": temp("p", (i+1)%5), "after_id": nil})
	}
	for i := range 10 {
		add("task.delete", "", map[string]any{"id": temp("t", i)})
	}
	for i := range 5 {
		add("project.update", "", map[string]any{"id": temp("p", i), "color": "#336699"})
		add("project.delete", "", map[string]any{"id": temp("p", 5+i)})
	}
	return commands
}
