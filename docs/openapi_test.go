package docs

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIIsValid(t *testing.T) {
	doc := loadDoc(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info.Title != "TaskFlow API" || doc.Info.Version != "1.0.0" {
		t.Errorf("info = %q %q, want TaskFlow API 1.0.0", doc.Info.Title, doc.Info.Version)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want exactly [{url: /}]", doc.Servers)
	}
}

// The file is hand-maintained: keep it in one canonical layout (2-space JSON,
// trailing newline) so that diffs stay readable.
func TestOpenAPIIsCanonicallyFormatted(t *testing.T) {
	raw := OpenAPI()
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	var want bytes.Buffer
	if err := json.Indent(&want, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	want.WriteByte('\n')
	if !bytes.Equal(raw, want.Bytes()) {
		t.Error("openapi.json is not formatted as 2-space-indented JSON with a trailing newline")
	}
}

// contractOperations lists every operation of the HTTP contract.
var contractOperations = map[string][]string{
	"/":                          {"GET"},
	"/health":                    {"GET"},
	"/health/live":               {"GET"},
	"/metrics":                   {"GET"},
	"/openapi.json":              {"GET"},
	"/docs":                      {"GET"},
	"/redoc":                     {"GET"},
	"/docs/assets/{file}":        {"GET"},
	"/api/v1/auth/register":      {"POST"},
	"/api/v1/auth/login":         {"POST"},
	"/api/v1/auth/refresh":       {"POST"},
	"/api/v1/auth/logout":        {"POST"},
	"/api/v1/auth/me":            {"GET", "DELETE", "PATCH"},
	"/api/v1/auth/password":      {"POST"},
	"/api/v1/auth/logout-all":    {"POST"},
	"/api/v1/tasks":              {"GET", "POST"},
	"/api/v1/tasks/{id}":         {"GET", "PUT", "PATCH", "DELETE"},
	"/api/v1/tasks/{id}/move":    {"POST"},
	"/api/v1/tags":               {"GET", "POST"},
	"/api/v1/tags/{id}":          {"GET", "PATCH", "DELETE"},
	"/api/v1/projects":           {"GET", "POST"},
	"/api/v1/projects/{id}":      {"GET", "PATCH", "DELETE"},
	"/api/v1/projects/{id}/move": {"POST"},
	"/api/v1/events":             {"GET"},
	"/api/v1/events/ticket":      {"POST"},
	"/api/v1/sync":               {"GET"},
	"/api/v1/batch":              {"POST"},
}

var publicAuthPaths = map[string]bool{
	"/api/v1/auth/register": true,
	"/api/v1/auth/login":    true,
	"/api/v1/auth/refresh":  true,
	"/api/v1/auth/logout":   true,
}

func TestOpenAPIPathsMatchContract(t *testing.T) {
	doc := loadDoc(t)
	for path, want := range contractOperations {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("path %s is missing", path)
			continue
		}
		var got []string
		for method := range item.Operations() {
			got = append(got, method)
		}
		sort.Strings(got)
		want = slices.Clone(want)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: methods %v, want %v", path, got, want)
		}
	}
	for path := range doc.Paths.Map() {
		if _, ok := contractOperations[path]; !ok {
			t.Errorf("path %s is not in the contract", path)
		}
	}
}

type operation struct {
	method, path string
	op           *openapi3.Operation
}

func (o operation) String() string { return o.method + " " + o.path }

