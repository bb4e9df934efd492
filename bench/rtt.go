package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"taskflow/app/apptest/latency"
)

// maxRTTRequests bounds --rtt-requests: every request at a 20 ms RTT takes
// up to a few hundred milliseconds, and each is sent one at a time.
const maxRTTRequests = 200

// rttRequest is one request of the round-trip run; Body is sent as JSON.
type rttRequest struct {
	Method, Path, Token string
	Body                any
	Headers             map[string]string
}

// rttCase is one endpoint of the round-trip budget: prepare sets up a
// request (untimed) and status is the answer it must get.
type rttCase struct {
	name    string
	prepare func() (rttRequest, error)
	status  int
}

// rttSuite measures, request by request, how much an injected database
// round-trip time slows each endpoint of the round-trip budget: the server
// talks to PostgreSQL through a latency proxy, and every endpoint is timed
// sequentially at no added RTT and then at --rtt. The difference divided by
// the RTT is how many times a request waits for the database in practice.
func (b *bench) rttSuite(ctx context.Context, stdout io.Writer) error {
	scratch, err := b.scratchDatabase(ctx, "rtt", "taskflow_bench_rtt_")
	if err != nil {
		return err
	}
	defer scratch.drop()
	dbURL := scratch.url
	// Logins and refreshes are sent far more often than a person would,
	// and the one account makes more projects and tags than its caps allow
	// (each batch makes 10 of each).
	extra := map[string]string{"AUTH_RATE_LIMIT": "1000", "MAX_PROJECTS_PER_USER": "100000", "MAX_TAGS_PER_USER": "100000"}
	for k, v := range b.o.ServerEnv {
		extra[k] = v
	}
	env := serverEnv{DatabaseURL: dbURL, Production: true, JWTSecret: newSecret(), Extra: extra}
	if _, err := runMigrate(ctx, b.bin, env); err != nil {
		return err
	}

	target, err := latency.TargetOf(dbURL)
	if err != nil {
		return err
	}
	proxy, err := latency.Start(target, 0)
	if err != nil {
		return err
	}
	defer proxy.Close()
	if env.DatabaseURL, err = proxy.URL(dbURL); err != nil {
		return err
	}
	srv, err := startServer(ctx, b.bin, env)
	if err != nil {
		return err
	}
	defer srv.stop()

	a, err := newRTTAccount(ctx, srv.URL)
	if err != nil {
		return err
	}
	cases := a.cases()
	rtts := []time.Duration{0, b.o.RTT}
	medians := make([][]float64, len(rtts))
	for i, rtt := range rtts {
		proxy.SetRTT(rtt)
		b.logf("rtt: %d sequential requests per endpoint at an added RTT of %s", b.o.RTTRequests, rtt)
		if medians[i], err = a.timeCases(cases, b.o.RTTRequests); err != nil {
			return fmt.Errorf("%w; server output:\n%s", err, srv.p.Output())
		}
	}
	printRTTTable(stdout, b.o, cases, medians)
	return nil
}

// timeCases sends each case once to warm it (statements prepared, pool
// connections open), then n times one at a time, and returns each case's
// median in milliseconds.
func (a *rttAccount) timeCases(cases []rttCase, n int) ([]float64, error) {
	for _, c := range cases {
		if _, err := a.sendCase(c); err != nil {
			return nil, err
		}
	}
	medians := make([]float64, len(cases))
	for i, c := range cases {
		var ms []float64
		for range n {
			d, err := a.sendCase(c)
			if err != nil {
				return nil, err
			}
			ms = append(ms, float64(d.Microseconds())/1000)
		}
		medians[i] = median(ms)
	}
	return medians, nil
}

// sendCase prepares the case's request, then sends it and times it alone.
func (a *rttAccount) sendCase(c rttCase) (time.Duration, error) {
	req, err := c.prepare()
	if err != nil {
		return 0, fmt.Errorf("%s: prepare: %w", c.name, err)
	}
	start := time.Now()
	status, body, err := a.do(req)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.name, err)
	}
	if status != c.status {
		return 0, fmt.Errorf("%s: status %d, want %d; body: %.300s", c.name, status, c.status, body)
	}
	return took, nil
}

