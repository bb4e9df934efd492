package e2e

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
	"taskflow/models"
)

// fixtureDir holds the Node.js fixture: a real Better Auth server and an
// HS256 minter for the shared-secret setup (see its README.md).
const fixtureDir = "testdata/betterauth"

const (
	fixtureStartTimeout = 30 * time.Second
	fixtureStopTimeout  = 5 * time.Second
	mintTimeout         = 15 * time.Second
)

// TestBetterAuthJWKS runs TaskFlow against a real Better Auth server: its
// JWTs (EdDSA, checked against its JWKS, iss and aud = its base URL) work
// on every task endpoint, each of its users sees only their own tasks, and
// a token signed by any other key is refused.
func TestBetterAuthJWKS(t *testing.T) {
	ba := startBetterAuth(t)
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"AUTH_JWKS_URL":      ba.URL + "/api/auth/jwks",
		"BETTER_AUTH_URL":    ba.URL,
		"BETTER_AUTH_SECRET": "", // the JWKS alone, as a Better Auth deployment has it
	})
	alice := ba.signUp(t, "alice@example.com", "Alice")
	bob := ba.signUp(t, "bob@example.com", "Bob")

	// Alice's tasks.
	created := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: alice.JWT,
		Body: map[string]any{"title": "Ship the Better Auth login"}})
	apptest.RequireStatus(t, created, http.StatusCreated)
	taskID := requireTaskTitled(t, created, "Ship the Better Auth login")
	requireTaskIDs(t, s, alice.JWT, taskID)
	requireExternalCaller(t, s, ba.URL, alice)

	// Bob, another user of the same Better Auth, sees none of them.
	requireTaskIDs(t, s, bob.JWT)
	apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks/" + taskID, Token: bob.JWT}), http.StatusNotFound)
	requireExternalCaller(t, s, ba.URL, bob)

	// Alice's claims, signed by a key that is not in the JWKS.
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate a key: %v", err)
	}
	kid, claims := unverifiedJWT(t, alice.JWT)
	requireUnauthorized(t, s, signEdDSA(t, otherKey, kid, claims), "same kid as the JWKS key, other key")
	requireUnauthorized(t, s, signEdDSA(t, otherKey, "not-in-the-jwks", claims), "unknown kid")
	// Alice's tasks are still hers alone, and still there.
	requireTaskIDs(t, s, alice.JWT, taskID)

	// With BETTER_AUTH_URL naming another deployment, the same genuine
	// token has the wrong iss and aud.
	elsewhere := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"AUTH_JWKS_URL":      ba.URL + "/api/auth/jwks",
		"BETTER_AUTH_URL":    "https://auth.example.com",
		"BETTER_AUTH_SECRET": "",
	})
	requireUnauthorized(t, elsewhere, alice.JWT, "iss and aud of another Better Auth URL")
}

// TestBetterAuthExpiredToken gets a token that lives a few seconds from a
// Better Auth server: TaskFlow takes it, then refuses it once it expires
// (the contract allows no leeway). Five seconds leave a slow machine time
// for the first call.
func TestBetterAuthExpiredToken(t *testing.T) {
	t.Parallel() // it mostly waits: let the browser test use that time
	ba := startBetterAuth(t, "JWT_EXPIRATION=5s")
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{
		"AUTH_JWKS_URL":      ba.URL + "/api/auth/jwks",
		"BETTER_AUTH_URL":    ba.URL,
		"BETTER_AUTH_SECRET": "",
	})
	user := ba.signUp(t, "erin@example.com", "Erin")
	_, claims := unverifiedJWT(t, user.JWT)
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		t.Fatalf("Better Auth token has no exp (%v): %v", err, claims)
	}
	fresh := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: user.JWT})
	if fresh.Status != http.StatusOK && time.Now().After(exp.Time) {
		t.Fatalf("the machine is too slow for this test: the token expired before its first use (status %d)", fresh.Status)
	}
	apptest.RequireStatus(t, fresh, http.StatusOK)
	requireTaskIDs(t, s, user.JWT)
	time.Sleep(time.Until(exp.Add(1500 * time.Millisecond)))
	requireUnauthorized(t, s, user.JWT, "expired")
}

