package app_test

import (
	"context"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
)

const tasksPath = "/api/v1/tasks"

func keyed(method, path, token, key string, body any) apptest.Request {
	return apptest.Request{Method: method, Path: path, Token: token, Body: body, Headers: map[string]string{"Idempotency-Key": key}}
}

func countTasks(t *testing.T, db *gorm.DB, userID string) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM tasks WHERE user_id = ?", userID).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// requireReplayOf checks r is first again, byte for byte, marked replayed.
func requireReplayOf(t *testing.T, r, first apptest.Response) {
	t.Helper()
	if r.Status != first.Status || string(r.Body) != string(first.Body) ||
		r.Header.Get("Location") != first.Header.Get("Location") || r.Header.Get("ETag") != first.Header.Get("ETag") ||
		r.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay = %d %s (Location %q, ETag %q, %v); want %d %s (Location %q, ETag %q, %v)",
			r.Status, r.Body, r.Header.Get("Location"), r.Header.Get("ETag"), r.Header,
			first.Status, first.Body, first.Header.Get("Location"), first.Header.Get("ETag"), first.Header)
	}
	if got := r.Header.Get("Idempotent-Replayed"); got != "true" {
		t.Fatalf("Idempotent-Replayed = %q on a replay, want true", got)
	}
}

