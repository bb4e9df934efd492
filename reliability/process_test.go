package reliability

import (
	"maps"
	"os"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/apptest/proc"
)

// processEnv is the environment of a server process: the test settings
// apptest uses, bound to a random loopback port.
func processEnv(dbURL string, overrides map[string]string) map[string]string {
	process := map[string]string{"API_HOST": "127.0.0.1", "API_PORT": "0", "LOG_LEVEL": "info"}
	maps.Copy(process, overrides)
	return apptest.EnvWith(dbURL, process)
}

// startProcess launches the binary with exactly env (plus PATH and HOME) in
// an empty working directory, so no .env file or stray variable leaks in.
// It does not wait for readiness: see WaitReady.
func startProcess(t testing.TB, env map[string]string) *apptest.Process {
	t.Helper()
	environ := append(proc.Environ(env), "PATH="+os.Getenv("PATH"), "HOME="+os.Getenv("HOME"))
	return apptest.StartProcess(t, proc.Options{Env: environ})
}

// runServer starts the binary and waits until it answers /health/live.
func runServer(t testing.TB, env map[string]string) *apptest.Process {
	t.Helper()
	p := startProcess(t, env)
	p.WaitReady(t, 30*time.Second)
	return p
}
