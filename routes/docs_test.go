package routes

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"taskflow/docs"
)

func docsApp() *fiber.App {
	app := fiber.New()
	Docs(app)
	return app
}

func docsGet(t *testing.T, app *fiber.App, method, path string) (int, string, []byte, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest(method, path, nil), -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get(fiber.HeaderContentType), body, resp.Header.Get(fiber.HeaderCacheControl)
}

func TestDocsRoutes(t *testing.T) {
	app := docsApp()
	cases := []struct {
		path, contentType, contains string
	}{
		{"/openapi.json", "application/json", `"openapi": "3.0.3"`},
		{"/docs", "text/html; charset=utf-8", "/docs/assets/swagger-init.js"},
		{"/redoc", "text/html; charset=utf-8", "/docs/assets/redoc-init.js"},
		{"/docs/assets/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/docs/assets/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
		{"/docs/assets/swagger-init.js", "text/javascript; charset=utf-8", "/openapi.json"},
		{"/docs/assets/redoc.standalone.js", "text/javascript; charset=utf-8", "Redoc"},
		{"/docs/assets/redoc-init.js", "text/javascript; charset=utf-8", "Redoc.init"},
		{"/docs/assets/favicon-32x32.png", "image/png", "PNG"},
		{"/docs/assets/redoc.LICENSE.txt", "text/plain; charset=utf-8", "MIT"},
	}
	for _, tc := range cases {
		status, ct, body, cache := docsGet(t, app, fiber.MethodGet, tc.path)
		if status != fiber.StatusOK {
			t.Errorf("GET %s: status %d, want 200", tc.path, status)
			continue
		}
		if ct != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
		}
		if !bytes.Contains(body, []byte(tc.contains)) {
			t.Errorf("GET %s: body does not contain %q", tc.path, tc.contains)
		}
		isAsset := strings.HasPrefix(tc.path, "/docs/assets/")
		if isAsset && cache != "public, max-age=86400" {
			t.Errorf("GET %s: Cache-Control %q, want public, max-age=86400", tc.path, cache)
		}
		if !isAsset && cache != "" {
			t.Errorf("GET %s: unexpected Cache-Control %q", tc.path, cache)
		}
	}
}

func TestDocsServesTheEmbeddedDocument(t *testing.T) {
	_, _, body, _ := docsGet(t, docsApp(), fiber.MethodGet, "/openapi.json")
	if !bytes.Equal(body, docs.OpenAPI()) {
		t.Error("/openapi.json differs from docs.OpenAPI()")
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	// The full asset must come back, not a prefix.
	_, _, bundle, _ := docsGet(t, docsApp(), fiber.MethodGet, "/docs/assets/redoc.standalone.js")
	if len(bundle) < 500_000 {
		t.Errorf("redoc.standalone.js: got %d bytes, want the whole bundle", len(bundle))
	}
}

func TestDocsHead(t *testing.T) {
	status, ct, body, _ := docsGet(t, docsApp(), fiber.MethodHead, "/docs/assets/swagger-ui.css")
	if status != fiber.StatusOK || ct != "text/css; charset=utf-8" || len(body) != 0 {
		t.Errorf("HEAD asset: status %d, Content-Type %q, %d body bytes", status, ct, len(body))
	}
}

// Unknown assets are fiber.ErrNotFound for the app's error handler to render.
func TestDocsUnknownAssetIsNotFound(t *testing.T) {
	var handled []error
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		handled = append(handled, err)
		return fiber.DefaultErrorHandler(c, err)
	}})
	Docs(app)
	for _, path := range []string{
		"/docs/assets/nope.js",
		"/docs/assets/",
		"/docs/assets/..%2fopenapi.json",
		"/docs/assets/./swagger-init.js%00",
		"/docs/assets/%2e%2e/docs.go",
	} {
		handled = nil
		status, _, _, cache := docsGet(t, app, fiber.MethodGet, path)
		if status != fiber.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, status)
		}
		if cache != "" {
			t.Errorf("GET %s: 404 with Cache-Control %q", path, cache)
		}
		if len(handled) != 1 || handled[0] != fiber.ErrNotFound {
			t.Errorf("GET %s: handler returned %v, want fiber.ErrNotFound", path, handled)
		}
	}
}

// The large bundles are stored compressed: a client that accepts gzip gets
// the stored bytes, one that does not gets them decompressed.
func TestDocsAssetGzip(t *testing.T) {
	req := httptest.NewRequest(fiber.MethodGet, "/docs/assets/swagger-ui-bundle.js", nil)
	req.Header.Set(fiber.HeaderAcceptEncoding, "gzip, deflate, br")
	resp, err := docsApp().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != fiber.StatusOK || resp.Header.Get(fiber.HeaderContentEncoding) != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q; want 200 and gzip", resp.StatusCode, resp.Header.Get(fiber.HeaderContentEncoding))
	}
	if got := resp.Header.Get(fiber.HeaderVary); !strings.Contains(got, "Accept-Encoding") {
		t.Errorf("Vary = %q, want Accept-Encoding", got)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(plain, []byte("SwaggerUIBundle")) {
		t.Fatalf("decompressed body lacks SwaggerUIBundle (err %v)", err)
	}
	_, _, direct, _ := docsGet(t, docsApp(), fiber.MethodGet, "/docs/assets/swagger-ui-bundle.js")
	if !bytes.Equal(direct, plain) {
		t.Error("the decompressed and the plain responses differ")
	}
	status, _, _, _ := docsGet(t, docsApp(), fiber.MethodGet, "/docs/assets/swagger-ui-bundle.js.gz")
	if status != fiber.StatusNotFound {
		t.Errorf("GET the stored .gz name: status %d, want 404", status)
	}
}