func operations(doc *openapi3.T) []operation {
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

func isAuthenticated(o operation) bool {
	return strings.HasPrefix(o.path, "/api/v1/") && !publicAuthPaths[o.path]
}

func TestOpenAPISecurity(t *testing.T) {
	doc := loadDoc(t)
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" || scheme.Value.BearerFormat != "JWT" {
		t.Fatalf("securitySchemes.bearerAuth must be http bearer JWT, got %+v", scheme)
	}
	if len(doc.Security) != 0 {
		t.Errorf("top-level security must be empty, operations declare their own")
	}
	for _, o := range operations(doc) {
		hasBearer := false
		if o.op.Security != nil {
			for _, req := range *o.op.Security {
				if _, ok := req["bearerAuth"]; ok {
					hasBearer = true
				}
			}
		}
		if want := isAuthenticated(o); hasBearer != want {
			t.Errorf("%s: bearerAuth security = %v, want %v", o, hasBearer, want)
		}
	}
}

func TestOpenAPIRequestIDEverywhere(t *testing.T) {
	doc := loadDoc(t)
	for _, o := range operations(doc) {
		sendsID := false
		for _, p := range o.op.Parameters {
			if p.Value.In == "header" && p.Value.Name == "X-Request-ID" && !p.Value.Required {
				sendsID = true
			}
		}
		if !sendsID {
			t.Errorf("%s: no optional X-Request-ID header parameter", o)
		}
		for status, resp := range o.op.Responses.Map() {
			h := resp.Value.Headers["X-Request-ID"]
			if h == nil || h.Value == nil {
				t.Errorf("%s %s: response has no X-Request-ID header", o, status)
			}
		}
	}
}

func TestOpenAPIErrorResponses(t *testing.T) {
	doc := loadDoc(t)
	for _, o := range operations(doc) {
		resps := o.op.Responses
		need := func(status, why string) {
			if resps.Value(status) == nil {
				t.Errorf("%s: no %s response (%s)", o, status, why)
			}
		}
		if isAuthenticated(o) {
			need("401", "authenticated")
			need("503", "authenticated")
		}
		if o.op.RequestBody != nil {
			if o.op.RequestBody.Value.Content.Get("application/json") == nil {
				t.Errorf("%s: request body is not application/json", o)
			}
			for _, s := range []string{"400", "413", "415", "422"} {
				need(s, "JSON body")
			}
		}
		for status, resp := range resps.Map() {
			if status[0] != '4' && status[0] != '5' || o.path == "/health" {
				continue
			}
			if resp.Value.Content.Get("application/problem+json") == nil {
				t.Errorf("%s %s: error response is not a problem document", o, status)
			}
			if status == "401" && resp.Value.Headers["WWW-Authenticate"] == nil {
				t.Errorf("%s 401: no WWW-Authenticate header", o)
			}
			if status == "429" && resp.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s 429: no Retry-After header", o)
			}
		}
	}
}

func TestOpenAPIProblemTypes(t *testing.T) {
	doc := loadDoc(t)
	want := map[string]int{
		"BadRequest": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "MethodNotAllowed": 405,
		"Conflict": 409, "PreconditionFailed": 412, "PayloadTooLarge": 413,
		"UnsupportedMediaType": 415, "ValidationFailed": 422, "RateLimited": 429,
		"InternalError": 500, "Unavailable": 503,
	}
	urn := regexp.MustCompile(`^urn:taskflow:problem:[a-z-]+$`)
	for name, status := range want {
		resp := doc.Components.Responses[name]
		if resp == nil {
			t.Errorf("components.responses.%s is missing", name)
			continue
		}
		mt := resp.Value.Content.Get("application/problem+json")
		if mt == nil {
			t.Errorf("%s: not application/problem+json", name)
			continue
		}
		ex, _ := mt.Example.(map[string]any)
		if got, _ := ex["status"].(float64); int(got) != status {
			t.Errorf("%s: example status %v, want %d", name, ex["status"], status)
		}
		if typ, _ := ex["type"].(string); !urn.MatchString(typ) {
			t.Errorf("%s: example type %q is not a problem URN", name, typ)
		}
	}
	problem := doc.Components.Schemas["Problem"].Value
	for _, f := range []string{"type", "title", "status", "detail", "request_id"} {
		if !slices.Contains(problem.Required, f) {
			t.Errorf("Problem: %s is not required", f)
		}
	}
}