// sendConcurrently sends every request at once and returns the answers in order.
func sendConcurrently(t *testing.T, urls []string, reqs []apptest.Request) []apptest.Response {
	out := make([]apptest.Response, len(reqs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, req := range reqs {
		wg.Go(func() {
			<-start
			out[i] = apptest.Do(t, urls[i%len(urls)], req)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// requireAppliedOnce checks concurrent answers to one keyed create: each is
// the same 201 (one first, the rest replays) or a 409 in flight, and the
// task exists once.
func requireAppliedOnce(t *testing.T, db *gorm.DB, userID string, answers []apptest.Response) apptest.Response {
	t.Helper()
	var first *apptest.Response
	var created []apptest.Response
	for i, r := range answers {
		switch r.Status {
		case http.StatusCreated:
			created = append(created, r)
			if r.Header.Get("Idempotent-Replayed") == "" {
				if first != nil {
					t.Fatalf("two answers were not replays: the write ran twice")
				}
				first = &answers[i]
			}
		case http.StatusConflict:
			p := requireProblemType(t, r, http.StatusConflict, "idempotency-key-in-flight")
			if got := r.Header.Get("Retry-After"); got != "1" {
				t.Fatalf("Retry-After = %q on a 409 in flight, want 1 (%v)", got, p)
			}
		default:
			t.Fatalf("answer %d: %d %s, want 201 or 409", i, r.Status, r.Body)
		}
	}
	if first == nil {
		t.Fatal("no answer was the first one")
	}
	for _, r := range created {
		if &r != first && r.Header.Get("Idempotent-Replayed") == "true" {
			requireReplayOf(t, r, *first)
		}
	}
	if n := countTasks(t, db, userID); n != 1 {
		t.Fatalf("%d tasks after %d requests with one key, want 1", n, len(answers))
	}
	return *first
}

func TestIdempotentCreateRunsOnceUnderConcurrency(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		token := apptest.Token(t, "idem-racer")
		body := map[string]any{"title": "once only", "priority": "high"}
		reqs := make([]apptest.Request, 50)
		for i := range reqs {
			reqs[i] = keyed(http.MethodPost, tasksPath, token, "race-key-1", body)
		}
		first := requireAppliedOnce(t, s.DB, "idem-racer", sendConcurrently(t, []string{s.URL}, reqs))
		requireReplayOf(t, s.Do(t, reqs[0]), first)
		if !strings.HasPrefix(first.Header.Get("Location"), tasksPath+"/") || first.Header.Get("ETag") != `"1"` {
			t.Fatalf("first answer: Location %q, ETag %q", first.Header.Get("Location"), first.Header.Get("ETag"))
		}
	})
}

// Two app servers on one PostgreSQL database: the key's lock and row are
// in the database, so the write runs once whichever replica gets it.
func TestIdempotentCreateAcrossReplicas(t *testing.T) {
	db := apptest.Postgres(t)
	a, b := apptest.Start(t, db, nil), apptest.Start(t, db, nil)
	token := apptest.Token(t, "idem-replicas")
	reqs := make([]apptest.Request, 30)
	for i := range reqs {
		reqs[i] = keyed(http.MethodPost, tasksPath, token, "replica-key", map[string]any{"title": "on one replica"})
	}
	first := requireAppliedOnce(t, a.DB, "idem-replicas", sendConcurrently(t, []string{a.URL, b.URL}, reqs))
	requireReplayOf(t, b.Do(t, reqs[0]), first)
	requireReplayOf(t, a.Do(t, reqs[0]), first)
}

func TestIdempotencyKeyRules(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		ann, bob := apptest.Token(t, "idem-ann"), apptest.Token(t, "idem-bob")
		create := keyed(http.MethodPost, tasksPath, ann, "k-1", map[string]any{"title": "first"})
		first := retryWhileInFlight(t, s, create)
		apptest.RequireStatus(t, first, http.StatusCreated)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("a first answer is marked replayed")
		}

		// The key with another body, method or path: 422, nothing applied.
		other := keyed(http.MethodPost, tasksPath, ann, "k-1", map[string]any{"title": "second"})
		p := apptest.RequireProblem(t, s.Do(t, other), http.StatusUnprocessableEntity)
		if !strings.HasSuffix(p["type"].(string), "idempotency-key-reused") {
			t.Fatalf("type = %v, want one ending idempotency-key-reused", p["type"])
		}
		apptest.RequireProblem(t, s.Do(t, keyed(http.MethodPost, "/api/v1/tags", ann, "k-1", map[string]any{"name": "x"})), http.StatusUnprocessableEntity)
		apptest.RequireProblem(t, s.Do(t, keyed(http.MethodDelete, first.Header.Get("Location"), ann, "k-1", nil)), http.StatusUnprocessableEntity)
		if n := countTasks(t, s.DB, "idem-ann"); n != 1 {
			t.Fatalf("%d tasks, want 1", n)
		}
		apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: first.Header.Get("Location"), Token: ann}), http.StatusOK)

		// Another user's key of the same name is another key.
		apptest.RequireStatus(t, s.Do(t, keyed(http.MethodPost, tasksPath, bob, "k-1", map[string]any{"title": "first"})), http.StatusCreated)
		if n := countTasks(t, s.DB, "idem-bob"); n != 1 {
			t.Fatalf("bob has %d tasks, want 1", n)
		}

		// Keys that are not 1 to 255 visible ASCII characters: 400, nothing applied.
		for _, key := range []string{strings.Repeat("k", 256), "with space", "caf\u00e9"} {
			r := s.Do(t, keyed(http.MethodPost, tasksPath, ann, key, map[string]any{"title": "bad key"}))
			requireProblemType(t, r, http.StatusBadRequest, "bad-request")
		}
		if n := countTasks(t, s.DB, "idem-ann"); n != 1 {
			t.Fatalf("%d tasks after bad keys, want 1", n)
		}
		apptest.RequireStatus(t, s.Do(t, keyed(http.MethodPost, tasksPath, ann, strings.Repeat("k", 255), map[string]any{"title": "long key"})), http.StatusCreated)

		// A 4xx answer is kept and replayed too; a 5xx is not (see the 503 test).
		invalid := keyed(http.MethodPost, tasksPath, ann, "k-invalid", map[string]any{"title": ""})
		firstInvalid := s.Do(t, invalid)
		apptest.RequireProblem(t, firstInvalid, http.StatusUnprocessableEntity)
		requireReplayOf(t, s.Do(t, invalid), firstInvalid)

		// PATCH and DELETE with a key: applied once, replayed after.
		patch := keyed(http.MethodPatch, first.Header.Get("Location"), ann, "k-patch", map[string]any{"completed": true})
		patched := s.Do(t, patch)
		apptest.RequireStatus(t, patched, http.StatusOK)
		requireReplayOf(t, s.Do(t, patch), patched)
		if patched.Header.Get("ETag") != `"2"` {
			t.Fatalf("ETag after one patch = %q, want \"2\"", patched.Header.Get("ETag"))
		}
		del := keyed(http.MethodDelete, first.Header.Get("Location"), ann, "k-delete", nil)
		deleted := s.Do(t, del)
		apptest.RequireStatus(t, deleted, http.StatusNoContent)
		requireReplayOf(t, s.Do(t, del), deleted)

		// Tags: a duplicate name's 409 is the stored answer of its key.
		tag := keyed(http.MethodPost, "/api/v1/tags", ann, "k-tag", map[string]any{"name": "home"})
		tagged := s.Do(t, tag)
		apptest.RequireStatus(t, tagged, http.StatusCreated)
		requireReplayOf(t, s.Do(t, tag), tagged)
		dup := keyed(http.MethodPost, "/api/v1/tags", ann, "k-tag-dup", map[string]any{"name": "HOME"})
		conflict := s.Do(t, dup)
		requireProblemType(t, conflict, http.StatusConflict, "conflict")
		requireReplayOf(t, s.Do(t, dup), conflict)
	})
}

// A key older than a day is free again: its row is backdated rather than
// waited for.
func TestIdempotencyKeyExpires(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		token := apptest.Token(t, "idem-old")
		apptest.RequireStatus(t, s.Do(t, keyed(http.MethodPost, tasksPath, token, "day-old", map[string]any{"title": "yesterday"})), http.StatusCreated)
		apptest.RequireProblem(t, s.Do(t, keyed(http.MethodPost, tasksPath, token, "day-old", map[string]any{"title": "today"})), http.StatusUnprocessableEntity)
		backdate(t, s.DB, "idem-old", "day-old", 24*60*60+1)
		r := s.Do(t, keyed(http.MethodPost, tasksPath, token, "day-old", map[string]any{"title": "today"}))
		apptest.RequireStatus(t, r, http.StatusCreated)
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("an expired key's answer was replayed")
		}
		if n := countTasks(t, s.DB, "idem-old"); n != 2 {
			t.Fatalf("%d tasks, want 2", n)
		}
	})
}

