package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"taskflow/auth"
	"taskflow/database"
	"taskflow/models/position"
)

// The search suite (go run ./bench --search) measures what the review of
// the search found, on a user with searchTasks tasks of 5,000-character
// descriptions: every search of the review one at a time (p99 at most
// 50 ms on PostgreSQL, 100 ms on SQLite), and the attack (attackClients
// parallel searches from that account for attackFor beside victimClients
// clients of other users listing: their p99 within 2x of theirs without
// it, no 5xx, /health 200). It also measures the list of one user alone
// (it must keep its rate: 0.95x of the baseline binary's, with
// --baseline-bin), and pg_trgm against the full-text index on the same
// data: statements, writes and sizes.
const (
	searchTasks       = 10_000
	searchDescription = 5_000
	attackClients     = 12
	victimClients     = 16
	healthEvery       = 100 * time.Millisecond
)

// Two searching users: "prose" has descriptions of words (common ones in
// nearly every task), "runs" one run of 4,999 "a" and a "b", the text that
// made ILIKE '%q%' cost text length times pattern length.
const (
	proseUser = "prose"
	runsUser  = "runs"
)

// searchQuery is one search of the review.
type searchQuery struct {
	Name, Q string
}

func reviewQueries() []searchQuery {
	rng := rand.New(rand.NewPCG(seedSeed, 7))
	const printable = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	noise := make([]string, 10)
	for i := range noise {
		var b strings.Builder
		for range 19 {
			b.WriteByte(printable[rng.IntN(len(printable))])
		}
		noise[i] = b.String()
	}
	return []searchQuery{
		{"one word", "report"},
		{"two words", "quarterly report"},
		{"100 × a + b", strings.Repeat("a", 100) + "b"},
		{"200 characters of noise", (strings.Join(noise, " ") + "x")[:200]},
		{"one letter", "e"},
	}
}

// searchVocabulary is the words of "prose" descriptions: the bench's
// words and some two thousand made-up ones, drawn Zipf-distributed.
func searchVocabulary(rng *rand.Rand) []string {
	vocabulary := slices.Clone(words)
	vocabulary = append(vocabulary, "report", "quarterly", "Äpfel", "café", "naïve", "e-mail", "100%", "under_score")
	syllables := strings.Fields("ka lo mi ne ru sa te vo bi da fe gu hi jo ku le ma no pe ri so tu va we xi yo zu")
	for len(vocabulary) < 2_000 {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		vocabulary = append(vocabulary, b.String())
	}
	return vocabulary
}

// proseDescription is 5,000 characters of vocabulary words.
func proseDescription(zipf *rand.Zipf, vocabulary []string) string {
	var text []rune
	for len(text) < searchDescription {
		text = append(text, []rune(vocabulary[zipf.Uint64()])...)
		text = append(text, ' ')
	}
	return string(text[:searchDescription])
}