func TestOpenAPITaskOperations(t *testing.T) {
	doc := loadDoc(t)
	tasks := doc.Paths.Value("/api/v1/tasks")
	created := tasks.Post.Responses.Value("201")
	if created == nil || created.Value.Headers["Location"] == nil || created.Value.Headers["ETag"] == nil {
		t.Error("POST /api/v1/tasks: 201 must have Location and ETag headers")
	}
	item := doc.Paths.Value("/api/v1/tasks/{id}")
	for method, op := range map[string]*openapi3.Operation{"GET": item.Get, "PUT": item.Put, "PATCH": item.Patch} {
		ok := op.Responses.Value("200")
		if ok == nil || ok.Value.Headers["ETag"] == nil {
			t.Errorf("%s /api/v1/tasks/{id}: 200 must have an ETag header", method)
		}
	}
	for method, op := range map[string]*openapi3.Operation{"PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
		if op.Parameters.GetByInAndName("header", "If-Match") == nil {
			t.Errorf("%s /api/v1/tasks/{id}: no If-Match parameter", method)
		}
		if op.Responses.Value("412") == nil {
			t.Errorf("%s /api/v1/tasks/{id}: no 412 response", method)
		}
	}
	sort := tasks.Get.Parameters.GetByInAndName("query", "sort")
	if sort == nil || len(sort.Schema.Value.Enum) != 11 || sort.Schema.Value.Default != "-created_at" {
		t.Error("GET /api/v1/tasks: sort must be an enum of 11 values defaulting to -created_at")
	}
	for _, name := range []string{"updated_after", "due", "project_id", "parent_id"} {
		if tasks.Get.Parameters.GetByInAndName("query", name) == nil {
			t.Errorf("GET /api/v1/tasks: no %s parameter", name)
		}
	}
	if item.Get.Parameters.GetByInAndName("header", "If-None-Match") == nil || item.Get.Responses.Value("304") == nil {
		t.Error("GET /api/v1/tasks/{id}: needs an If-None-Match parameter and a 304 response")
	}
	limit := tasks.Get.Parameters.GetByInAndName("query", "limit")
	if limit == nil || *limit.Schema.Value.Min != 1 || *limit.Schema.Value.Max != 100 || limit.Schema.Value.Default != float64(20) {
		t.Error("GET /api/v1/tasks: limit must be 1..100, default 20")
	}
	// Unknown request members are ignored, never rejected.
	for name, s := range doc.Components.Schemas {
		if ap := s.Value.AdditionalProperties.Has; ap != nil && !*ap {
			t.Errorf("schema %s forbids additional properties", name)
		}
	}
}

func TestOpenAPIProjectOperations(t *testing.T) {
	doc := loadDoc(t)
	projects := doc.Paths.Value("/api/v1/projects")
	created := projects.Post.Responses.Value("201")
	if created == nil || created.Value.Headers["Location"] == nil || created.Value.Headers["ETag"] == nil {
		t.Error("POST /api/v1/projects: 201 must have Location and ETag headers")
	}
	archived := projects.Get.Parameters.GetByInAndName("query", "archived")
	if archived == nil || len(archived.Schema.Value.Enum) != 3 || archived.Schema.Value.Default != "false" {
		t.Error("GET /api/v1/projects: archived must be an enum of false, true, any defaulting to false")
	}
	item := doc.Paths.Value("/api/v1/projects/{id}")
	move := doc.Paths.Value("/api/v1/projects/{id}/move")
	taskMove := doc.Paths.Value("/api/v1/tasks/{id}/move")
	for name, op := range map[string]*openapi3.Operation{
		"GET /api/v1/projects/{id}": item.Get, "PATCH /api/v1/projects/{id}": item.Patch,
		"POST /api/v1/projects/{id}/move": move.Post, "POST /api/v1/tasks/{id}/move": taskMove.Post,
	} {
		ok := op.Responses.Value("200")
		if ok == nil || ok.Value.Headers["ETag"] == nil {
			t.Errorf("%s: 200 must have an ETag header", name)
		}
	}
	for name, op := range map[string]*openapi3.Operation{
		"PATCH /api/v1/projects/{id}": item.Patch, "DELETE /api/v1/projects/{id}": item.Delete,
		"POST /api/v1/projects/{id}/move": move.Post, "POST /api/v1/tasks/{id}/move": taskMove.Post,
	} {
		if op.Parameters.GetByInAndName("header", "If-Match") == nil || op.Responses.Value("412") == nil {
			t.Errorf("%s: needs an If-Match parameter and a 412 response", name)
		}
		if op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
			t.Errorf("%s: no Idempotency-Key parameter", name)
		}
	}
	if item.Get.Parameters.GetByInAndName("header", "If-None-Match") == nil || item.Get.Responses.Value("304") == nil {
		t.Error("GET /api/v1/projects/{id}: needs an If-None-Match parameter and a 304 response")
	}
}

