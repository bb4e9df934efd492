package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

const (
	tasksPath = "/api/v1/tasks"
	tagsPath  = "/api/v1/tags"
	authPath  = "/api/v1/auth"
)

// call is one HTTP request. Body is sent as is with Content-Type
// application/json unless ContentType says otherwise.
type call struct {
	Method      string
	Path        string
	Token       string
	Body        []byte
	ContentType string
	Headers     map[string]string
}

// outcome is what a client saw: a response, or an error and how far the
// exchange had got when it happened.
type outcome struct {
	Status   int
	Header   http.Header
	Body     []byte
	Err      error
	Failure  failure
	Duration time.Duration
	Close    bool // the server said it closes the connection after this response
}

// failure classifies a transport error by the moment it happened; only the
// first two are acceptable while a server stops.
type failure int

const (
	noFailure      failure = iota
	refused                // the connection was refused: nobody listens
	beforeResponse         // connected, but no byte of a response arrived
	duringResponse         // the response started and was cut off
	clientTimedOut         // the client's own deadline passed
)

func (f failure) String() string {
	return [...]string{"none", "refused", "closed before response", "cut during response", "client timeout"}[f]
}

// newClient returns a client with its own connection pool; keepAlive false
// opens a new connection for every request.
func newClient(keepAlive bool, timeout time.Duration) *http.Client {
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
		DisableKeepAlives:   !keepAlive,
	}
	return &http.Client{Transport: transport, Timeout: timeout}
}

// send performs c against baseURL and never fails the test: the caller
// judges the outcome.
func send(ctx context.Context, client *http.Client, baseURL string, c call) outcome {
	start := time.Now()
	var firstByte atomic.Bool
	trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { firstByte.Store(true) }}
	ctx = httptrace.WithClientTrace(ctx, trace)
	req, err := http.NewRequestWithContext(ctx, c.Method, baseURL+c.Path, bodyReader(c.Body))
	if err != nil {
		return outcome{Err: err, Failure: beforeResponse}
	}
	if c.Body != nil {
		contentType := c.ContentType
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return outcome{Err: err, Failure: classifyFailure(err, firstByte.Load()), Duration: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	out := outcome{Status: resp.StatusCode, Header: resp.Header, Body: body, Duration: time.Since(start), Close: resp.Close}
	if err != nil {
		out.Err, out.Failure = err, duringResponse
		if isTimeout(err) {
			out.Failure = clientTimedOut
		}
	}
	return out
}

func bodyReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

func classifyFailure(err error, gotFirstByte bool) failure {
	switch {
	case isTimeout(err):
		return clientTimedOut
	case errors.Is(err, syscall.ECONNREFUSED):
		return refused
	case gotFirstByte:
		return duringResponse
	}
	return beforeResponse
}

func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

func (o outcome) String() string {
	if o.Err != nil {
		return fmt.Sprintf("error (%s) after %s: %v", o.Failure, o.Duration.Round(time.Millisecond), o.Err)
	}
	body := string(o.Body)
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("%d after %s: %s", o.Status, o.Duration.Round(time.Millisecond), body)
}

// jsonBody encodes v for a request body.
func jsonBody(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode body: %v", err)
	}
	return b
}

// decodeInto decodes a response body, failing the test if it is not JSON.
func decodeInto(t testing.TB, o outcome, v any) {
	t.Helper()
	if err := json.Unmarshal(o.Body, v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, o)
	}
}

// problemShape reports what is wrong with o as a problem document of its
// status, or "" when it is one.
func problemShape(o outcome) string {
	if ct := o.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Sprintf("Content-Type %q, want application/problem+json", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(o.Body, &p); err != nil {
		return "body is not JSON: " + err.Error()
	}
	for _, key := range []string{"type", "title", "status", "detail", "request_id"} {
		if _, ok := p[key]; !ok {
			return "problem lacks " + key
		}
	}
	if status, _ := p["status"].(float64); int(status) != o.Status {
		return fmt.Sprintf("problem status %v differs from the response's %d", p["status"], o.Status)
	}
	return ""
}

// acceptable reports what is wrong with o as an answer to any input: it
// must be a 2xx, or a 4xx problem document. A 5xx or a broken exchange is
// never acceptable.
func acceptable(o outcome) string {
	switch {
	case o.Err != nil:
		return "no response: " + o.String()
	case o.Status >= 200 && o.Status < 300:
		return ""
	case o.Status >= 400 && o.Status < 500:
		if shape := problemShape(o); shape != "" {
			return fmt.Sprintf("%d is not a problem document (%s): %s", o.Status, shape, o)
		}
		return ""
	}
	return "unexpected " + o.String()
}

// requireProblem fails the test unless o is a problem document of status.
func requireProblem(t testing.TB, o outcome, status int) {
	t.Helper()
	if o.Err != nil || o.Status != status {
		t.Fatalf("want a %d problem, got %s", status, o)
	}
	if shape := problemShape(o); shape != "" {
		t.Fatalf("want a %d problem: %s; %s", status, shape, o)
	}
}

// requireStatus fails the test unless o is a response with status.
func requireStatus(t testing.TB, o outcome, status int) {
	t.Helper()
	if o.Err != nil || o.Status != status {
		t.Fatalf("want %d, got %s", status, o)
	}
}

// userToken mints an access token for a new user id, as this API issues
// them; the tasks and tags of that id are the user's.
func userToken(t testing.TB) (userID, token string) {
	t.Helper()
	userID = uuid.NewString()
	return userID, apptest.Token(t, userID)
}

// createTask posts a task and returns its id, failing the test otherwise.
func createTask(t testing.TB, httpClient *http.Client, baseURL, token, title string) string {
	t.Helper()
	o := send(context.Background(), httpClient, baseURL, call{Method: http.MethodPost, Path: tasksPath, Token: token,
		Body: jsonBody(t, map[string]any{"title": title})})
	requireStatus(t, o, http.StatusCreated)
	var task client.Task
	decodeInto(t, o, &task)
	return task.ID
}

// idOf returns the "id" of a JSON object body, or "".
func idOf(body []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}
