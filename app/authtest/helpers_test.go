// Package authtest_test drives TaskFlow's accounts, tokens, guard and auth
// rate limits end to end: the real app on a loopback port, on SQLite and
// on PostgreSQL.
package authtest_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

// authAPI sends requests to a test server and keeps every response body,
// so a test can check at its end that none ever held a password or a
// password hash.
type authAPI struct {
	s         *apptest.Server
	bodies    []string
	passwords []string
}

// newAuthAPI wraps s; at the end of the test every body it saw is checked
// for the passwords used and for hash prefixes.
func newAuthAPI(t *testing.T, s *apptest.Server) *authAPI {
	t.Helper()
	a := &authAPI{s: s}
	t.Cleanup(func() { a.requireNoSecrets(t) })
	return a
}

func (a *authAPI) do(t testing.TB, req apptest.Request) apptest.Response {
	t.Helper()
	r := a.s.Do(t, req)
	a.bodies = append(a.bodies, string(r.Body))
	return r
}

// usePassword notes a password that must never come back in a body.
func (a *authAPI) usePassword(password string) string {
	a.passwords = append(a.passwords, password)
	return password
}

func (a *authAPI) requireNoSecrets(t *testing.T) {
	t.Helper()
	forbidden := append([]string{"$argon2", "$2a$", "$2b$", "password_hash"}, a.passwords...)
	for _, body := range a.bodies {
		for _, secret := range forbidden {
			if strings.Contains(body, secret) {
				t.Errorf("a response body contains %q: %s", secret, body)
			}
		}
	}
}

// userCreatedAt returns the user's created_at in a register, login or
// refresh body exactly as sent, so tests can compare the wire form and not
// only the instant it names.
func userCreatedAt(t testing.TB, r apptest.Response) string {
	t.Helper()
	user, _ := r.Map(t)["user"].(map[string]any)
	createdAt, _ := user["created_at"].(string)
	return createdAt
}

func (a *authAPI) register(t testing.TB, email, password string) client.Session {
	t.Helper()
	a.usePassword(password)
	r := a.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register", Body: map[string]any{"email": email, "password": password}})
	apptest.RequireStatus(t, r, 201)
	var pair client.Session
	r.JSON(t, &pair)
	return pair
}

func (a *authAPI) login(t testing.TB, email, password string) apptest.Response {
	t.Helper()
	a.usePassword(password)
	return a.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/login", Body: map[string]any{"email": email, "password": password}})
}

func (a *authAPI) refresh(t testing.TB, token string) apptest.Response {
	t.Helper()
	return a.do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Body: map[string]any{"refresh_token": token}})
}

func (a *authAPI) me(t testing.TB, token string) apptest.Response {
	t.Helper()
	return a.do(t, apptest.Request{Method: "GET", Path: "/api/v1/auth/me", Token: token})
}

// requireInvalidToken asserts r is the 401 of a token that was refused.
func requireInvalidToken(t testing.TB, r apptest.Response) {
	t.Helper()
	apptest.RequireProblem(t, r, 401)
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`; got != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
	}
}

// requireKeys asserts the JSON object m has exactly the given keys.
func requireKeys(t testing.TB, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Fatalf("object has keys %v, want exactly %v", mapKeys(m), keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("object has keys %v, want exactly %v", mapKeys(m), keys)
		}
	}
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// requireUUIDv7 asserts id is a version 7 UUID.
func requireUUIDv7(t testing.TB, id string) {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		t.Fatalf("id %q is not a UUID v7", id)
	}
}

// requireUTCTime asserts s is an RFC 3339 time in UTC and returns it.
func requireUTCTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("time %q is not RFC 3339 in UTC", s)
	}
	return at
}

// frontendClaims are the claims of a valid frontend token for sub.
func frontendClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

// count runs a COUNT(*) query on the server's database.
func count(t testing.TB, s *apptest.Server, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := s.DB.Raw(query, args...).Scan(&n).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// seeded is the data seedData wrote for one user.
type seeded struct {
	userID          string
	taskIDs, tagIDs []string
}

// seedData gives userID two tasks and two tags, one task tagged with both
// tags, straight in the database.
func seedData(t testing.TB, s *apptest.Server, userID string) seeded {
	t.Helper()
	now := time.Now().UTC()
	var taskIDs, tagIDs []string
	for i := range 2 {
		taskID, tagID := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
		taskIDs, tagIDs = append(taskIDs, taskID), append(tagIDs, tagID)
		exec(t, s, "INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at, position)"+
			" VALUES (?, ?, ?, '', ?, 1, 1, ?, ?, ?)", taskID, userID, "task "+taskID, false, now, now, "V"+strconv.Itoa(i+1))
		name := []string{"work", "home"}[i]
		exec(t, s, "INSERT INTO tags (id, user_id, name, name_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			tagID, userID, name, name, now, now)
	}
	for _, tagID := range tagIDs {
		exec(t, s, "INSERT INTO task_tags (task_id, tag_id) VALUES (?, ?)", taskIDs[0], tagID)
	}
	return seeded{userID: userID, taskIDs: taskIDs, tagIDs: tagIDs}
}

func exec(t testing.TB, s *apptest.Server, query string, args ...any) {
	t.Helper()
	if err := s.DB.Exec(query, args...).Error; err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// ownedRows counts the rows of d's user in every table that holds user
// data; task links are counted by the seeded ids, so orphans would show.
func ownedRows(t testing.TB, s *apptest.Server, d seeded) map[string]int64 {
	t.Helper()
	return map[string]int64{
		"users":          count(t, s, "SELECT COUNT(*) FROM users WHERE id = ?", d.userID),
		"tasks":          count(t, s, "SELECT COUNT(*) FROM tasks WHERE user_id = ?", d.userID),
		"tags":           count(t, s, "SELECT COUNT(*) FROM tags WHERE user_id = ?", d.userID),
		"refresh_tokens": count(t, s, "SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?", d.userID),
		"task_tags":      count(t, s, "SELECT COUNT(*) FROM task_tags WHERE task_id IN ? OR tag_id IN ?", d.taskIDs, d.tagIDs),
	}
}
