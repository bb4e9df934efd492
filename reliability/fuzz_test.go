package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"taskflow/app/apptest"
	"taskflow/client"
)

// The fuzz targets drive the app in process (its HTTP server on an
// in-memory connection, no network)
// on a SQLite database of their own, and hold every answer to the rule of
// TestHostileInput: a 2xx, or a 4xx problem document; never a 5xx, never a
// panic (the app's recover middleware would turn one into a 500). Each
// target covers a group of endpoints; the first argument picks one, so the
// fuzzer explores them all with one corpus. Without -fuzz, `go test` runs
// the seeds below and those under testdata/fuzz/.
//
// In CI each runs for a bounded time:
//
//	go test -run='^$' -fuzz='^FuzzTaskBody$' -fuzztime=10s ./reliability

// fuzzApp is the app under fuzzing with a user, a task and a tag to aim at.
type fuzzApp struct {
	app           *fiber.App
	email, token  string
	refreshToken  string
	taskID, tagID string
}

func newFuzzApp(f *testing.F) *fuzzApp {
	f.Helper()
	s := apptest.Start(f, apptest.SQLite(f), hostileEnv)
	fa := &fuzzApp{app: s.App, email: uniqueEmail()}
	registered := apptest.Do(f, s.URL, apptest.Request{Method: http.MethodPost, Path: authPath + "/register",
		Body: map[string]string{"email": fa.email, "password": hostilePassword}})
	apptest.RequireStatus(f, registered, http.StatusCreated)
	var session client.Session
	registered.JSON(f, &session)
	fa.token, fa.refreshToken = session.AccessToken, session.RefreshToken
	tag := s.Do(f, apptest.Request{Method: http.MethodPost, Path: tagsPath, Token: fa.token, Body: map[string]string{"name": "fuzz"}})
	apptest.RequireStatus(f, tag, http.StatusCreated)
	fa.tagID = idOf(tag.Body)
	task := s.Do(f, apptest.Request{Method: http.MethodPost, Path: tasksPath, Token: fa.token, Body: map[string]any{"title": "fuzz", "tag_ids": []string{fa.tagID}}})
	apptest.RequireStatus(f, task, http.StatusCreated)
	fa.taskID = idOf(task.Body)
	return fa
}

// fuzzEndpoint is one endpoint of a target's group.
type fuzzEndpoint struct{ method, path string }

// pick chooses an endpoint of the group by the fuzzer's byte.
func pick(endpoints []fuzzEndpoint, which uint8) fuzzEndpoint {
	return endpoints[int(which)%len(endpoints)]
}

// serve sends one request through the app and checks the answer.
func (fa *fuzzApp) serve(t *testing.T, method, target string, headers map[string]string, body []byte) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://taskflow.test"+target, reader)
	if err != nil {
		t.Skip("not a request a client could send:", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := fa.exchange(req)
	if err != nil {
		t.Fatalf("%s %s: no response: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the response: %v", method, target, err)
	}
	o := outcome{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if problem := acceptable(o); problem != "" {
		t.Fatalf("%s %s with body %.200q: %s", method, target, body, problem)
	}
	if o.Status/100 == 2 && o.Status != http.StatusNoContent && !json.Valid(data) {
		t.Fatalf("%s %s: a %d whose body is not JSON: %.200q", method, target, o.Status, data)
	}
}

// exchange hands req to the app's HTTP server on a connection of its own
// and reads the answer, as a client of the real server would. Unlike
// fiber's app.Test, which reports an error instead, it reads the answer to
// a request the HTTP parser refuses (a NUL in a header, a space in the
// request line): the 400 the server writes before it closes the
// connection.
func (fa *fuzzApp) exchange(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Header.Get("Content-Length") == "" {
		req.Header.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
	}
	raw, err := httputil.DumpRequest(req, true)
	if err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	defer client.Close()
	_ = client.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		_ = fa.app.Server().ServeConn(server)
		_ = server.Close()
	}()
	// A pipe has no buffer: the request is written while the answer is read.
	go func() { _, _ = client.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(client), req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (fa *fuzzApp) jsonHeaders(withToken bool) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if withToken {
		h["Authorization"] = "Bearer " + fa.token
	}
	return h
}

// FuzzTaskBody fuzzes the body of POST /tasks, PUT /tasks/{id} and
// PATCH /tasks/{id}.
func FuzzTaskBody(f *testing.F) {
	for which := range uint8(3) {
		for _, body := range []string{
			`{"title":"Write the report","description":"two pages","priority":"high","due_date":"2030-01-02T03:04:05Z","completed":true}`,
			`{"title":"  padded  ","tag_ids":[]}`,
			`{"title":"x","tag_ids":["00000000-0000-0000-0000-000000000000"]}`,
			`{"title":null,"description":null,"completed":null,"priority":null,"due_date":null,"tag_ids":null}`,
			`{"title":"a\u0000b"}`,
			`{"title":1e400}`,
			`{"due_date":"2030-13-45T99:99:99Z"}`,
			`[]`,
			``,
		} {
			f.Add(which, []byte(body))
		}
	}
	fa := newFuzzApp(f)
	endpoints := []fuzzEndpoint{
		{http.MethodPost, tasksPath},
		{http.MethodPut, tasksPath + "/" + fa.taskID},
		{http.MethodPatch, tasksPath + "/" + fa.taskID},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := pick(endpoints, which)
		fa.serve(t, ep.method, ep.path, fa.jsonHeaders(true), body)
	})
}

// FuzzTagBody fuzzes the body of POST /tags and PATCH /tags/{id}.
func FuzzTagBody(f *testing.F) {
	for which := range uint8(2) {
		for _, body := range []string{
			`{"name":"Work","color":"#1a2b3c"}`,
			`{"name":"  Home  ","color":null}`,
			`{"name":"fuzz"}`,
			`{"name":"ÉCOLE","color":"#FFFFFF"}`,
			`{"color":"red"}`,
			`{"name":"a\u0000"}`,
			`{"name":["a"]}`,
			`null`,
		} {
			f.Add(which, []byte(body))
		}
	}
	fa := newFuzzApp(f)
	endpoints := []fuzzEndpoint{
		{http.MethodPost, tagsPath},
		{http.MethodPatch, tagsPath + "/" + fa.tagID},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := pick(endpoints, which)
		fa.serve(t, ep.method, ep.path, fa.jsonHeaders(true), body)
	})
}