func printRTTTable(w io.Writer, o options, cases []rttCase, medians [][]float64) {
	pool := "the default pool (DB_MAX_OPEN_CONNS=12, DB_MAX_IDLE_CONNS=10)"
	if len(o.ServerEnv) > 0 {
		pool = fmt.Sprintf("the default pool except %v", map[string]string(o.ServerEnv))
	}
	fmt.Fprintf(w, "\nProduction server on PostgreSQL through a latency proxy, %s; %d sequential requests per endpoint on warm connections; medians.\n\n",
		pool, o.RTTRequests)
	fmt.Fprintf(w, "| endpoint | median at 0 | median at %s | effective round trips |\n", o.RTT)
	fmt.Fprintln(w, "|---|---:|---:|---:|")
	rttMS := float64(o.RTT.Microseconds()) / 1000
	for i, c := range cases {
		at0, atRTT := medians[0][i], medians[1][i]
		fmt.Fprintf(w, "| %s | %.1f ms | %.1f ms | %.1f |\n", c.name, at0, atRTT, (atRTT-at0)/rttMS)
	}
}

// rttAccount is a registered user with tasks and tags to work on, as the
// round-trip budget test sets up.
type rttAccount struct {
	ctx        context.Context
	client     *http.Client
	base       string
	email      string
	password   string
	token      string
	tagA, tagB string
	listedTask string
	// projectA and projectB hold tasks; parentID is a task of projectA.
	projectA, projectB string
	parentID           string
	made               int
	batches            int
}

