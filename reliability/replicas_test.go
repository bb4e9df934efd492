package reliability

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/client"
	"taskflow/database"
)

// TestTwoReplicas runs two server processes on one PostgreSQL database and
// one Redis, as a scaled-out deploy does. Started at the same moment on an
// empty database they migrate once, without error; a token either one
// issues works on the other; logout on one revokes the refresh token on
// the other; and the login rate limit is one budget across both.
func TestTwoReplicas(t *testing.T) {
	skipInShort(t)
	db := apptest.Postgres(t)
	env := processEnv(db.URL, map[string]string{
		"REDIS_URL":        redisURL(t),
		"AUTH_RATE_LIMIT":  "10",
		"LOGIN_FAIL_LIMIT": "5",
		"AUTO_MIGRATE":     "true",
	})
	replicas := startTogether(t, env, 2)
	a, b := replicas[0], replicas[1]
	requireHealthy(t, a.URL)
	requireHealthy(t, b.URL)
	requireMigratedOnce(t, openDirect(t, db.URL))
	for _, p := range replicas {
		if lines := p.ErrorLines(); len(lines) > 0 {
			t.Errorf("a replica logged errors while starting:\n%s", strings.Join(lines, "\n"))
		}
	}

	t.Run("a token issued by one works on the other", func(t *testing.T) {
		session := register(t, a.URL, uniqueEmail(), "correct horse battery")
		me := send(context.Background(), http.DefaultClient, b.URL, call{Method: http.MethodGet, Path: authPath + "/me", Token: session.AccessToken})
		requireStatus(t, me, http.StatusOK)
		if got := idOf(me.Body); got != session.User.ID {
			t.Fatalf("GET /me on the other replica: id %q, want %q", got, session.User.ID)
		}
		taskID := createTask(t, http.DefaultClient, a.URL, session.AccessToken, "made on A")
		got := send(context.Background(), http.DefaultClient, b.URL, call{Method: http.MethodGet, Path: tasksPath + "/" + taskID, Token: session.AccessToken})
		requireStatus(t, got, http.StatusOK)
	})

	t.Run("logout on one revokes the refresh token on the other", func(t *testing.T) {
		session := register(t, a.URL, uniqueEmail(), "correct horse battery")
		rotated := refresh(t, b.URL, session.RefreshToken)
		requireStatus(t, rotated.out, http.StatusOK)
		logout := send(context.Background(), http.DefaultClient, a.URL, call{Method: http.MethodPost, Path: authPath + "/logout",
			Body: jsonBody(t, map[string]string{"refresh_token": rotated.RefreshToken})})
		requireStatus(t, logout, http.StatusNoContent)
		again := refresh(t, b.URL, rotated.RefreshToken)
		requireProblem(t, again.out, http.StatusUnauthorized)
	})

	t.Run("the login rate limit is shared", func(t *testing.T) {
		email, password := uniqueEmail(), "correct horse battery"
		register(t, a.URL, email, password)
		redisURL(t) // flush: the budget below starts from zero
		creds := jsonBody(t, map[string]string{"email": email, "password": password})
		login := func(url string) outcome {
			return send(context.Background(), http.DefaultClient, url, call{Method: http.MethodPost, Path: authPath + "/login", Body: creds})
		}
		for i := range 10 {
			target := a.URL
			if i >= 6 {
				target = b.URL
			}
			requireStatus(t, login(target), http.StatusOK)
		}
		eleventh := login(b.URL)
		requireProblem(t, eleventh, http.StatusTooManyRequests)
		if eleventh.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		requireProblem(t, login(a.URL), http.StatusTooManyRequests)
		t.Logf("replicas: 6 logins on A and 4 on B succeeded; the 11th (on B) and a 12th (on A) were 429")
	})
}

// startTogether launches n processes back to back (within a millisecond or
// two: far less than a migration takes), then waits for each to be live.
func startTogether(t *testing.T, env map[string]string, n int) []*apptest.Process {
	t.Helper()
	apptest.Binary(t) // build first, so the starts are not spread apart
	procs := make([]*apptest.Process, n)
	for i := range procs {
		procs[i] = startProcess(t, env)
	}
	for _, p := range procs {
		p.WaitReady(t, 30*time.Second)
	}
	return procs
}

// requireMigratedOnce compares db's tables and indexes with those of a
// database migrated once by one process: two migrations racing must leave
// exactly the same schema, nothing doubled and nothing missing.
func requireMigratedOnce(t testing.TB, db *gorm.DB) {
	t.Helper()
	reference := apptest.Postgres(t)
	ref := openDirect(t, reference.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := database.Migrate(ctx, ref, database.MigrateOptions{}); err != nil {
		t.Fatalf("migrate the reference database: %v", err)
	}
	got, want := schemaOf(t, db), schemaOf(t, ref)
	if !slices.Equal(got, want) {
		t.Fatalf("schema after two replicas started together differs from one migration:\ngot  %v\nwant %v", got, want)
	}
	t.Logf("replicas: both migrated concurrently; schema has %d tables and indexes, identical to a single migration", len(got))
}

func schemaOf(t testing.TB, db *gorm.DB) []string {
	t.Helper()
	var items []string
	err := db.Raw(`SELECT 'table ' || table_name FROM information_schema.tables WHERE table_schema = 'public'
		UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
		ORDER BY 1`).Scan(&items).Error
	if err != nil {
		t.Fatalf("read the schema: %v", err)
	}
	return items
}

// session is the body of a register, login or refresh response and the
// outcome it came in.
type session struct {
	client.Session
	out outcome
}

func register(t testing.TB, baseURL, email, password string) session {
	t.Helper()
	o := send(context.Background(), http.DefaultClient, baseURL, call{Method: http.MethodPost, Path: authPath + "/register",
		Body: jsonBody(t, map[string]string{"email": email, "password": password})})
	requireStatus(t, o, http.StatusCreated)
	var s session
	decodeInto(t, o, &s.Session)
	s.out = o
	return s
}

// refresh spends a refresh token; the caller checks the status.
func refresh(t testing.TB, baseURL, token string) session {
	t.Helper()
	o := send(context.Background(), http.DefaultClient, baseURL, call{Method: http.MethodPost, Path: authPath + "/refresh",
		Body: jsonBody(t, map[string]string{"refresh_token": token})})
	var s session
	if o.Status == http.StatusOK {
		decodeInto(t, o, &s.Session)
	}
	s.out = o
	return s
}

func uniqueEmail() string {
	return fmt.Sprintf("reliability-%s@example.com", uuid.NewString()[:8])
}
