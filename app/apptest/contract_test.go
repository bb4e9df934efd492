package apptest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

const (
	taskID = "0192f6a4-7b3c-7d2e-9f10-1a2b3c4d5e6f"
	taskOK = `{"id":"` + taskID + `","title":"t","description":"","completed":false,"priority":"medium",
		"due_date":null,"tags":[],"project_id":null,"parent_id":null,"position":"V","created_at":"2025-01-15T09:32:00Z",
		"updated_at":"2025-01-15T09:32:00Z","completed_at":null,"version":1}`
	problemOK = `{"type":"urn:taskflow:problem:not-found","title":"Not Found","status":404,"detail":"no such route","request_id":"r1"}`
)

func exchange(method, target, reqBody string, status int, contentType, body string, headers ...string) Exchange {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		panic(err)
	}
	h := http.Header{"X-Request-Id": {"r1"}}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	reqHeader := http.Header{"Authorization": {"Bearer x"}}
	if reqBody != "" {
		reqHeader.Set("Content-Type", "application/json")
	}
	return Exchange{Method: method, URL: u, Header: reqHeader, Body: []byte(reqBody),
		Response: Response{Status: status, Header: h, Body: []byte(body)}}
}

func TestContractProblems(t *testing.T) {
	c := TheContract(t)
	tests := []struct {
		name string
		x    Exchange
		want string // a part of the one problem expected; "" for none
	}{
		{"conforming", exchange("GET", "/health/live", "", 200, "application/json", `{"status":"ok"}`), ""},
		{"path parameter matched", exchange("GET", "/api/v1/tasks/"+taskID, "", 200, "application/json", taskOK, "ETag", `"1"`), ""},
		{"missing member", exchange("GET", "/api/v1/tasks/"+taskID, "", 200, "application/json",
			strings.Replace(taskOK, `"tags":[],`, "", 1), "ETag", `"1"`), `"tags"`},
		{"id not a UUID", exchange("GET", "/api/v1/tasks/"+taskID, "", 200, "application/json",
			strings.Replace(taskOK, taskID, "42", 1), "ETag", `"1"`), "uuid"},
		{"missing required header", exchange("GET", "/api/v1/tasks/"+taskID, "", 200, "application/json", taskOK), `"ETag" missing`},
		{"undocumented status", exchange("GET", "/health/live", "", 404, "application/problem+json", problemOK), "status is not supported"},
		{"wrong content type", exchange("GET", "/health/live", "", 200, "text/plain", "ok"), "text/plain"},
		{"error that is not a problem document", exchange("GET", "/api/v1/tasks/"+taskID, "", 404, "application/json", `{"error":"x"}`), "application/json"},
		{"unknown path, problem document", exchange("GET", "/nope", "", 404, "application/problem+json", problemOK), ""},
		{"problem with another status", exchange("GET", "/nope", "", 400, "application/problem+json", problemOK), "says status 404"},
		{"problem with another request id", exchange("GET", "/api/v1/tasks/"+taskID, "", 404, "application/problem+json",
			strings.Replace(problemOK, `"r1"`, `"r2"`, 1)), `request_id "r2"`},
		{"unknown path, anything else", exchange("GET", "/nope", "", 404, "text/plain", "Cannot GET /nope"), "problem document"},
		{"unknown method, bad problem", exchange("TRACE", "/health", "", 405, "application/problem+json", `{"status":405}`), "Problem schema"},
		{"invalid request refused", exchange("POST", "/api/v1/tasks", `{"title":5}`, 422, "application/problem+json",
			strings.NewReplacer("not-found", "validation", "Not Found", "Unprocessable Entity", "404", "422").Replace(problemOK)), ""},
		{"invalid request accepted", exchange("POST", "/api/v1/tasks", `{"title":5}`, 201, "application/json", taskOK,
			"ETag", `"1"`, "Location", "/api/v1/tasks/"+taskID), "accepted a request the document does not allow"},
		{"valid request accepted", exchange("POST", "/api/v1/tasks", `{"title":"t","tag_ids":null,"unknown":1}`, 201, "application/json", taskOK,
			"ETag", `"1"`, "Location", "/api/v1/tasks/"+taskID), ""},
		{"unknown query parameter", exchange("GET", "/health/live?verbose=1", "", 200, "application/json", `{"status":"ok"}`), ""},
		{"invalid query accepted", exchange("GET", "/api/v1/tasks?limit=500", "", 200, "application/json",
			`{"items":[],"total":0,"limit":20,"offset":0}`), `"limit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := c.Problems(tt.x)
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("problems %q, want none", problems)
			case tt.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tt.want)):
				t.Errorf("problems %q, want one that mentions %q", problems, tt.want)
			}
		})
	}
}

// errorRecorder is a testing.TB that keeps what Errorf reports.
type errorRecorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestDoChecksTheContractUnlessSkipped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("Cannot GET"))
	}))
	t.Cleanup(srv.Close)

	rec := &errorRecorder{TB: t}
	Do(rec, srv.URL, Request{Method: http.MethodGet, Path: "/nope"})
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /nope → 404") {
		t.Errorf("errors %q, want one naming GET /nope → 404", rec.errors)
	}

	rec = &errorRecorder{TB: t}
	Do(rec, srv.URL, Request{Method: http.MethodGet, Path: "/nope", SkipContract: true})
	if len(rec.errors) != 0 {
		t.Errorf("SkipContract: errors %q, want none", rec.errors)
	}
}