// registerAccount registers a new user on the server at base.
func registerAccount(ctx context.Context, base string) (*rttAccount, error) {
	a := &rttAccount{ctx: ctx, client: &http.Client{Timeout: 30 * time.Second}, base: base,
		email: "rtt-" + randomHex(4) + "@example.com", password: "correct horse battery"}
	reg, err := a.expect(rttRequest{Method: http.MethodPost, Path: "/api/v1/auth/register",
		Body: map[string]any{"email": a.email, "password": a.password}}, http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	a.token, _ = reg["access_token"].(string)
	return a, nil
}

func newRTTAccount(ctx context.Context, base string) (*rttAccount, error) {
	a, err := registerAccount(ctx, base)
	if err != nil {
		return nil, err
	}
	if a.tagA, err = a.newTag(); err != nil {
		return nil, err
	}
	if a.tagB, err = a.newTag(); err != nil {
		return nil, err
	}
	// A page of tagged and untagged tasks, so the list reads tags.
	for i := range 5 {
		tags := []string{a.tagA}
		if i%2 == 0 {
			tags = append(tags, a.tagB)
		}
		if a.listedTask, err = a.newTask(tags); err != nil {
			return nil, err
		}
	}
	if a.projectA, err = a.newProject(); err != nil {
		return nil, err
	}
	if a.projectB, err = a.newProject(); err != nil {
		return nil, err
	}
	if a.parentID, err = a.newTaskIn(map[string]any{"project_id": a.projectA}); err != nil {
		return nil, err
	}
	for range 3 {
		if _, err := a.newTaskIn(map[string]any{"parent_id": a.parentID}); err != nil {
			return nil, err
		}
		if _, err := a.newTaskIn(map[string]any{"project_id": a.projectA}); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// cases are the endpoints of routes/roundtrips_test.go, by the same names.
func (a *rttAccount) cases() []rttCase {
	authed := func(method, path string, body any, headers map[string]string) rttRequest {
		return rttRequest{Method: method, Path: path, Token: a.token, Body: body, Headers: headers}
	}
	fixed := func(r rttRequest) func() (rttRequest, error) {
		return func() (rttRequest, error) { return r, nil }
	}
	return []rttCase{
		{"GET /tasks", fixed(authed(http.MethodGet, "/api/v1/tasks", nil, nil)), http.StatusOK},
		{"GET /tasks/{id}", fixed(authed(http.MethodGet, "/api/v1/tasks/"+a.listedTask, nil, nil)), http.StatusOK},
		{"POST /tasks", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()}, nil), nil
		}, http.StatusCreated},
		{"POST /tasks with a key", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()},
				map[string]string{"Idempotency-Key": a.nextKey()}), nil
		}, http.StatusCreated},
		{"POST /tasks, a key replayed", func() (rttRequest, error) {
			req := authed(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle()},
				map[string]string{"Idempotency-Key": a.nextKey()})
			_, err := a.expect(req, http.StatusCreated)
			return req, err
		}, http.StatusCreated},
		{"POST /tasks with 2 tag_ids", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle(), "tag_ids": []string{a.tagA, a.tagB}}, nil), nil
		}, http.StatusCreated},
		{"PUT /tasks/{id} new tags", func() (rttRequest, error) {
			id, err := a.newTask([]string{a.tagA})
			return authed(http.MethodPut, "/api/v1/tasks/"+id, map[string]any{"title": "replaced", "tag_ids": []string{a.tagB}}, nil), err
		}, http.StatusOK},
		{"PATCH /tasks/{id} If-Match", func() (rttRequest, error) {
			id, err := a.newTask(nil)
			return authed(http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"title": "patched"}, map[string]string{"If-Match": `"1"`}), err
		}, http.StatusOK},
		{"DELETE /tasks/{id}", func() (rttRequest, error) {
			id, err := a.newTask(nil)
			return authed(http.MethodDelete, "/api/v1/tasks/"+id, nil, nil), err
		}, http.StatusNoContent},
		{"GET /tags", fixed(authed(http.MethodGet, "/api/v1/tags", nil, nil)), http.StatusOK},
		{"POST /tags", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/tags", map[string]any{"name": a.nextTitle()}, nil), nil
		}, http.StatusCreated},
		{"PATCH /tags/{id}", func() (rttRequest, error) {
			id, err := a.newTag()
			return authed(http.MethodPatch, "/api/v1/tags/"+id, map[string]any{"name": a.nextTitle(), "color": "#112233"}, nil), err
		}, http.StatusOK},
		{"DELETE /tags/{id}", func() (rttRequest, error) {
			id, err := a.newTag()
			return authed(http.MethodDelete, "/api/v1/tags/"+id, nil, nil), err
		}, http.StatusNoContent},
		{"GET /projects", fixed(authed(http.MethodGet, "/api/v1/projects", nil, nil)), http.StatusOK},
		{"GET /projects/{id}", func() (rttRequest, error) {
			return authed(http.MethodGet, "/api/v1/projects/"+a.projectA, nil, nil), nil
		}, http.StatusOK},
		{"POST /projects", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/projects", map[string]any{"name": a.nextTitle()}, nil), nil
		}, http.StatusCreated},
		{"PATCH /projects/{id}", func() (rttRequest, error) {
			id, err := a.newProject()
			return authed(http.MethodPatch, "/api/v1/projects/"+id, map[string]any{"name": a.nextTitle()}, map[string]string{"If-Match": `"1"`}), err
		}, http.StatusOK},
		{"POST /projects/{id}/move", func() (rttRequest, error) {
			id, err := a.newProject()
			return authed(http.MethodPost, "/api/v1/projects/"+id+"/move", map[string]any{"after_id": a.projectA}, nil), err
		}, http.StatusOK},
		{"DELETE /projects/{id}", func() (rttRequest, error) {
			id, err := a.newProject()
			if err == nil {
				_, err = a.newTaskIn(map[string]any{"project_id": id})
			}
			return authed(http.MethodDelete, "/api/v1/projects/"+id, nil, nil), err
		}, http.StatusNoContent},
		{"POST /tasks/{id}/move", func() (rttRequest, error) {
			id, err := a.newTaskIn(map[string]any{"project_id": a.projectA})
			if err == nil {
				_, err = a.newTaskIn(map[string]any{"parent_id": id})
			}
			return authed(http.MethodPost, "/api/v1/tasks/"+id+"/move", map[string]any{"project_id": a.projectB, "after_id": nil}, nil), err
		}, http.StatusOK},
		{"POST /tasks under a parent", func() (rttRequest, error) {
			return authed(http.MethodPost, "/api/v1/tasks", map[string]any{"title": a.nextTitle(), "parent_id": a.parentID}, nil), nil
		}, http.StatusCreated},
		{"PATCH /tasks/{id} to another project", func() (rttRequest, error) {
			id, err := a.newTaskIn(map[string]any{"project_id": a.projectA})
			return authed(http.MethodPatch, "/api/v1/tasks/"+id, map[string]any{"project_id": a.projectB}, nil), err
		}, http.StatusOK},
		{"GET /tasks in a project by position", func() (rttRequest, error) {
			return authed(http.MethodGet, "/api/v1/tasks?sort=position&project_id="+a.projectA, nil, nil), nil
		}, http.StatusOK},
		{"GET /sync", fixed(authed(http.MethodGet, "/api/v1/sync?limit=100", nil, nil)), http.StatusOK},
		{"POST /batch (100 commands)", func() (rttRequest, error) {
			a.batches++
			return authed(http.MethodPost, "/api/v1/batch", map[string]any{"commands": offlineBatch(fmt.Sprintf("rtt%d", a.batches))}, nil), nil
		}, http.StatusOK},
		{"POST /auth/login", fixed(rttRequest{Method: http.MethodPost, Path: "/api/v1/auth/login",
			Body: map[string]any{"email": a.email, "password": a.password}}), http.StatusOK},
		{"POST /auth/refresh", func() (rttRequest, error) {
			token, err := a.refreshToken()
			return rttRequest{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": token}}, err
		}, http.StatusOK},
	}
}

