package routes_test

import (
	"bytes"
	"encoding/binary"
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
	"POST /tasks":     1, // one statement: the counter upsert that admits it under the cap, the INSERT, the event and its NOTIFY
	// The write records its answer under the key in its own statement.
	"POST /tasks with a key":      2, // the key's stored answer (none); the create's one statement, its answer recorded in it
	"POST /tasks, a key replayed": 1, // the key's stored answer, sent again
	"POST /tasks with 2 tag_ids":  1, // one statement: the tags checked and counted, the counter upsert, the INSERT, the links, the event
	"PUT /tasks/{id} new tags":    1, // one statement: the task and links read, the UPDATE if the version still matches, links removed and added, the event
	"PATCH /tasks/{id} If-Match":  1, // one statement: the version checked, the UPDATE (only if something changes), the tags read back, the event
	"DELETE /tasks/{id}":          1, // the DELETE, version check, count and event included (one statement)
	"GET /tags":                   1, // the tags with their task counts
	"POST /tags":                  1, // one statement: the counter upsert that admits it under the cap, the INSERT, the event
	"PATCH /tags/{id}":            1, // one statement: the UPDATE, the tag's task count, the event
	"DELETE /tags/{id}":           1, // the DELETE, its count and its event (links go by cascade)
	"POST /auth/login":            2, // the user by email; the token inserted with the sweep of expired ones (one statement)
	"POST /auth/refresh":          2, // the spend and the successor (one statement); the user
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
	ignoreBackgroundPolls(t, proxy)
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

// ignoreBackgroundPolls leaves uncounted the statements the server runs
// with no request in flight: the guard's poll of token revocations, every
// 100 ms on the same pool, would otherwise land inside some requests. They
// are learnt by listening to an idle server, by the name of the prepared
// statement each executes.
func ignoreBackgroundPolls(t *testing.T, proxy *latency.Proxy) {
	t.Helper()
	proxy.Reset()
	time.Sleep(400 * time.Millisecond)
	background := map[string]bool{}
	for _, req := range proxy.Requests() {
		name := boundStatement(req)
		if name == "" {
			t.Fatalf("the idle server sent a request that executes no prepared statement: %q", req)
		}
		background[name] = true
	}
	if len(background) == 0 {
		t.Fatal("the idle server ran no statement in 400 ms: is the revocation poll running?")
	}
	proxy.SetIgnore(func(req []byte) bool { return background[boundStatement(req)] })
}

// boundStatement is the prepared statement named by the first Bind message
// of a PostgreSQL client's request ("" if there is none, or it binds the
// unnamed statement). Each message is a type byte and a length that counts
// itself; a Bind starts with the portal's name and the statement's.
func boundStatement(req []byte) string {
	for len(req) >= 5 {
		size := int(binary.BigEndian.Uint32(req[1:5]))
		if size < 4 || len(req) < 1+size {
			return ""
		}
		body := req[5 : 1+size]
		if req[0] == 'B' {
			fields := bytes.SplitN(body, []byte{0}, 3)
			if len(fields) < 3 {
				return ""
			}
			return string(fields[1])
		}
		req = req[1+size:]
	}
	return ""
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