// backdate moves a key's creation seconds into the past.
func backdate(t *testing.T, db *gorm.DB, userID, key string, seconds int) {
	t.Helper()
	query := "UPDATE idempotency_keys SET created_at = created_at - make_interval(secs => ?) WHERE user_id = ? AND idempotency_key = ?"
	if !database.IsPostgres(db) {
		query = "UPDATE idempotency_keys SET created_at = datetime(created_at, '-' || ? || ' seconds') WHERE user_id = ? AND idempotency_key = ?"
	}
	res := db.Exec(query, seconds, userID, key)
	if res.Error != nil || res.RowsAffected != 1 {
		t.Fatalf("backdate the key: %v (%d rows)", res.Error, res.RowsAffected)
	}
}

// A request that failed with 503 (the database did not answer within
// DB_QUERY_TIMEOUT: the test holds a lock the request needs) kept
// nothing: the same key then runs the write, once.
func TestIdempotencyKeyRetriedAfter503(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{"DB_QUERY_TIMEOUT": "1s"})
		token := apptest.Token(t, "idem-retry")
		create := keyed(http.MethodPost, tasksPath, token, "retry-key", map[string]any{"title": "after the outage"})
		release := holdWriteLock(t, s.DB)
		r := s.Do(t, create)
		release()
		requireProblemType(t, r, http.StatusServiceUnavailable, "unavailable")
		if n := countTasks(t, s.DB, "idem-retry"); n != 0 {
			t.Fatalf("%d tasks after the 503, want 0", n)
		}
		first := retryWhileInFlight(t, s, create)
		apptest.RequireStatus(t, first, http.StatusCreated)
		if first.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("the retry after a 503 was a replay: the 503 was stored")
		}
		requireReplayOf(t, s.Do(t, create), first)
		if n := countTasks(t, s.DB, "idem-retry"); n != 1 {
			t.Fatalf("%d tasks, want 1", n)
		}
	})
}

// retryWhileInFlight sends req again while it is a 409 in flight, as a
// client honouring Retry-After would. On PostgreSQL the timed-out
// request's backend may hold the key's lock a moment longer: the server
// only learns its client left when its blocked statement ends.
func retryWhileInFlight(t *testing.T, s *apptest.Server, req apptest.Request) apptest.Response {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.Do(t, req)
		if r.Status != http.StatusConflict || time.Now().After(deadline) {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holdWriteLock blocks the key's row from being written until release. On
// PostgreSQL a SHARE lock on idempotency_keys lets the request read the
// table and insert its task, then blocks its key row, so the task insert
// is what the timeout undoes. On SQLite a transaction holding the one
// write lock blocks the request's BEGIN IMMEDIATE.
func holdWriteLock(t *testing.T, db *gorm.DB) (release func()) {
	t.Helper()
	tx := db.WithContext(context.Background()).Begin()
	if tx.Error != nil {
		t.Fatal(tx.Error)
	}
	lock := "DELETE FROM idempotency_keys WHERE user_id = 'nobody'" // BEGIN IMMEDIATE already holds the lock
	if database.IsPostgres(db) {
		lock = "LOCK TABLE idempotency_keys IN SHARE MODE"
	}
	if err := tx.Exec(lock).Error; err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// Keys lock nothing but themselves: two users' requests whose keys would
// share a 32-bit hash (as an advisory lock on a hash of user and key would
// have them do) both run, while one of them is held in flight.
func TestIdempotencyKeysOfOthersDoNotCollide(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		keyA, keyB := fnvCollision(t, "idem-collide-a", "idem-collide-b")
		a := keyed(http.MethodPost, tasksPath, apptest.Token(t, "idem-collide-a"), keyA, map[string]any{"title": "held"})
		b := keyed(http.MethodPost, tasksPath, apptest.Token(t, "idem-collide-b"), keyB, map[string]any{"title": "not held"})
		release := holdWriteLock(t, s.DB)
		answers := make(chan apptest.Response, 2)
		go func() { answers <- s.Do(t, a) }()
		time.Sleep(300 * time.Millisecond) // a is in flight, waiting for the lock
		go func() { answers <- s.Do(t, b) }()
		time.Sleep(300 * time.Millisecond)
		release()
		for range 2 {
			r := <-answers
			apptest.RequireStatus(t, r, http.StatusCreated)
		}
	})
}

// fnvCollision finds a key for each user such that the two share the
// 32-bit FNV-1a hash of user, NUL, key.
func fnvCollision(t *testing.T, userA, userB string) (string, string) {
	t.Helper()
	hash := func(user, key string) uint32 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(user + "\x00" + key))
		return h.Sum32()
	}
	seen := map[uint32]string{}
	for i := range 1 << 22 {
		key := "k-" + strconv.Itoa(i)
		seen[hash(userA, key)] = key
		if other, ok := seen[hash(userB, key)]; ok {
			return other, key
		}
	}
	t.Fatal("no colliding keys found")
	return "", ""
}