// TestBetterAuthSharedSecret covers the original deployment: the frontend
// signs HS256 tokens with BETTER_AUTH_SECRET, which TaskFlow shares.
func TestBetterAuthSharedSecret(t *testing.T) {
	requireNode(t)
	const secret = "the-frontend-and-api-shared-secret-0123456789"
	s := apptest.Start(t, apptest.SQLite(t), map[string]string{"BETTER_AUTH_SECRET": secret})
	user := betterAuthUser{ID: "ba_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Email: "carol@example.com", Name: "Carol"}
	user.JWT = mint(t, "--secret", secret, "--sub", user.ID, "--email", user.Email, "--name", user.Name)

	created := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/tasks", Token: user.JWT,
		Body: map[string]any{"title": "Signed with the shared secret"}})
	apptest.RequireStatus(t, created, http.StatusCreated)
	taskID := requireTaskTitled(t, created, "Signed with the shared secret")
	requireTaskIDs(t, s, user.JWT, taskID)
	requireExternalCaller(t, s, "", user)

	requireUnauthorized(t, s, mint(t, "--secret", "another-secret-that-is-also-long-enough-0123", "--sub", user.ID), "other secret")
	requireUnauthorized(t, s, mint(t, "--secret", secret, "--sub", user.ID, "--exp-seconds", "-3600"), "expired")
	requireUnauthorized(t, s, apptest.SignHS256(t, secret, jwt.MapClaims{"sub": "", "exp": time.Now().Add(time.Hour).Unix()}), "empty sub")
}

// betterAuthServer is a running Better Auth fixture.
type betterAuthServer struct {
	URL string
}

// betterAuthUser is a user of the frontend, known to TaskFlow only by its token.
type betterAuthUser struct {
	ID, Email, Name string
	JWT             string
}

// requireNode skips the test (fails it in CI) when Node.js or the fixture's
// packages are missing.
func requireNode(t testing.TB) {
	t.Helper()
	_, err := exec.LookPath("node")
	requireTool(t, err == nil, "Node.js is not installed (node is not on PATH)")
	requireTool(t, fileExists(filepath.Join(fixtureDir, "node_modules", "better-auth", "package.json")),
		"the Better Auth fixture's packages are missing (run npm ci in e2e/testdata/betterauth)")
}

// startBetterAuth starts the fixture on a free loopback port with the given
// extra environment (KEY=value) and stops it when the test ends.
func startBetterAuth(t *testing.T, env ...string) *betterAuthServer {
	t.Helper()
	requireNode(t)
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = fixtureDir
	// Every setting of the fixture is given, so none leaks in from the
	// environment of whoever runs the tests; env entries come last and win.
	settings := []string{"PORT=0", "LOG_LEVEL=warn", "JWT_ALG=EdDSA", "JWT_EXPIRATION=15m",
		"JWT_ISSUER=", "JWT_AUDIENCE=", "BETTER_AUTH_SECRET="}
	cmd.Env = append(os.Environ(), append(settings, env...)...)
	stderr := &apptest.LogBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("Better Auth fixture: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Better Auth fixture: %v", err)
	}

	ready := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		lines := bufio.NewScanner(stdout)
		if lines.Scan() {
			ready <- lines.Text()
		}
		close(ready)
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait() // only after every read from stdout, as os/exec requires
	}()
	t.Cleanup(func() { stopProcess(t, cmd, exited) })

	select {
	case line, open := <-ready:
		if !open {
			// stdout closed without a line: the fixture is exiting, and
			// its reason is on stderr once it has.
			select {
			case <-exited:
			case <-time.After(fixtureStopTimeout):
			}
			t.Fatalf("Better Auth fixture exited before it was ready:\n%s", stderr.String())
		}
		base, ok := strings.CutPrefix(line, "READY ")
		if !ok {
			t.Fatalf("Better Auth fixture did not start (first line %q):\n%s", line, stderr.String())
		}
		return &betterAuthServer{URL: base}
	case <-time.After(fixtureStartTimeout):
		t.Fatalf("Better Auth fixture not ready within %s:\n%s", fixtureStartTimeout, stderr.String())
	}
	return nil
}

// stopProcess asks the fixture to stop (it deletes its database on
// SIGTERM) and kills it if it does not.
func stopProcess(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(fixtureStopTimeout):
		t.Logf("Better Auth fixture did not stop within %s: killing it", fixtureStopTimeout)
		_ = cmd.Process.Kill()
		<-exited
	}
}

