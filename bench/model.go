package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest/latency"
	"taskflow/database"
)

// modelSize is how much the model run does; --quick makes it small.
type modelSize struct {
	Tasks       int // in the project listed, synced and deleted: a multiple of 100
	Moves       int // into one gap
	ListTimes   int // list requests timed, after ListWarmUp
	ListWarmUp  int
	BatchTimes  int // batches timed at each RTT
	SingleTimes int // runs of the 100 commands as single requests
}

var (
	fullModel  = modelSize{Tasks: 10000, Moves: 10000, ListTimes: 200, ListWarmUp: 20, BatchTimes: 5, SingleTimes: 2}
	quickModel = modelSize{Tasks: 500, Moves: 200, ListTimes: 20, ListWarmUp: 5, BatchTimes: 1, SingleTimes: 1}
)

const (
	modelMovers   = 10 // tasks moved in turn, so that each move lands in the same gap
	modelBatchRTT = 20 * time.Millisecond
)

func (b *bench) modelSize() modelSize {
	if b.o.Quick {
		return quickModel
	}
	return fullModel
}

// modelSuite measures the task model through the API on PostgreSQL and on
// SQLite: moves into one gap, a project's list in manual order, its
// deletion, a sync from the start, batches against single requests, and
// what a tombstone costs.
func (b *bench) modelSuite(ctx context.Context, stdout io.Writer) error {
	if b.o.Postgres {
		if err := b.modelPostgres(ctx, stdout); err != nil {
			return fmt.Errorf("model on postgres: %w", err)
		}
	}
	if err := b.modelSQLite(ctx, stdout); err != nil {
		return fmt.Errorf("model on sqlite: %w", err)
	}
	return nil
}

// modelEnv is the server's environment of the model run: every part
// registers a user of its own, more than the sign-up limit lets one
// client do in a minute.
func (b *bench) modelEnv(dbURL string, production bool) serverEnv {
	extra := map[string]string{"AUTH_RATE_LIMIT": "1000"}
	for k, v := range b.o.ServerEnv {
		extra[k] = v
	}
	return serverEnv{DatabaseURL: dbURL, Production: production, JWTSecret: newSecret(), Extra: extra}
}

// queryTimeout is the server's DB_QUERY_TIMEOUT: its default unless
// --server-env sets it.
func (b *bench) queryTimeout() time.Duration {
	if d, err := time.ParseDuration(b.o.ServerEnv["DB_QUERY_TIMEOUT"]); err == nil {
		return d
	}
	return 5 * time.Second
}