// offlineBatch is the batch of routes/roundtrips_test.go's "POST /batch
// (100 commands)": 10 projects, 10 tags and 30 tasks made with temp ids,
// 20 tasks updated and 10 moved, 10 tasks, 5 projects (with their tasks)
// deleted and 5 recoloured, each of which succeeds. prefix keeps its
// uuids, temp ids and names apart from another batch's.
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

// nextKey is a new Idempotency-Key: visible ASCII, no space.
func (a *rttAccount) nextKey() string {
	a.made++
	return "rtt-" + strconv.Itoa(a.made)
}

func (a *rttAccount) nextTitle() string {
	a.made++
	return "item " + strconv.Itoa(a.made)
}

func (a *rttAccount) newTask(tagIDs []string) (string, error) {
	body := map[string]any{"title": a.nextTitle()}
	if tagIDs != nil {
		body["tag_ids"] = tagIDs
	}
	return a.createdID(rttRequest{Method: http.MethodPost, Path: "/api/v1/tasks", Token: a.token, Body: body})
}

// newTaskIn creates a task with the given fields besides its title.
func (a *rttAccount) newTaskIn(fields map[string]any) (string, error) {
	body := map[string]any{"title": a.nextTitle()}
	for k, v := range fields {
		body[k] = v
	}
	return a.createdID(rttRequest{Method: http.MethodPost, Path: "/api/v1/tasks", Token: a.token, Body: body})
}

func (a *rttAccount) newProject() (string, error) {
	return a.createdID(rttRequest{Method: http.MethodPost, Path: "/api/v1/projects", Token: a.token,
		Body: map[string]any{"name": a.nextTitle()}})
}

func (a *rttAccount) newTag() (string, error) {
	return a.createdID(rttRequest{Method: http.MethodPost, Path: "/api/v1/tags", Token: a.token,
		Body: map[string]any{"name": "tag " + randomHex(4)}})
}

func (a *rttAccount) createdID(req rttRequest) (string, error) {
	m, err := a.expect(req, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	id, _ := m["id"].(string)
	return id, nil
}

// refreshToken logs in for a fresh refresh token.
func (a *rttAccount) refreshToken() (string, error) {
	m, err := a.expect(rttRequest{Method: http.MethodPost, Path: "/api/v1/auth/login",
		Body: map[string]any{"email": a.email, "password": a.password}}, http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	token, _ := m["refresh_token"].(string)
	return token, nil
}

// expect sends req and decodes the JSON object it answers with status.
func (a *rttAccount) expect(req rttRequest, status int) (map[string]any, error) {
	got, body, err := a.do(req)
	if err != nil {
		return nil, err
	}
	if got != status {
		return nil, fmt.Errorf("status %d, want %d; body: %.300s", got, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("answer is not a JSON object: %w", err)
	}
	return m, nil
}

func (a *rttAccount) do(r rttRequest) (int, []byte, error) {
	var body io.Reader
	if r.Body != nil {
		data, err := json.Marshal(r.Body)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(a.ctx, r.Method, a.base+r.Path, body)
	if err != nil {
		return 0, nil, err
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}