// signUp creates a user with email and password, then gets its JWT the way
// the frontend does: the session token as a bearer on /api/auth/token.
func (b *betterAuthServer) signUp(t *testing.T, email, name string) betterAuthUser {
	t.Helper()
	// Better Auth's endpoints are not TaskFlow's: no contract to check.
	r := apptest.Do(t, b.URL, apptest.Request{Method: http.MethodPost, Path: "/api/auth/sign-up/email",
		Body: map[string]string{"email": email, "password": "correct horse battery", "name": name}, SkipContract: true})
	apptest.RequireStatus(t, r, http.StatusOK)
	var signedUp struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	r.JSON(t, &signedUp)
	if signedUp.Token == "" || signedUp.User.ID == "" {
		t.Fatalf("Better Auth sign-up gave no session token or user id: %s", r.Body)
	}

	r = apptest.Do(t, b.URL, apptest.Request{Method: http.MethodGet, Path: "/api/auth/token", Token: signedUp.Token, SkipContract: true})
	apptest.RequireStatus(t, r, http.StatusOK)
	var issued struct {
		Token string `json:"token"`
	}
	r.JSON(t, &issued)
	if strings.Count(issued.Token, ".") != 2 {
		t.Fatalf("Better Auth /api/auth/token gave no JWT: %s", r.Body)
	}
	return betterAuthUser{ID: signedUp.User.ID, Email: email, Name: name, JWT: issued.Token}
}

// mint runs mint.mjs with args and returns the HS256 token it prints.
func mint(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mintTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"mint.mjs"}, args...)...)
	cmd.Dir = fixtureDir
	out, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("node mint.mjs: %v\n%s", err, exitErr.Stderr)
		}
		t.Fatalf("node mint.mjs: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// unverifiedJWT returns the kid and claims of token without checking it.
func unverifiedJWT(t *testing.T, token string) (string, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		t.Fatalf("parse the Better Auth token: %v", err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return kid, claims
}

// signEdDSA signs claims with key under the header Better Auth writes:
// alg and kid, no typ.
func signEdDSA(t *testing.T, key ed25519.PrivateKey, kid string, claims jwt.MapClaims) string {
	t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	token.Header = map[string]any{"alg": "EdDSA", "kid": kid}
	signed, err := token.SignedString(key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return signed
}

// requireTaskTitled checks a task response and returns the task's id.
func requireTaskTitled(t *testing.T, r apptest.Response, title string) string {
	t.Helper()
	var task client.Task
	r.JSON(t, &task)
	if task.ID == "" || task.Title != title {
		t.Fatalf("task = %s, want an id and title %q", r.Body, title)
	}
	return task.ID
}

// requireTaskIDs checks that the token's user lists exactly the tasks ids.
func requireTaskIDs(t *testing.T, s *apptest.Server, token string, ids ...string) {
	t.Helper()
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token})
	apptest.RequireStatus(t, r, http.StatusOK)
	var list client.TaskList
	r.JSON(t, &list)
	got := make([]string, len(list.Items))
	for i, item := range list.Items {
		got[i] = item.ID
	}
	if list.Total != len(ids) || strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("listed tasks %v (total %d), want %v", got, list.Total, ids)
	}
}

// requireExternalCaller checks GET /api/v1/auth/me for an external user:
// its id is derived from issuer and the token's sub, with the email and
// name the token carries.
func requireExternalCaller(t *testing.T, s *apptest.Server, issuer string, user betterAuthUser) {
	t.Helper()
	wantID := models.ExternalUserID(issuer, user.ID)
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/auth/me", Token: user.JWT})
	apptest.RequireStatus(t, r, http.StatusOK)
	var me client.Me
	r.JSON(t, &me)
	if me.ID != wantID || me.Provider != "external" || me.Email == nil || *me.Email != user.Email || me.Name == nil || *me.Name != user.Name {
		t.Fatalf("GET /auth/me = %s, want id %q, provider external, email %q, name %q", r.Body, wantID, user.Email, user.Name)
	}
}

// requireUnauthorized checks that token is refused with a 401 problem and
// a Bearer challenge; why names the token in the failure message.
func requireUnauthorized(t *testing.T, s *apptest.Server, token, why string) {
	t.Helper()
	r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/tasks", Token: token})
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("token (%s): status = %d, want 401; body: %s", why, r.Status, r.Body)
	}
	apptest.RequireProblem(t, r, http.StatusUnauthorized)
	if challenge := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(challenge, "Bearer") {
		t.Fatalf("token (%s): WWW-Authenticate = %q, want a Bearer challenge", why, challenge)
	}
}
