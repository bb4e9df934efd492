package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"taskflow/app"
	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/docs"
)

// The routes the app serves and the operations of its OpenAPI document are
// the same set: an endpoint nobody documented fails, and so does a
// documented one nobody serves. Development mode with DEBUG serves the most
// (the docs pages and pprof).
func TestServedRoutesAreTheDocumentedOperations(t *testing.T) {
	served := servedOperations(t, developmentApp(t))
	documented := documentedOperations(t)
	for _, op := range served {
		if !slices.Contains(documented, op) {
			t.Errorf("the app serves %s, which docs/openapi.json does not document", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(served, op) {
			t.Errorf("docs/openapi.json documents %s, which the app does not serve", op)
		}
	}
}

// The docs endpoints answer as the document says (apptest.Do checks every
// exchange): the other end-to-end tests reach them only through a browser.
func TestDocsEndpointsFollowTheDocument(t *testing.T) {
	dev := apptest.Start(t, apptest.SQLite(t), map[string]string{"ENVIRONMENT": "development"})
	for _, path := range []string{"/openapi.json", "/docs", "/redoc", "/docs/assets/swagger-ui.css", "/docs/assets/favicon-32x32.png"} {
		apptest.RequireStatus(t, dev.Do(t, apptest.Request{Method: http.MethodGet, Path: path}), http.StatusOK)
	}
	apptest.RequireProblem(t, dev.Do(t, apptest.Request{Method: http.MethodGet, Path: "/docs/assets/nope.js"}), http.StatusNotFound)
}

func TestFiberPathInDocumentForm(t *testing.T) {
	for fiberPath, want := range map[string]string{
		"/":                     "/",
		"/api/v1/tasks/":        "/api/v1/tasks",
		"/api/v1/tasks/:id":     "/api/v1/tasks/{id}",
		"/api/v1/tags/:id?":     "/api/v1/tags/{id}",
		"/docs/assets/*":        "/docs/assets/{file}",
		"/a/:first/b/:second/*": "/a/{first}/b/{second}/{file}",
	} {
		if got := documentPath(fiberPath); got != want {
			t.Errorf("documentPath(%q) = %q, want %q", fiberPath, got, want)
		}
	}
}

func developmentApp(t *testing.T) *fiber.App {
	t.Helper()
	env := apptest.Env(apptest.SQLite(t).URL)
	env["ENVIRONMENT"] = "development"
	env["DEBUG"] = "true"
	cfg := apptest.LoadConfig(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Options{URL: cfg.DatabaseURL.Reveal(), MaxOpenConns: 1, MaxIdleConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return app.New(app.Deps{Config: cfg, DB: db, Logger: log, Version: "test", Started: time.Now()})
}

// servedOperations lists the app's routes as "METHOD /path" in the
// document's path form. Middleware (app.Use, groups' handlers, pprof) is
// not an endpoint; nor is the HEAD route Fiber adds beside every GET.
// (Preflights are answered by the CORS middleware, not by routes.)
func servedOperations(t *testing.T, a *fiber.App) []string {
	t.Helper()
	routes := a.GetRoutes(true)
	gets := map[string]bool{}
	for _, r := range routes {
		if r.Method == http.MethodGet {
			gets[r.Path] = true
		}
	}
	var ops []string
	for _, r := range routes {
		if (r.Method == http.MethodHead && gets[r.Path]) || strings.HasPrefix(r.Path, "/debug/pprof") {
			continue
		}
		op := r.Method + " " + documentPath(r.Path)
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		t.Fatal("the app serves no routes")
	}
	slices.Sort(ops)
	return ops
}

func documentedOperations(t *testing.T) []string {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

var (
	fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)
	// Fiber's wildcards are unnamed; the document calls its one {file}
	// (the docs assets).
	fiberWildcard = regexp.MustCompile(`[*+][0-9]*`)
)

// documentPath turns a Fiber route path into the document's form: no
// trailing slash (Fiber routes "/tasks/" and "/tasks" alike), :id as {id}
// and a wildcard as {file}.
func documentPath(fiberPath string) string {
	p := fiberParam.ReplaceAllString(fiberPath, "{$1}")
	p = fiberWildcard.ReplaceAllString(p, "{file}")
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}