// The schema examples double as checks that the schemas accept real payloads.
func TestOpenAPISchemasAcceptSamples(t *testing.T) {
	doc := loadDoc(t)
	samples := map[string]string{
		"Task": `{"id":"0192f6a4-7b3c-7d2e-9f10-1a2b3c4d5e6f","title":"t","description":"","completed":false,
			"priority":"medium","due_date":null,"tags":[],"project_id":null,"parent_id":null,"position":"V",
			"created_at":"2025-01-15T09:32:00Z",
			"updated_at":"2025-01-15T09:32:00Z","completed_at":null,"version":1}`,
		"Me":        `{"id":"user_abc","email":null,"name":null,"created_at":null,"provider":"external"}`,
		"Health":    `{"status":"error","database":"unavailable","version":"1.0.0","uptime_s":3}`,
		"ApiInfo":   `{"name":"TaskFlow API","version":"1.0.0","environment":"production","docs":null}`,
		"TaskPatch": `{"due_date":null,"user_id":"ignored"}`,
		"TagPatch":  `{"color":null}`,
		"Project": `{"id":"0192f6a4-5d20-7a10-8b3c-1f2e3d4c5b6a","name":"p","color":null,"position":"V","archived":false,
			"task_count":0,"open_task_count":0,"created_at":"2025-01-15T09:30:00Z","updated_at":"2025-01-15T09:30:00Z","version":1}`,
		"TaskMove":     `{"project_id":null,"parent_id":null,"after_id":null}`,
		"ProjectMove":  `{}`,
		"ProjectPatch": `{"color":null,"archived":true}`,
		"Problem": `{"type":"urn:taskflow:problem:validation","title":"Validation Failed","status":422,
			"detail":"invalid","request_id":"abc","errors":[{"field":"title","message":"required"}]}`,
	}
	for name, sample := range samples {
		var v any
		if err := json.Unmarshal([]byte(sample), &v); err != nil {
			t.Fatalf("%s sample: %v", name, err)
		}
		if err := doc.Components.Schemas[name].Value.VisitJSON(v); err != nil {
			t.Errorf("%s rejects a valid sample: %v", name, err)
		}
	}
	bad := map[string]string{
		"TaskCreate": `{"title":"t","priority":"urgent"}`,
		"TagCreate":  `{"name":"x","color":"blue"}`,
		"Task": `{"id":"0192f6a4-7b3c-7d2e-9f10-1a2b3c4d5e6f","title":"t","description":"","completed":false,
			"priority":"medium","due_date":null,"tags":[],"created_at":"2025-01-15T09:32:00Z",
			"updated_at":"2025-01-15T09:32:00Z","completed_at":null,"version":1}`,
		"ProjectCreate": `{"name":"x","color":"#12345"}`,
		"ProjectPatch":  `{"archived":"yes"}`,
		"Problem":       `{"type":"about:blank","title":"x","status":400,"detail":"x","request_id":"x"}`,
	}
	for name, sample := range bad {
		var v any
		if err := json.Unmarshal([]byte(sample), &v); err != nil {
			t.Fatalf("%s sample: %v", name, err)
		}
		if err := doc.Components.Schemas[name].Value.VisitJSON(v); err == nil {
			t.Errorf("%s accepts an invalid sample: %s", name, sample)
		}
	}
}