func (b *bench) modelPostgres(ctx context.Context, stdout io.Writer) error {
	scratch, err := b.scratchDatabase(ctx, "model", "taskflow_bench_model_")
	if err != nil {
		return err
	}
	defer scratch.drop()
	admin, name, dbURL := scratch.admin, scratch.name, scratch.url
	env := b.modelEnv(dbURL, true)
	if _, err := runMigrate(ctx, b.bin, env); err != nil {
		return err
	}
	db, err := openDatabase(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer database.Close(db)
	m := &modelRun{b: b, size: b.modelSize(), suite: "postgres", db: db, postgres: true}
	m.explainList = func(a *rttAccount, project string) error {
		return m.explainListPlans(ctx, admin, name, env, a, project)
	}
	if err := m.direct(ctx, env); err != nil {
		return err
	}
	if err := m.batchesAtRTT(ctx, env); err != nil {
		return err
	}
	m.print(stdout)
	return nil
}

func (b *bench) modelSQLite(ctx context.Context, stdout io.Writer) error {
	dbURL := "sqlite://" + filepath.Join(b.work, "bench-model.db")
	db, err := openDatabase(ctx, dbURL, 0)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if err := database.Migrate(ctx, db, database.MigrateOptions{}); err != nil {
		return err
	}
	m := &modelRun{b: b, size: b.modelSize(), suite: "sqlite", db: db}
	if err := m.direct(ctx, b.modelEnv(dbURL, false)); err != nil {
		return err
	}
	m.print(stdout)
	return nil
}

// modelRun is one engine's run and what it measured.
type modelRun struct {
	b        *bench
	size     modelSize
	suite    string
	db       *gorm.DB // the same database, for what only it can tell
	postgres bool

	moveLatencies []time.Duration
	longestKey    int
	longestAt     int // the move after which the longest key was first seen
	finalKey      int

	seedBatches []time.Duration // the 100 batches of creates that filled the project
	list        []time.Duration
	listBytes   int
	listSQL     statement
	plans       []namedPlan

	syncTotal  time.Duration
	syncBytes  int
	syncPages  int
	syncTasks  int
	syncFull   bool
	deleteTook time.Duration
	tombstones tombstoneCost
	batches    []batchTiming

	// explainList, when set, is called with the filled project's owner
	// and id before the project is synced and deleted.
	explainList func(a *rttAccount, project string) error
}

type namedPlan struct {
	Name string
	Plan []string
}

// tombstoneCost is what deleting a project's tasks added to the
// tombstones' storage.
type tombstoneCost struct {
	Rows, Bytes int64
	How         string
}

// batchTiming is one way of sending commands at one RTT.
type batchTiming struct {
	Name  string
	RTT   time.Duration
	Times []time.Duration
}

// direct runs every part that needs no injected latency on a server that
// talks to the database directly.
func (m *modelRun) direct(ctx context.Context, env serverEnv) error {
	srv, err := startServer(ctx, m.b.bin, env)
	if err != nil {
		return err
	}
	defer func() {
		srv.stop()
		m.b.reportServerLog("model "+m.suite, srv)
	}()
	if err := m.moves(ctx, srv.URL); err != nil {
		return fmt.Errorf("moves: %w; server output:\n%s", err, srv.p.Output())
	}
	if err := m.bigProject(ctx, srv.URL); err != nil {
		return fmt.Errorf("a project of %d tasks: %w; server output:\n%s", m.size.Tasks, err, srv.p.Output())
	}
	if !m.postgres { // PostgreSQL's batches are timed through the latency proxy
		a, err := registerAccount(ctx, srv.URL)
		if err != nil {
			return err
		}
		return m.batchTimings(a, 0)
	}
	return nil
}

// moves makes a project with a first task and modelMovers more, then
// moves them in turn right after the first task: each move lands between
// the first task and the task moved before it, the same gap every time.
func (m *modelRun) moves(ctx context.Context, base string) error {
	a, err := registerAccount(ctx, base)
	if err != nil {
		return err
	}
	project, err := a.newProject()
	if err != nil {
		return err
	}
	first, err := a.newTaskIn(map[string]any{"project_id": project})
	if err != nil {
		return err
	}
	movers := make([]string, modelMovers)
	for i := range movers {
		if movers[i], err = a.newTaskIn(map[string]any{"project_id": project}); err != nil {
			return err
		}
	}
	m.b.logf("model %s: %d moves into one gap", m.suite, m.size.Moves)
	for i := range m.size.Moves {
		req := rttRequest{Method: http.MethodPost, Path: "/api/v1/tasks/" + movers[i%modelMovers] + "/move",
			Token: a.token, Body: map[string]any{"after_id": first}}
		start := time.Now()
		task, err := a.expect(req, http.StatusOK)
		if err != nil {
			return fmt.Errorf("move %d: %w", i+1, err)
		}
		m.moveLatencies = append(m.moveLatencies, time.Since(start))
		key, _ := task["position"].(string)
		if len(key) > m.longestKey {
			m.longestKey, m.longestAt = len(key), i+1
		}
		m.finalKey = len(key)
	}
	return checkOrder(a, project, first, movers[(m.size.Moves-1)%modelMovers])
}

// checkOrder holds the moves to what they were for: the project in
// manual order starts with first, then the task moved last.
func checkOrder(a *rttAccount, project, first, lastMoved string) error {
	page, err := a.expect(rttRequest{Method: http.MethodGet, Path: "/api/v1/tasks?sort=position&project_id=" + project, Token: a.token}, http.StatusOK)
	if err != nil {
		return err
	}
	items, _ := page["items"].([]any)
	var ids []string
	for _, it := range items {
		task, _ := it.(map[string]any)
		id, _ := task["id"].(string)
		ids = append(ids, id)
	}
	if len(ids) < 2 || ids[0] != first || ids[1] != lastMoved {
		return fmt.Errorf("after the moves the project starts %v, want %s then %s", ids[:min(2, len(ids))], first, lastMoved)
	}
	return nil
}

// bigProject fills a project with size.Tasks tasks through batches, a
// tenth of them subtasks two levels deep, then lists it in manual order,
// syncs the user from the start, deletes the project and weighs the
// tombstones that left.
func (m *modelRun) bigProject(ctx context.Context, base string) error {
	a, err := registerAccount(ctx, base)
	if err != nil {
		return err
	}
	project, err := a.newProject()
	if err != nil {
		return err
	}
	m.b.logf("model %s: %d tasks into one project, 100 a batch", m.suite, m.size.Tasks)
	for n := 0; n < m.size.Tasks; n += 100 {
		took, err := a.sendBatch(projectBatch(fmt.Sprintf("p%d", n), project))
		if err != nil {
			return err
		}
		m.seedBatches = append(m.seedBatches, took)
	}
	list := rttRequest{Method: http.MethodGet, Path: "/api/v1/tasks?sort=position&project_id=" + project, Token: a.token}
	m.listSQL.SQL = list.Path // replaced by the statement when PostgreSQL's log is read
	for i := range m.size.ListWarmUp + m.size.ListTimes {
		start := time.Now()
		status, body, err := a.do(list)
		took := time.Since(start)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("list: status %d, %v: %.300s", status, err, body)
		}
		if i >= m.size.ListWarmUp {
			m.list = append(m.list, took)
		}
		m.listBytes = len(body)
	}
	if m.explainList != nil {
		if err := m.explainList(a, project); err != nil {
			return err
		}
	}
	m.b.logf("model %s: sync from cursor 0", m.suite)
	if err := m.syncAll(a); err != nil {
		return err
	}
	before, err := m.tombstoneStorage(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, _, err := a.expectStatus(rttRequest{Method: http.MethodDelete, Path: "/api/v1/projects/" + project, Token: a.token}, http.StatusNoContent); err != nil {
		return fmt.Errorf("delete the project: %w", err)
	}
	m.deleteTook = time.Since(start)
	after, err := m.tombstoneStorage(ctx)
	if err != nil {
		return err
	}
	m.tombstones = tombstoneCost{Rows: after.Rows - before.Rows, Bytes: after.Bytes - before.Bytes, How: after.How}
	return nil
}

// projectBatch is 100 creates into project: 90 tasks, 5 subtasks of the
// first five and a subtask of each of those.
func projectBatch(prefix, project string) []map[string]any {
	var commands []map[string]any
	add := func(temp string, args map[string]any) {
		args["title"] = prefix + " " + temp
		commands = append(commands, map[string]any{"uuid": prefix + "-" + temp, "type": "task.create", "temp_id": prefix + "-" + temp, "args": args})
	}
	for i := range 90 {
		add(fmt.Sprintf("t%d", i), map[string]any{"project_id": project})
	}
	for i := range 5 {
		add(fmt.Sprintf("s%d", i), map[string]any{"project_id": project, "parent_id": fmt.Sprintf("%s-t%d", prefix, i)})
	}
	for i := range 5 {
		add(fmt.Sprintf("g%d", i), map[string]any{"project_id": project, "parent_id": fmt.Sprintf("%s-s%d", prefix, i)})
	}
	return commands
}

// syncAll pages through GET /sync from cursor 0 to its end.
func (m *modelRun) syncAll(a *rttAccount) error {
	cursor := "0"
	start := time.Now()
	for {
		status, body, err := a.do(rttRequest{Method: http.MethodGet, Path: "/api/v1/sync?cursor=" + cursor, Token: a.token})
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("sync: status %d, %v: %.300s", status, err, body)
		}
		var page struct {
			Cursor  string            `json:"cursor"`
			Full    bool              `json:"full"`
			HasMore bool              `json:"has_more"`
			Tasks   []json.RawMessage `json:"tasks"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
		m.syncPages++
		m.syncBytes += len(body)
		m.syncTasks += len(page.Tasks)
		m.syncFull = m.syncFull || page.Full
		if !page.HasMore {
			break
		}
		if page.Cursor == cursor {
			return fmt.Errorf("sync: has_more with the same cursor %s", cursor)
		}
		cursor = page.Cursor
	}
	m.syncTotal = time.Since(start)
	return nil
}

// tombstoneStorage is the tombstones' rows and the bytes of the table and
// its indexes: pg_total_relation_size on PostgreSQL, the pages dbstat
// counts on SQLite.
func (m *modelRun) tombstoneStorage(ctx context.Context) (tombstoneCost, error) {
	db := m.db.WithContext(ctx)
	var c tombstoneCost
	if err := db.Raw("SELECT count(*) FROM tombstones").Scan(&c.Rows).Error; err != nil {
		return c, err
	}
	if m.postgres {
		c.How = "pg_total_relation_size('tombstones')"
		return c, db.Raw("SELECT pg_total_relation_size('tombstones')").Scan(&c.Bytes).Error
	}
	c.How = "dbstat: pages of tombstones and its indexes"
	err := db.Raw(`SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN
		(SELECT name FROM sqlite_master WHERE tbl_name = 'tombstones')`).Scan(&c.Bytes).Error
	return c, err
}

// explainList captures the statement the server runs for the project's
// list in manual order (from PostgreSQL's log, as the load run captures
// its statements) and shows the plans PostgreSQL makes of it with the
// same parameters: the custom plan of those values, and the generic plan
// the server's prepared statement keeps after five executions.
func (m *modelRun) explainListPlans(ctx context.Context, admin *gorm.DB, dbName string, env serverEnv, a *rttAccount, project string) error {
	logPath, err := findServerLog(ctx, admin, m.b.o.PgLog)
	if err != nil {
		m.b.logf("model: %v: the list's plan is not shown", err)
		return nil
	}
	// The statistics autovacuum would gather within a minute of the
	// 10,000 inserts, so the plan is the one a settled database makes.
	if err := m.db.WithContext(ctx).Exec("ANALYZE").Error; err != nil {
		return err
	}
	path := "/api/v1/tasks?sort=position&project_id=" + project
	caps, err := captureStatements(ctx, admin, statementLog{path: logPath, dbName: dbName}, m.b.bin, env,
		[]workload{{Name: "list", Requests: []request{{Method: http.MethodGet, Path: path, Token: a.token}}}})
	if err != nil {
		return err
	}
	for _, st := range caps["list"][0].Statements {
		if strings.Contains(st.SQL, "FROM tasks") && len(st.SQL) > len(m.listSQL.SQL) {
			m.listSQL = st
		}
	}
	if len(m.listSQL.Params) == 0 {
		return fmt.Errorf("no list statement with parameters in %s", logPath)
	}
	custom, err := explain(ctx, m.db, "EXPLAIN (ANALYZE, BUFFERS) "+m.listSQL.Literal())
	if err != nil {
		return fmt.Errorf("explain the list: %w", err)
	}
	m.plans = append(m.plans, namedPlan{"custom plan (the parameters written in)", custom})
	generic, err := explainGeneric(ctx, m.db, m.listSQL)
	if err != nil {
		return fmt.Errorf("explain the list's generic plan: %w", err)
	}
	m.plans = append(m.plans, namedPlan{"generic plan (plan_cache_mode = force_generic_plan, PREPARE, EXECUTE)", generic})
	return nil
}

func explain(ctx context.Context, db *gorm.DB, sql string) ([]string, error) {
	var lines []string
	return lines, db.WithContext(ctx).Raw(sql).Scan(&lines).Error
}

// explainGeneric prepares st on one connection with generic plans forced
// and explains its execution with st's parameters.
func explainGeneric(ctx context.Context, db *gorm.DB, st statement) ([]string, error) {
	var lines []string
	err := db.WithContext(ctx).Connection(func(tx *gorm.DB) error {
		defer tx.Exec("DEALLOCATE ALL")
		defer tx.Exec("RESET plan_cache_mode")
		if err := tx.Exec("SET plan_cache_mode = force_generic_plan").Error; err != nil {
			return err
		}
		if err := tx.Exec("PREPARE bench_list AS " + st.SQL).Error; err != nil {
			return err
		}
		return tx.Raw("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_list(" + strings.Join(st.Params, ", ") + ")").Scan(&lines).Error
	})
	return lines, err
}

// batchesAtRTT times the batches on a second server that talks to the
// same database through the latency proxy, at no added RTT and at
// modelBatchRTT.
func (m *modelRun) batchesAtRTT(ctx context.Context, env serverEnv) error {
	target, err := latency.TargetOf(env.DatabaseURL)
	if err != nil {
		return err
	}
	proxy, err := latency.Start(target, 0)
	if err != nil {
		return err
	}
	defer proxy.Close()
	if env.DatabaseURL, err = proxy.URL(env.DatabaseURL); err != nil {
		return err
	}
	srv, err := startServer(ctx, m.b.bin, env)
	if err != nil {
		return err
	}
	defer srv.stop()
	for _, rtt := range []time.Duration{0, modelBatchRTT} {
		proxy.SetRTT(rtt)
		a, err := registerAccount(ctx, srv.URL)
		if err != nil {
			return err
		}
		if err := m.batchTimings(a, rtt); err != nil {
			return fmt.Errorf("%w; server output:\n%s", err, srv.p.Output())
		}
	}
	return nil
}

// batchTimings times the mixed batch of 100 commands, the same commands
// as single requests, and a batch of 100 creates, each after one untimed
// warm-up.
func (m *modelRun) batchTimings(a *rttAccount, rtt time.Duration) error {
	m.b.logf("model %s: batches at an added RTT of %s", m.suite, rtt)
	project, err := a.newProject()
	if err != nil {
		return err
	}
	ways := []struct {
		name  string
		times int
		send  func(prefix string) (time.Duration, error)
	}{
		{"POST /batch, 100 mixed commands", m.size.BatchTimes, func(p string) (time.Duration, error) {
			return a.sendBatch(offlineBatch(p))
		}},
		{"the same 100 commands as single requests", m.size.SingleTimes, func(p string) (time.Duration, error) {
			return a.sendAsRequests(offlineBatch(p))
		}},
		{"POST /batch, 100 creates", m.size.BatchTimes, func(p string) (time.Duration, error) {
			return a.sendBatch(createBatch(p, project))
		}},
	}
	for _, w := range ways {
		t := batchTiming{Name: w.name, RTT: rtt}
		for i := range w.times + 1 {
			took, err := w.send(fmt.Sprintf("%s-%d-%d-%s", m.suite, rtt.Milliseconds(), i, randomHex(2)))
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			if i > 0 {
				t.Times = append(t.Times, took)
			}
		}
		m.batches = append(m.batches, t)
	}
	return nil
}

// createBatch is 100 task creates into project.
func createBatch(prefix, project string) []map[string]any {
	commands := make([]map[string]any, 100)
	for i := range commands {
		commands[i] = map[string]any{"uuid": fmt.Sprintf("%s-%d", prefix, i), "type": "task.create",
			"args": map[string]any{"title": fmt.Sprintf("%s task %d", prefix, i), "project_id": project}}
	}
	return commands
}

// sendBatch posts commands as one batch and checks every result succeeded.
func (a *rttAccount) sendBatch(commands []map[string]any) (time.Duration, error) {
	start := time.Now()
	status, body, err := a.do(rttRequest{Method: http.MethodPost, Path: "/api/v1/batch", Token: a.token,
		Body: map[string]any{"commands": commands}})
	took := time.Since(start)
	if err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("batch: status %d, %v: %.300s", status, err, body)
	}
	var answer struct {
		Results []struct {
			UUID   string          `json:"uuid"`
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("batch: %w", err)
	}
	if len(answer.Results) != len(commands) {
		return 0, fmt.Errorf("batch: %d results for %d commands", len(answer.Results), len(commands))
	}
	for _, r := range answer.Results {
		if r.Status >= 300 {
			return 0, fmt.Errorf("batch: command %s: %d %s", r.UUID, r.Status, r.Error)
		}
	}
	return took, nil
}

// sendAsRequests sends each command as the request it stands for, one at
// a time, temp ids replaced by the ids the creates answered with, and
// returns the time of all of them.
func (a *rttAccount) sendAsRequests(commands []map[string]any) (time.Duration, error) {
	ids := map[string]string{}
	var total time.Duration
	for _, c := range commands {
		req, status, err := commandRequest(c, ids)
		if err != nil {
			return 0, err
		}
		req.Token = a.token
		start := time.Now()
		got, _, err := a.expectStatus(req, status)
		total += time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
		}
		if temp, _ := c["temp_id"].(string); temp != "" {
			id, _ := got["id"].(string)
			ids[temp] = id
		}
	}
	return total, nil
}

// commandRequest is the request a batch command stands for, and the
// status it answers with.
func commandRequest(c map[string]any, ids map[string]string) (rttRequest, int, error) {
	typ, _ := c["type"].(string)
	args := map[string]any{}
	for k, v := range c["args"].(map[string]any) {
		args[k] = resolveTemp(v, ids)
	}
	id, _ := args["id"].(string)
	delete(args, "id")
	headers := map[string]string{}
	if v, ok := args["version"]; ok {
		headers["If-Match"] = fmt.Sprintf(`"%v"`, v)
		delete(args, "version")
	}
	kind, verb, _ := strings.Cut(typ, ".")
	collection := "/api/v1/" + kind + "s"
	req := rttRequest{Body: args, Headers: headers}
	switch verb {
	case "create":
		req.Method, req.Path = http.MethodPost, collection
		return req, http.StatusCreated, nil
	case "update":
		req.Method, req.Path = http.MethodPatch, collection+"/"+id
		return req, http.StatusOK, nil
	case "move":
		req.Method, req.Path = http.MethodPost, collection+"/"+id+"/move"
		return req, http.StatusOK, nil
	case "delete":
		req.Method, req.Path, req.Body = http.MethodDelete, collection+"/"+id, nil
		return req, http.StatusNoContent, nil
	}
	return req, 0, fmt.Errorf("command type %q", typ)
}

// resolveTemp replaces temp ids in a command's argument with real ids.
func resolveTemp(v any, ids map[string]string) any {
	switch v := v.(type) {
	case string:
		if id, ok := ids[v]; ok {
			return id
		}
	case []string:
		out := make([]string, len(v))
		for i, s := range v {
			out[i] = resolveTemp(s, ids).(string)
		}
		return out
	}
	return v
}

// expectStatus sends req and wants status; the answer's JSON object comes
// back when it has one.
func (a *rttAccount) expectStatus(req rttRequest, status int) (map[string]any, []byte, error) {
	got, body, err := a.do(req)
	if err != nil {
		return nil, nil, err
	}
	if got != status {
		return nil, body, fmt.Errorf("status %d, want %d; body: %.300s", got, status, body)
	}
	var m map[string]any
	if len(body) > 0 {
		_ = json.Unmarshal(body, &m)
	}
	return m, body, nil
}

func (m *modelRun) print(w io.Writer) {
	sorted := func(ds []time.Duration) []time.Duration {
		out := slices.Clone(ds)
		slices.Sort(out)
		return out
	}
	fmt.Fprintf(w, "\nTask model on %s, through the API, one request at a time:\n\n", m.suite)
	mv := sorted(m.moveLatencies)
	fmt.Fprintf(w, "- %d moves into one gap: longest position %d bytes (first at move %d), %d after the last; move p50 %s, p99 %s\n",
		len(mv), m.longestKey, m.longestAt, m.finalKey, ms(percentileOf(mv, 0.5)), ms(percentileOf(mv, 0.99)))
	sb := sorted(m.seedBatches)
	tenth := max(1, len(m.seedBatches)/10)
	fmt.Fprintf(w, "- the project filled by %d batches of 100 creates: p50 %s, p99 %s a batch; median of the first tenth %s, of the last %s\n",
		len(sb), ms(percentileOf(sb, 0.5)), ms(percentileOf(sb, 0.99)),
		ms(median64(sorted(m.seedBatches[:tenth]))), ms(median64(sorted(m.seedBatches[len(m.seedBatches)-tenth:]))))
	ls := sorted(m.list)
	fmt.Fprintf(w, "- sort=position list page of a %d-task project (%d bytes): p50 %s, p99 %s over %d requests after %d\n",
		m.size.Tasks, m.listBytes, ms(percentileOf(ls, 0.5)), ms(percentileOf(ls, 0.99)), len(ls), m.size.ListWarmUp)
	fmt.Fprintf(w, "- GET /sync from cursor 0 to the end: %s, %d pages, %d bytes, %d tasks (full: %v)\n",
		ms(m.syncTotal), m.syncPages, m.syncBytes, m.syncTasks, m.syncFull)
	fmt.Fprintf(w, "- DELETE of that project: %s (DB_QUERY_TIMEOUT %s)\n", ms(m.deleteTook), m.b.queryTimeout())
	perRow := 0.0
	if m.tombstones.Rows > 0 {
		perRow = float64(m.tombstones.Bytes) / float64(m.tombstones.Rows)
	}
	fmt.Fprintf(w, "- tombstones: %d rows and %d bytes more (%s): %.0f bytes a tombstone\n",
		m.tombstones.Rows, m.tombstones.Bytes, m.tombstones.How, perRow)
	if len(m.batches) > 0 {
		fmt.Fprintf(w, "\n| commands | added RTT | median | min | max |\n|---|--:|--:|--:|--:|\n")
		for _, t := range m.batches {
			s := sorted(t.Times)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", t.Name, t.RTT, ms(median64(s)), ms(s[0]), ms(s[len(s)-1]))
		}
	}
	if len(m.plans) > 0 {
		fmt.Fprintf(w, "\nThe list's statement, as PostgreSQL logged it:\n\n%s\n\nparameters: %s\n", m.listSQL.SQL, strings.Join(m.listSQL.Params, ", "))
		for _, p := range m.plans {
			fmt.Fprintf(w, "\n%s:\n\n%s\n", p.Name, strings.Join(p.Plan, "\n"))
		}
	}
}

func median64(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if len(sorted)%2 == 1 {
		return sorted[len(sorted)/2]
	}
	return (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
}