// seedSearchers gives the prose and runs users searchTasks tasks each,
// one transaction apiece.
func seedSearchers(ctx context.Context, db *gorm.DB) error {
	rng := rand.New(rand.NewPCG(seedSeed, 11))
	vocabulary := searchVocabulary(rng)
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocabulary)-1))
	runs := strings.Repeat("a", searchDescription-1) + "b"
	for _, user := range []string{proseUser, runsUser} {
		positions := position.Spread(searchTasks)
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return insertRows(tx, "tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at, position)", searchTasks,
				func(i int) []any {
					created := seedBase.Add(-time.Duration(searchTasks-i) * time.Minute)
					title, description := fmt.Sprintf("Task %d", i), runs
					if user == proseUser {
						title = verbs[rng.IntN(len(verbs))] + " " + objects[rng.IntN(len(objects))]
						description = proseDescription(zipf, vocabulary)
					}
					return []any{uuidAt(rng, created), user, title, description, false, 1, 1, created, created, positions[i]}
				})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// searchSuite runs the suite on each database chosen.
func (b *bench) searchSuite(ctx context.Context, stdout io.Writer) error {
	if b.o.Postgres {
		if err := b.searchPostgres(ctx, stdout); err != nil {
			return fmt.Errorf("search on postgres: %w", err)
		}
	}
	if b.o.SQLite {
		if err := b.searchSQLite(ctx, stdout); err != nil {
			return fmt.Errorf("search on sqlite: %w", err)
		}
	}
	return nil
}

func (b *bench) searchPostgres(ctx context.Context, stdout io.Writer) error {
	scratch, err := b.scratchDatabase(ctx, "search", "taskflow_bench_search_")
	if err != nil {
		return err
	}
	defer scratch.drop()
	dbURL := scratch.url
	env := serverEnv{DatabaseURL: dbURL, Production: true, JWTSecret: newSecret(), Extra: b.o.ServerEnv}
	if _, err := runMigrate(ctx, b.bin, env); err != nil {
		return err
	}
	db, err := openDatabase(ctx, dbURL, 4)
	if err != nil {
		return err
	}
	defer database.Close(db)
	d, tokens, err := b.seedSearch(ctx, db, env.JWTSecret, true)
	if err != nil {
		return err
	}
	if err := b.searchLatencies(ctx, stdout, "postgres", env, tokens, 50*time.Millisecond); err != nil {
		return err
	}
	if err := b.searchAttacks(ctx, stdout, env, d, tokens); err != nil {
		return err
	}
	if err := b.listOneUser(ctx, stdout, env, d, tokens); err != nil {
		return err
	}
	return b.compareIndexes(ctx, stdout, db, tokens)
}

func (b *bench) searchSQLite(ctx context.Context, stdout io.Writer) error {
	dbURL := "sqlite://" + filepath.Join(b.work, "bench-search.db")
	db, err := openDatabase(ctx, dbURL, 0)
	if err != nil {
		return err
	}
	defer database.Close(db)
	if err := database.Migrate(ctx, db, database.MigrateOptions{}); err != nil {
		return err
	}
	env := serverEnv{DatabaseURL: dbURL, JWTSecret: newSecret(), Extra: b.o.ServerEnv}
	_, tokens, err := b.seedSearch(ctx, db, env.JWTSecret, false)
	if err != nil {
		return err
	}
	return b.searchLatencies(ctx, stdout, "sqlite", env, tokens, 100*time.Millisecond)
}

// seedSearch seeds the bench's dataset and the two searching users, and
// mints every user a token.
func (b *bench) seedSearch(ctx context.Context, db *gorm.DB, secret string, postgres bool) (dataset, map[string]string, error) {
	d, tokens, err := b.seed(ctx, db, secret, postgres)
	if err != nil {
		return d, nil, err
	}
	start := time.Now()
	if err := seedSearchers(ctx, db); err != nil {
		return d, nil, err
	}
	if postgres {
		if err := db.WithContext(ctx).Exec("VACUUM (ANALYZE) tasks").Error; err != nil {
			return d, nil, err
		}
	}
	b.logf("search: seeded 2 users with %d tasks of %d characters each in %s", searchTasks, searchDescription, time.Since(start).Round(time.Millisecond))
	signer := auth.AccessTokens{Secret: []byte(secret), Issuer: "taskflow", TTL: 6 * time.Hour}
	for _, user := range []string{proseUser, runsUser} {
		if tokens[user], err = signer.Sign(user); err != nil {
			return d, nil, err
		}
	}
	return d, tokens, nil
}

// searchRequests is how many times each search is timed, after warmUp.
func (b *bench) searchRequests() (n, warmUp int) {
	if b.o.Quick {
		return 30, 3
	}
	return 300, 20
}

// searchLatencies times every review search of both users, one request at
// a time, on a server whose search limit is lifted (the limit is not what
// is measured here), and holds each p99 to target.
func (b *bench) searchLatencies(ctx context.Context, stdout io.Writer, suite string, env serverEnv, tokens map[string]string,
	target time.Duration) error {
	env.Extra = withEnv(env.Extra, "SEARCH_RATE_LIMIT", "100000000")
	srv, err := startServer(ctx, b.bin, env)
	if err != nil {
		return err
	}
	defer srv.stop()
	client := &http.Client{Timeout: 30 * time.Second}
	n, warmUp := b.searchRequests()
	fmt.Fprintf(stdout, "\n%s: each search of a user with %d tasks of %d characters, %d times one at a time (p99 target %s)\n\n",
		suite, searchTasks, searchDescription, n, target)
	fmt.Fprintln(stdout, "| user | search | matches | p50 | p99 | max | p99 within target |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---|")
	for _, user := range []string{proseUser, runsUser} {
		for _, q := range reviewQueries() {
			path := "/api/v1/tasks?" + url.Values{"q": {q.Q}}.Encode()
			var times []time.Duration
			total := ""
			for i := range n + warmUp {
				start := time.Now()
				status, body, err := getJSON(ctx, client, srv.URL+path, tokens[user])
				elapsed := time.Since(start)
				if err != nil {
					return err
				}
				if status != http.StatusOK {
					return fmt.Errorf("%s %q: status %d: %.300s", user, q.Q, status, body)
				}
				if i >= warmUp {
					times = append(times, elapsed)
				}
				total = totalOf(body)
			}
			slices.Sort(times)
			p99 := percentileOf(times, 0.99)
			fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s |\n", user, q.Name, total,
				ms(percentileOf(times, 0.5)), ms(p99), ms(times[len(times)-1]), yesNo(p99 <= target))
		}
	}
	return nil
}

