package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/gorm"

	"taskflow/app"
	"taskflow/app/apptest/proc"
	"taskflow/auth"
	"taskflow/config"
	"taskflow/database"
)

// bench holds what both suites share.
type bench struct {
	o    options
	work string
	bin  string
	rep  *report
	logf func(string, ...any)
	// label follows the suite's name in the report ("postgres baseline")
	// when two servers are measured in one run.
	label string
	// noBounds leaves pgbench out: the baseline of a comparison is
	// measured against the other server, and its statements, written for
	// its own schema, may not replay on the seeded data.
	noBounds bool
}

// maxTasksPerUser is the server's default cap, which the best create SQL
// checks as the server does.
const maxTasksPerUser = 10000

func (b *bench) loadGen() loadGen {
	return loadGen{Dir: b.work, Connections: b.o.Connections, Threads: b.o.Threads}
}

// postgresSuite measures the production server on a fresh PostgreSQL
// database, and pgbench on the same database as its bound.
func (b *bench) postgresSuite(ctx context.Context) error {
	pgbenchPath, err := findPgbench()
	if err != nil {
		return err
	}
	scratch, err := b.scratchDatabase(ctx, "postgres", "taskflow_bench_")
	if err != nil {
		return err
	}
	defer scratch.drop()
	admin, name, dbURL := scratch.admin, scratch.name, scratch.url
	var version string
	_ = admin.WithContext(ctx).Raw("SHOW server_version").Scan(&version).Error
	b.rep.Machine.Postgres = version

	env := serverEnv{DatabaseURL: dbURL, Production: true, JWTSecret: newSecret(), Extra: b.o.ServerEnv}

	b.logf("postgres: migrating %s with `taskflow migrate`", name)
	if b.rep.MigrateMS, err = runMigrate(ctx, b.bin, env); err != nil {
		return err
	}
	db, err := openDatabase(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer database.Close(db)
	d, tokens, err := b.seed(ctx, db, env.JWTSecret, true)
	if err != nil {
		return err
	}
	loads := workloads(d, tokens)
	reset := func() error { return restore(ctx, db, true) }
	if b.noBounds {
		return b.measure(ctx, "postgres"+b.label, env, loads, reset, nil)
	}

	bounds, stmts, err := b.boundScripts(ctx, admin, db, name, env, d, tokens)
	if err != nil {
		return err
	}
	pg := pgbench{Path: pgbenchPath, URL: dbURL, Dir: b.work, Clients: b.o.Connections, Threads: b.o.Threads,
		WarmUp: pgbenchWarmUp, ConnectAllowance: pgbenchConnectAllowance}
	if b.o.Quick { // a smoke run: its numbers only show the benchmark works
		pg.WarmUp, pg.ConnectAllowance = time.Second, time.Second
	}
	if err := b.measure(ctx, "postgres"+b.label, env, loads, reset, func(w workload, r *endpointResult) error {
		r.Statements = stmts[w.Name]
		for _, kind := range []struct {
			scripts map[string][]pgScript
			into    *[]boundResult
		}{{bounds.server, &r.ServerSQL}, {bounds.best, &r.BestSQL}} {
			scripts := kind.scripts[w.Name]
			if len(scripts) == 0 {
				continue
			}
			res, err := pg.run(ctx, w.Name, scripts, b.o.Duration)
			if err != nil {
				return err
			}
			*kind.into = append(*kind.into, res)
			if w.writes() {
				if err := reset(); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if b.o.CPUProfile != "" {
		return b.profile(ctx, env, loads, reset)
	}
	return nil
}

// sqliteSuite measures the server on its embedded SQLite default. Production
// requires PostgreSQL, so this server runs as development does.
func (b *bench) sqliteSuite(ctx context.Context) error {
	path := filepath.Join(b.work, "bench.db")
	dbURL := "sqlite://" + path
	db, err := openDatabase(ctx, dbURL, 0)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if err := database.Migrate(ctx, db, database.MigrateOptions{}); err != nil {
		return err
	}
	env := serverEnv{DatabaseURL: dbURL, JWTSecret: newSecret(), Extra: b.o.ServerEnv}
	d, tokens, err := b.seed(ctx, db, env.JWTSecret, false)
	if err != nil {
		return err
	}
	reset := func() error { return restore(ctx, db, false) }
	return b.measure(ctx, "sqlite"+b.label, env, workloads(d, tokens), reset, nil)
}

// seed fills db with the dataset, keeps a copy to restore from and mints
// each user a token.
func (b *bench) seed(ctx context.Context, db *gorm.DB, secret string, postgres bool) (dataset, map[string]string, error) {
	start := time.Now()
	d := newDataset(b.o.Shape)
	if err := seed(ctx, db, d); err != nil {
		return d, nil, err
	}
	if err := snapshot(ctx, db); err != nil {
		return d, nil, err
	}
	if postgres {
		if err := db.WithContext(ctx).Exec("VACUUM (ANALYZE)").Error; err != nil {
			return d, nil, err
		}
	}
	b.logf("seeded %d users, %d tasks, %d tags in %s", len(d.Users), len(d.Tasks), len(d.Tags), time.Since(start).Round(time.Millisecond))
	signer := auth.AccessTokens{Secret: []byte(secret), Issuer: "taskflow", TTL: 6 * time.Hour}
	tokens := map[string]string{}
	for _, u := range d.Users {
		token, err := signer.Sign(u.ID)
		if err != nil {
			return d, nil, err
		}
		tokens[u.ID] = token
	}
	return d, tokens, nil
}

// measure starts the server and runs every workload for the configured
// rounds; after each server run, between(w, result) runs the bounds of the
// same workload, so server and bound alternate. Writes are undone after
// every run, so each run sees the seeded dataset.
func (b *bench) measure(ctx context.Context, suite string, env serverEnv, loads []workload, reset func() error,
	between func(workload, *endpointResult) error) error {
	srv, err := startServer(ctx, b.bin, env)
	if err != nil {
		return err
	}
	defer func() {
		srv.stop()
		b.reportServerLog(suite, srv)
	}()
	b.rep.Startup = append(b.rep.Startup, startupResult{Suite: suite, MS: srv.StartupMS})
	b.logf("%s: server healthy %.1f ms after exec", suite, srv.StartupMS)
	if err := b.measureListBody(ctx, suite, srv, loads[0]); err != nil {
		return err
	}
	gen := b.loadGen()
	for _, w := range loads[:min(3, len(loads))] { // warm up: connections, statement caches, the page cache
		if _, err := gen.run(ctx, srv, w, time.Second); err != nil {
			return err
		}
	}
	loads = b.selected(loads)
	results := make([]*endpointResult, len(loads))
	for i, w := range loads {
		results[i] = &endpointResult{Suite: suite, Workload: w.Name, Statements: -1}
	}
	for round := 1; round <= b.o.Rounds; round++ {
		for i, w := range loads {
			res, err := gen.run(ctx, srv, w, b.o.Duration)
			if err != nil {
				return fmt.Errorf("%s %s: %w", suite, w.Name, err)
			}
			results[i].Rounds = append(results[i].Rounds, res)
			b.logf("%s round %d %-14s %8.0f req/s  p99 %6.1f ms  errors %d", suite, round, w.Name, res.ReqPerSec, res.P99ms, res.Errors)
			if w.writes() {
				if err := reset(); err != nil {
					return err
				}
			}
			if between != nil {
				if err := between(w, results[i]); err != nil {
					return err
				}
			}
		}
	}
	st, err := proc.ReadStats(srv.Pid)
	if err == nil {
		b.rep.PeakRSS = append(b.rep.PeakRSS, rssResult{Suite: suite, MB: float64(st.PeakRSSKiB) / 1024})
	}
	for _, r := range results {
		if len(r.Rounds) > 0 {
			b.rep.add(r)
		}
	}
	return nil
}

// reportServerLog repeats what the server logged (warnings and errors:
// it runs at LOG_LEVEL=warn): a run in which the server changed how it
// works, switching its statement mode say, is not comparable to one in
// which it did not, and must say so.
func (b *bench) reportServerLog(suite string, srv *server) {
	for line := range strings.Lines(srv.p.Output()) {
		b.logf("%s: server logged: %s", suite, strings.TrimRight(line, "\n"))
	}
}

// selected keeps the workloads --workloads names (all without it).
func (b *bench) selected(loads []workload) []workload {
	if b.o.Only == "" {
		return loads
	}
	var out []workload
	for _, name := range strings.Split(b.o.Only, ",") {
		for _, w := range loads {
			if w.Name == strings.TrimSpace(name) {
				out = append(out, w)
			}
		}
	}
	return out
}

// measureListBody records the size of the default list's body.
func (b *bench) measureListBody(ctx context.Context, suite string, srv *server, list workload) error {
	r := list.Requests[0]
	req, err := http.NewRequestWithContext(ctx, r.Method, srv.URL+r.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET %s answered %d: %s", suite, r.Path, resp.StatusCode, body)
	}
	b.rep.ListBodyBytes = len(body)
	return nil
}

// bounds are the pgbench scripts of each workload: the server's own
// statements, and the best SQL known.
type bounds struct {
	server map[string][]pgScript
	best   map[string][]pgScript
}

// boundScripts captures the statements the server runs for each kind of
// request (from PostgreSQL's own log) and builds both sets of scripts. It
// returns the statements per request of each workload too.
func (b *bench) boundScripts(ctx context.Context, admin, db *gorm.DB, dbName string, env serverEnv,
	d dataset, tokens map[string]string) (bounds, map[string]float64, error) {
	bs := bounds{server: map[string][]pgScript{}, best: map[string][]pgScript{}}
	stmts := map[string]float64{}
	users := boundUsers(d)
	for _, u := range users {
		all, err := pageIDs(ctx, db, u.ID, "")
		if err != nil {
			return bs, nil, err
		}
		filtered, err := pageIDs(ctx, db, u.ID, filterSQL)
		if err != nil {
			return bs, nil, err
		}
		bs.best[wlList] = append(bs.best[wlList], bestListScript(u.ID, all, ""))
		bs.best[wlListFilter] = append(bs.best[wlListFilter], bestListScript(u.ID, filtered, filterSQL))
		bs.best[wlGet] = append(bs.best[wlGet], bestGetScript(u.ID, u.Sample[0]))
		bs.best[wlCreate] = append(bs.best[wlCreate], bestCreateScript(u.ID, u.TagIDs[:2], maxTasksPerUser))
	}

	logPath, err := findServerLog(ctx, admin, b.o.PgLog)
	if err != nil {
		b.logf("postgres: %v: the server's own statements are not measured", err)
		return bs, stmts, nil
	}
	if _, err := fileSize(logPath); err != nil {
		b.logf("postgres: cannot read %s (%v): the server's own statements are not measured", logPath, err)
		return bs, stmts, nil
	}
	tokensOf := map[string]string{}
	for _, u := range users {
		tokensOf[u.ID] = tokens[u.ID]
	}
	only := dataset{Users: users}
	caps, err := captureStatements(ctx, admin, statementLog{path: logPath, dbName: dbName}, b.bin, env, []workload{
		{Name: wlList, Requests: listRequests(only, tokensOf, "")},
		{Name: wlListFilter, Requests: listRequests(only, tokensOf, filterQuery)},
		{Name: wlGet, Requests: firstPerUser(getRequests(only, tokensOf), len(users))},
		{Name: wlCreate, Requests: firstPerUser(createRequests(only, tokensOf), len(users))},
		{Name: wlPatch, Requests: firstPerUser(patchRequests(only, tokensOf), len(users))},
	})
	if err != nil {
		return bs, nil, err
	}
	if err := restore(ctx, db, true); err != nil {
		return bs, nil, err
	}
	b.rep.CapturedSQL = map[string][]statement{}
	for name, list := range caps {
		total := 0
		for _, c := range list {
			total += len(c.Statements)
			if len(c.Statements) == 0 {
				return bs, nil, fmt.Errorf("no statement of %s appeared in %s: is log_statement honoured?", name, logPath)
			}
		}
		stmts[name] = float64(total) / float64(len(list))
		b.rep.CapturedSQL[name] = list[0].Statements
		if name == wlPatch {
			continue // a replayed patch would find its version gone: no honest bound
		}
		for _, c := range list {
			newID := ""
			if name == wlCreate {
				newID = createdID(c)
			}
			bs.server[name] = append(bs.server[name], scriptFromCapture(c, newID))
		}
	}
	stmts[wlMixed] = 0.6*stmts[wlList] + 0.2*stmts[wlGet] + 0.1*stmts[wlCreate] + 0.1*stmts[wlPatch]
	b.logf("postgres: captured the server's statements from %s", logPath)
	return bs, stmts, nil
}

// boundUserCount is how many users' requests pgbench replays. Each user's
// requests are a script of their own, their values written in, so every
// pgbench client prepares (and PostgreSQL plans) each script's statements
// once: with all 51 users that took longer than a whole run (measured:
// still climbing after 10 s, against 2 s with 8 scripts). Six users spread
// over the dataset keep the warm-up short; every user's data is alike.
const boundUserCount = 6

func boundUsers(d dataset) []seedUser {
	n := min(boundUserCount, len(d.Users))
	out := make([]seedUser, n)
	for i := range out {
		out[i] = d.Users[i*len(d.Users)/n]
	}
	return out
}

// firstPerUser keeps the first of each user's requests, listed user by user.
func firstPerUser(reqs []request, users int) []request {
	var out []request
	every := len(reqs) / users
	for i := 0; i < len(reqs); i += every {
		out = append(out, reqs[i])
	}
	return out
}

// createdID is the id a captured create inserted: the second parameter of
// the database's taskflow_task_create(p_user, p_id, ...), or the first of
// an INSERT INTO tasks (the builds before that function).
func createdID(c captured) string {
	for _, st := range c.Statements {
		switch {
		case strings.Contains(st.SQL, "taskflow_task_create(") && len(st.Params) > 1:
			return strings.Trim(st.Params[1], "'")
		case strings.Contains(st.SQL, "INSERT INTO tasks ") && len(st.Params) > 0:
			return strings.Trim(st.Params[0], "'")
		}
	}
	return ""
}

// pageIDs are the ids of the user's first page (filtered by the SQL
// conditions given), newest first.
func pageIDs(ctx context.Context, db *gorm.DB, userID, filter string) ([]string, error) {
	var ids []string
	err := db.WithContext(ctx).Raw(`SELECT id FROM tasks WHERE user_id = ?`+filter+` ORDER BY created_at DESC, id DESC LIMIT 20`, userID).Scan(&ids).Error
	return ids, err
}

// runMigrate creates the schema with the server's own migrate command.
func runMigrate(ctx context.Context, bin string, env serverEnv) (float64, error) {
	start := time.Now()
	p, err := proc.Start(bin, proc.Options{Dir: filepath.Dir(bin), Env: env.environ(0), Args: []string{"migrate"}})
	if err != nil {
		return 0, err
	}
	code, err := p.Wait(ctx)
	if err != nil {
		p.Kill()
		return 0, err
	}
	if code != 0 {
		return 0, fmt.Errorf("taskflow migrate: exit status %d\n%s", code, p.Output())
	}
	return float64(time.Since(start).Microseconds()) / 1000, nil
}

// openDatabase opens the database at url the way the server does, with a
// pool of conns connections (0: the driver's defaults), to seed and reset
// the dataset and to read what the server did.
// scratch is a database a suite made for itself on --pg, and the admin
// connection it was made with.
type scratch struct {
	admin     *gorm.DB
	name, url string
	keep      bool
}

// scratchDatabase creates a fresh database named prefix and a random
// suffix on --pg. Its drop removes it again (unless --keep) and closes the
// admin connection.
func (b *bench) scratchDatabase(ctx context.Context, suite, prefix string) (scratch, error) {
	admin, err := openDatabase(ctx, b.o.PgURL, 2)
	if err != nil {
		return scratch{}, err
	}
	s := scratch{admin: admin, name: prefix + randomHex(4), keep: b.o.Keep}
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + s.name).Error; err != nil {
		database.Close(admin)
		return scratch{}, fmt.Errorf("create the benchmark database: %w", err)
	}
	if s.keep {
		b.logf("%s: keeping the database %s", suite, s.name)
	}
	if s.url, err = withDatabase(b.o.PgURL, s.name); err != nil {
		s.drop()
		return scratch{}, err
	}
	return s, nil
}

func (s scratch) drop() {
	if !s.keep {
		s.admin.WithContext(context.Background()).Exec("DROP DATABASE IF EXISTS " + s.name + " WITH (FORCE)")
	}
	database.Close(s.admin)
}

func openDatabase(ctx context.Context, url string, conns int) (*gorm.DB, error) {
	return app.OpenDatabase(ctx, config.Config{DBMaxOpenConns: conns, DBMaxIdleConns: conns}, url, nil)
}

// profile runs a development server with DEBUG=true (which serves
// /debug/pprof) under the chosen workload and saves its CPU profile.
func (b *bench) profile(ctx context.Context, env serverEnv, loads []workload, reset func() error) error {
	var w workload
	for _, l := range loads {
		if l.Name == b.o.ProfileLoad {
			w = l
		}
	}
	if w.Name == "" {
		return fmt.Errorf("--profile-workload %q: no such workload", b.o.ProfileLoad)
	}
	env.Production = false
	env.Extra = map[string]string{"DEBUG": "true"}
	for k, v := range b.o.ServerEnv {
		env.Extra[k] = v
	}
	srv, err := startServer(ctx, b.bin, env)
	if err != nil {
		return err
	}
	defer srv.stop()
	gen := b.loadGen()
	if _, err := gen.run(ctx, srv, w, time.Second); err != nil {
		return err
	}
	seconds := max(2, int(b.o.Duration.Seconds()))
	profile := make(chan error, 1)
	go func() {
		profile <- fetchToFile(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", srv.URL, seconds), b.o.CPUProfile)
	}()
	res, err := gen.run(ctx, srv, w, time.Duration(seconds+1)*time.Second)
	if err != nil {
		return err
	}
	if err := <-profile; err != nil {
		return err
	}
	b.logf("profile: %s at %.0f req/s written to %s (go tool pprof -top %s)", w.Name, res.ReqPerSec, b.o.CPUProfile, b.o.CPUProfile)
	if w.writes() {
		return reset()
	}
	return nil
}

func fetchToFile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("--pg is not a URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