var (
	srcAttr      = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	scriptTag    = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)
	inlineHandle = regexp.MustCompile(`(?i)\son[a-z]+=`)
)

func TestPagesLoadOnlyEmbeddedAssets(t *testing.T) {
	for name, page := range map[string][]byte{"swagger": SwaggerPage(), "redoc": RedocPage()} {
		refs := srcAttr.FindAllSubmatch(page, -1)
		if len(refs) == 0 {
			t.Fatalf("%s page references no assets", name)
		}
		for _, m := range refs {
			ref := string(m[1])
			file, ok := strings.CutPrefix(ref, AssetsPath)
			if !ok {
				t.Errorf("%s page loads %q, not from %s", name, ref, AssetsPath)
				continue
			}
			if _, _, err := Asset(file); err != nil {
				t.Errorf("%s page loads %q, which is not embedded: %v", name, ref, err)
			}
		}
		for _, m := range scriptTag.FindAllSubmatch(page, -1) {
			if !bytes.Contains(m[1], []byte("src=")) || len(bytes.TrimSpace(m[2])) > 0 {
				t.Errorf("%s page has an inline script", name)
			}
		}
		if inlineHandle.Match(page) || bytes.Contains(page, []byte("style=")) {
			t.Errorf("%s page has inline event handlers or styles", name)
		}
	}
	if !bytes.Contains(SwaggerPage(), []byte(AssetsPath+"swagger-init.js")) {
		t.Error("swagger page does not load swagger-init.js")
	}
	if !bytes.Contains(RedocPage(), []byte(AssetsPath+"redoc-init.js")) {
		t.Error("redoc page does not load redoc-init.js")
	}
}

func TestInitScriptsLoadTheDocument(t *testing.T) {
	for _, name := range []string{"swagger-init.js", "redoc-init.js"} {
		data, err := fs.ReadFile(Assets(), name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte(`"/openapi.json"`)) {
			t.Errorf("%s does not load /openapi.json", name)
		}
	}
	data, _ := fs.ReadFile(Assets(), "swagger-init.js")
	for _, opt := range []string{"persistAuthorization: true", "tryItOutEnabled: true"} {
		if !bytes.Contains(data, []byte(opt)) {
			t.Errorf("swagger-init.js lacks %q", opt)
		}
	}
}

func TestAssetsHaveLicences(t *testing.T) {
	for _, name := range []string{
		"README.md", "swagger-ui-dist.LICENSE.txt", "swagger-ui-dist.NOTICE.txt",
		"swagger-ui-bundle.js.LICENSE.txt", "redoc.LICENSE.txt", "redoc.standalone.js.LICENSE.txt",
	} {
		if _, err := fs.Stat(Assets(), name); err != nil {
			t.Errorf("assets/%s is missing", name)
		}
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"swagger-ui.css":       "text/css; charset=utf-8",
		"favicon-32x32.png":    "image/png",
		"redoc.LICENSE.txt":    "text/plain; charset=utf-8",
		"README.md":            "text/markdown; charset=utf-8",
		"x.JS":                 "text/javascript; charset=utf-8",
		"noext":                "application/octet-stream",
		"dir.js/noext":         "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
	// Every embedded asset has a known type.
	_ = fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ContentType(p) == "application/octet-stream" {
			t.Errorf("asset %s has no known content type", p)
		}
		return nil
	})
}