// searchAttacks runs the attack with the default search limit and with it
// lifted (where the per-user lines alone protect the others), the two
// alternating, for the configured rounds.
func (b *bench) searchAttacks(ctx context.Context, stdout io.Writer, env serverEnv, d dataset, tokens map[string]string) error {
	duration := 30 * time.Second
	if b.o.Quick {
		duration = 5 * time.Second
	}
	limits := []struct{ label, value string }{{"default (300 a minute)", "300"}, {"lifted", "100000000"}}
	results := make([][]attackResult, len(limits))
	for round := 1; round <= b.o.Rounds; round++ {
		for i, limit := range limits {
			run := env
			run.Extra = withEnv(env.Extra, "SEARCH_RATE_LIMIT", limit.value)
			r, err := b.attackRound(ctx, run, d, tokens, duration)
			if err != nil {
				return err
			}
			b.logf("search attack, round %d, limit %s: victims' p99 %s alone, %s under attack (%.2f×)", round, limit.label,
				ms(r.alone), ms(r.attacked), r.ratio())
			results[i] = append(results[i], r)
		}
	}
	fmt.Fprintf(stdout, "\npostgres: %d clients of other users list for %s, then again while the prose user runs the searches above from %d clients; %d rounds\n\n",
		victimClients, duration, attackClients, b.o.Rounds)
	fmt.Fprintln(stdout, "| search limit | round | victims' p99 alone | p99 under attack | ratio | victims' 5xx | /health not 200 | attacker: answered, 429, 5xx |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---|")
	for i, limit := range limits {
		for round, r := range results[i] {
			fmt.Fprintf(stdout, "| %s | %d | %s | %s | %.2f | %d | %d | %d, %d, %d |\n", limit.label, round+1, ms(r.alone), ms(r.attacked),
				r.ratio(), r.victim5xx, r.healthFailed, r.answered, r.refused, r.attacker5xx)
		}
		fmt.Fprintf(stdout, "| %s | median | | | %.2f | | | |\n", limit.label, medianOf(results[i], attackResult.ratio))
	}
	return nil
}

// attackResult is what one attack round saw.
type attackResult struct {
	alone, attacked                time.Duration // the victims' p99
	victim5xx, healthFailed        int
	answered, refused, attacker5xx int
}

// ratio is the victims' p99 under attack over theirs alone.
func (r attackResult) ratio() float64 { return float64(r.attacked) / float64(r.alone) }