// FuzzAuthBody fuzzes the body of register, login, refresh and logout.
func FuzzAuthBody(f *testing.F) {
	seeds := map[uint8][]string{
		0: {`{"email":"new@example.com","password":"correct horse battery","name":"New"}`, `{"email":" MiXeD@Example.COM ","password":"12345678"}`, `{"email":"a@b","password":"` + strings.Repeat("p", 73) + `"}`},
		1: {`{"email":"nobody@example.com","password":"wrong password"}`, `{"email":"","password":""}`, `{"email":"x@example.com\u0000","password":"p"}`},
		2: {`{"refresh_token":"not-a-token"}`, `{"refresh_token":""}`, `{"refresh_token":123}`},
		3: {`{"refresh_token":"not-a-token"}`, `{}`},
	}
	for which, bodies := range seeds {
		for _, body := range bodies {
			f.Add(which, []byte(body))
		}
	}
	fa := newFuzzApp(f)
	f.Add(uint8(1), []byte(`{"email":"`+fa.email+`","password":"`+hostilePassword+`"}`))
	f.Add(uint8(2), []byte(`{"refresh_token":"`+fa.refreshToken+`"}`))
	endpoints := []fuzzEndpoint{
		{http.MethodPost, authPath + "/register"},
		{http.MethodPost, authPath + "/login"},
		{http.MethodPost, authPath + "/refresh"},
		{http.MethodPost, authPath + "/logout"},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		ep := pick(endpoints, which)
		fa.serve(t, ep.method, ep.path, fa.jsonHeaders(false), body)
	})
}

// FuzzTaskListQuery fuzzes the query string of GET /tasks.
func FuzzTaskListQuery(f *testing.F) {
	for _, q := range []string{
		"", "limit=20&offset=0", "completed=true&priority=high&sort=-due_date",
		"q=report&due_before=2030-01-01T00:00:00Z&due_after=2020-01-01T00:00:00%2B02:00",
		"tag=00000000-0000-0000-0000-000000000000", "limit=101", "offset=-1", "limit=abc",
		"q=%25_%5C", "q=%00", "q=%ff", "sort=title;DROP TABLE tasks", "limit=1&limit=2",
		"due_before=2030-01-01T00:00:00 02:00", url.Values{"q": {"' OR 1=1 --"}}.Encode(),
	} {
		f.Add(q)
	}
	fa := newFuzzApp(f)
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsAny(query, "#") {
			t.Skip("a fragment never reaches the server")
		}
		fa.serve(t, http.MethodGet, tasksPath+"?"+query, map[string]string{"Authorization": "Bearer " + fa.token}, nil)
	})
}

// FuzzAuthorizationHeader fuzzes the Authorization header of an
// authenticated endpoint.
func FuzzAuthorizationHeader(f *testing.F) {
	fa := newFuzzApp(f)
	claims := func(extra jwt.MapClaims) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "fuzz-user", "iss": apptest.Issuer, "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	for _, seed := range []string{
		"Bearer " + fa.token,
		"Bearer " + apptest.SignHS256(f, apptest.BetterAuthSecret, jwt.MapClaims{"sub": "frontend-user", "exp": time.Now().Add(time.Hour).Unix()}),
		"Bearer " + apptest.SignHS256(f, apptest.JWTSecret, claims(jwt.MapClaims{"exp": nil})),
		"Bearer " + apptest.SignHS256(f, apptest.JWTSecret, claims(jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()})),
		"Bearer " + apptest.SignHS256(f, apptest.JWTSecret, claims(jwt.MapClaims{"sub": ""})),
		"Bearer " + apptest.SignHS256(f, "wrong secret", claims(nil)),
		"Bearer " + noneToken(),
		"Bearer", "Bearer ", "bearer " + fa.token, "Basic dXNlcjpwYXNz", "",
		"Bearer a.b.c", "Bearer ..", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer " + strings.Repeat("A", 9000),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if strings.ContainsAny(header, "\r\n") {
			t.Skip("a line break ends the header: that is the HTTP parser's input, not the guard's")
		}
		path := tasksPath
		if len(header)%2 == 1 {
			path = authPath + "/me"
		}
		fa.serve(t, http.MethodGet, path, map[string]string{"Authorization": header}, nil)
	})
}
