package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"taskflow/app/apptest/proc"
)

// buildServer compiles the server as the deploy does (trimmed paths, no
// symbol table) into dir and returns the binary's path.
func buildServer(ctx context.Context, dir string) (string, error) {
	return proc.Build(ctx, dir, "bench")
}

// copyServer copies a given server binary into dir under name, where it
// runs with no .env beside it.
func copyServer(path, dir, name string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	return bin, os.WriteFile(bin, data, 0o755)
}

// serverEnv is the environment of a benchmark server: production settings
// (unless the embedded SQLite is measured: production requires PostgreSQL),
// fresh secrets, quiet logs.
type serverEnv struct {
	DatabaseURL string
	Production  bool
	JWTSecret   string
	Extra       map[string]string // more variables (pool sizes, DEBUG)
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (e serverEnv) environ(port int) []string {
	environment := "production"
	if !e.Production {
		environment = "development"
	}
	vars := map[string]string{
		"PATH":               os.Getenv("PATH"),
		"HOME":               os.Getenv("HOME"),
		"ENVIRONMENT":        environment,
		"DATABASE_URL":       e.DatabaseURL,
		"JWT_SECRET_KEY":     e.JWTSecret,
		"BETTER_AUTH_SECRET": newSecret(),
		"CORS_ORIGINS":       "https://bench.example.com",
		"API_HOST":           "127.0.0.1",
		"PORT":               strconv.Itoa(port),
		"LOG_LEVEL":          "warn",
		// The schema is migrated before the server starts, as the deploy's
		// pre-deploy step does; start-up is then the server's own.
		"AUTO_MIGRATE": "false",
		// Thousands of searches a second from 51 users (list filter+q) are
		// what the bench measures, not the per-user search limit.
		"SEARCH_RATE_LIMIT": "100000000",
	}
	for k, v := range e.Extra {
		vars[k] = v
	}
	return proc.Environ(vars)
}

// server is a running server process.
type server struct {
	URL       string
	Pid       int
	StartupMS float64 // from exec to the first 200 from /health
	p         *proc.Process
}

// startServer runs bin in its own empty directory (so no .env is read)
// and waits until /health answers 200.
func startServer(ctx context.Context, bin string, env serverEnv) (*server, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	p, err := proc.Start(bin, proc.Options{Dir: filepath.Dir(bin), Env: env.environ(port), Args: []string{"serve"}, OwnProcessGroup: true})
	if err != nil {
		return nil, err
	}
	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Pid: p.Pid(), p: p}
	if err := s.waitHealthy(ctx, 15*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server output:\n%s", err, p.Output())
	}
	s.StartupMS = float64(time.Since(started).Microseconds()) / 1000
	return s, nil
}

// waitHealthy polls /health every millisecond: start-up is measured to
// that resolution.
func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	_, err := s.p.WaitStatus(ctx, s.URL+"/health", http.StatusOK, time.Millisecond)
	return err
}

// stop sends SIGTERM and waits for the graceful shutdown.
func (s *server) stop() { s.p.Stop(15 * time.Second) }