func (b *bench) attackRound(ctx context.Context, env serverEnv, d dataset, tokens map[string]string, duration time.Duration) (attackResult, error) {
	var r attackResult
	srv, err := startServer(ctx, b.bin, env)
	if err != nil {
		return r, err
	}
	defer srv.stop()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	victims := make([]string, victimClients)
	for i := range victims {
		victims[i] = tokens[d.Users[1+i%(len(d.Users)-1)].ID]
	}
	alone := victimLoad(ctx, client, srv.URL, victims, duration, nil)
	var mu sync.Mutex
	hostile := func(ctx context.Context) {
		queries := reviewQueries()
		var wg sync.WaitGroup
		for i := range attackClients {
			wg.Go(func() {
				for n := i; ctx.Err() == nil; n++ {
					path := "/api/v1/tasks?" + url.Values{"q": {queries[n%len(queries)].Q}}.Encode()
					status, _, err := getJSON(ctx, client, srv.URL+path, tokens[proseUser])
					if ctx.Err() != nil {
						return
					}
					mu.Lock()
					switch {
					case err != nil || status >= 500:
						r.attacker5xx++
					case status == http.StatusTooManyRequests:
						r.refused++
					default:
						r.answered++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	attacked := victimLoad(ctx, client, srv.URL, victims, duration, hostile)
	r.alone, r.attacked = percentileOf(alone.latencies, 0.99), percentileOf(attacked.latencies, 0.99)
	r.victim5xx = alone.failed + attacked.failed
	r.healthFailed = alone.healthFailed + attacked.healthFailed
	b.logf("search attack: victims %d lists alone, %d under attack", len(alone.latencies), len(attacked.latencies))
	return r, ctx.Err()
}

// victimRun is what victimLoad saw: the lists' latencies (sorted), the
// lists not answered 200, and the /health checks not answered 200.
type victimRun struct {
	latencies    []time.Duration
	failed       int
	healthFailed int
}

// victimLoad has each victim token list its tasks in a loop and a monitor
// ask /health every healthEvery, for d; background, when not nil, runs
// meanwhile.
func victimLoad(ctx context.Context, client *http.Client, base string, victims []string, d time.Duration,
	background func(context.Context)) victimRun {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var run victimRun
	var mu sync.Mutex
	var wg sync.WaitGroup
	if background != nil {
		wg.Go(func() { background(ctx) })
	}
	for _, token := range victims {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				status, _, err := getJSON(context.Background(), client, base+"/api/v1/tasks", token)
				elapsed := time.Since(start)
				mu.Lock()
				run.latencies = append(run.latencies, elapsed)
				if err != nil || status != http.StatusOK {
					run.failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			status, _, err := getJSON(context.Background(), client, base+"/health", "")
			if err != nil || status != http.StatusOK {
				mu.Lock()
				run.healthFailed++
				mu.Unlock()
			}
			time.Sleep(healthEvery)
		}
	})
	wg.Wait()
	slices.Sort(run.latencies)
	return run
}

// listOneUser runs the list of one user alone with wrk, on this tree's
// server and, with --baseline-bin, on the baseline's, round by round.
func (b *bench) listOneUser(ctx context.Context, stdout io.Writer, env serverEnv, d dataset, tokens map[string]string) error {
	variants := []streamVariant{{Name: "tree", Bin: b.bin}}
	if b.o.BaselineBin != "" {
		base, err := copyServer(b.o.BaselineBin, b.work, "taskflow-baseline")
		if err != nil {
			return err
		}
		variants = append([]streamVariant{{Name: "baseline", Bin: base}}, variants...)
	}
	one := workload{Name: wlListOne, Requests: listOneUserRequests(d, tokens)}
	rates := make([][]float64, len(variants))
	for round := 1; round <= b.o.Rounds; round++ {
		for i, v := range variants {
			srv, err := startServer(ctx, v.Bin, env)
			if err != nil {
				return err
			}
			gen := b.loadGen()
			if _, err := gen.run(ctx, srv, one, time.Second); err != nil { // warm up
				srv.stop()
				return err
			}
			r, err := gen.run(ctx, srv, one, b.o.Duration)
			srv.stop()
			if err != nil {
				return err
			}
			if r.Errors > 0 {
				return fmt.Errorf("%s: the list of one user had %d errors", v.Name, r.Errors)
			}
			rates[i] = append(rates[i], r.ReqPerSec)
			b.logf("search: list of one user, round %d, %s: %.0f lists/s", round, v.Name, r.ReqPerSec)
		}
	}
	fmt.Fprintf(stdout, "\npostgres: the list of one user alone, %d connections, %d rounds of %s (medians)\n\n", b.o.Connections, b.o.Rounds, b.o.Duration)
	for i, v := range variants {
		fmt.Fprintf(stdout, "%-9s %8.0f lists/s", v.Name, median(rates[i]))
		if i > 0 {
			fmt.Fprintf(stdout, "  (%.3f× the baseline)", median(rates[i])/median(rates[0]))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// getJSON sends an authenticated GET (token may be empty) and reads the
// whole answer.
func getJSON(ctx context.Context, client *http.Client, target, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// totalOf reads "total" from a list's JSON, as text.
func totalOf(body []byte) string {
	_, rest, ok := strings.Cut(string(body), `"total":`)
	if !ok {
		return "?"
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return "?"
	}
	return rest[:end]
}

// percentileOf is the p-th of sorted durations.
func percentileOf(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// withEnv is extra with key set to value, extra itself unchanged.
func withEnv(extra map[string]string, key, value string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range extra {
		if k != key {
			out[k] = v
		}
	}
	return out
}
