package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"taskflow/client"
)

func newClient(t *testing.T, handler http.HandlerFunc, opts ...client.Option) *client.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestProblemDocumentBecomesError(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer tok" {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"type":"urn:taskflow:problem:validation","title":"Unprocessable Entity","status":422,`+
			`"detail":"the request has invalid fields","request_id":"rid-1","errors":[{"field":"title","message":"is required"}]}`)
	}).WithToken("tok")

	_, err := c.CreateTask(context.Background(), client.TaskInput{})
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v (%T), want *client.Error", err, err)
	}
	if apiErr.Status != 422 || !apiErr.Problem || apiErr.Type != "urn:taskflow:problem:validation" || apiErr.RequestID != "rid-1" ||
		len(apiErr.Errors) != 1 || apiErr.Errors[0].Field != "title" {
		t.Fatalf("error = %+v", apiErr)
	}
	want := "POST /api/v1/tasks: 422 Unprocessable Entity: the request has invalid fields; title: is required"
	if apiErr.Error() != want {
		t.Fatalf("Error() = %q, want %q", apiErr.Error(), want)
	}
	if client.StatusOf(err) != 422 {
		t.Fatalf("StatusOf = %d, want 422", client.StatusOf(err))
	}
}

func TestNonProblemAnswerIsSummarised(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>\n  <body>Application failed to respond</body>\n</html>")
	})
	_, err := c.GetTask(context.Background(), "x")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Problem || apiErr.Status != 502 {
		t.Fatalf("err = %#v, want a 502 *client.Error that is not a problem", err)
	}
	if !strings.Contains(apiErr.Detail, "<body>Application failed to respond</body>") {
		t.Fatalf("Detail = %q, want the body's text", apiErr.Detail)
	}
}

func TestTaskCarriesItsHeaders(t *testing.T) {
	c := newClient(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		if fmt.Sprint(body) != "map[completed:false title:new]" {
			t.Errorf("PATCH body = %v, want only the fields set", body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"4"`)
		fmt.Fprint(w, `{"id":"t1","title":"new","priority":"low","tags":[]}`)
	})
	title, reopened := "new", false
	task, err := c.UpdateTask(context.Background(), "t1", client.TaskPatch{Title: &title, Completed: &reopened})
	if err != nil {
		t.Fatalf("UpdateTask: %v", err)
	}
	if task.ID != "t1" || task.ETag != `"4"` || task.Priority != "low" {
		t.Fatalf("task = %+v", task)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, _ := client.New("http://" + addr)
		requireTransportError(t, infoError(context.Background(), c), "cannot connect to "+addr+": connection refused", true)
	})

	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	t.Run("per-request timeout", func(t *testing.T) {
		c := newClient(t, hang, client.WithTimeout(100*time.Millisecond))
		requireTransportError(t, infoError(context.Background(), c), "within 100ms", true)
	})
	t.Run("the caller's deadline", func(t *testing.T) {
		c := newClient(t, hang, client.WithTimeout(time.Minute))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		requireTransportError(t, infoError(ctx, c), "stopped: the deadline passed", false)
	})
}

// infoError calls GET / and returns only its error.
func infoError(ctx context.Context, c *client.Client) error {
	_, err := c.Info(ctx)
	return err
}

func requireTransportError(t *testing.T, err error, want string, unreachable bool) {
	t.Helper()
	var te *client.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want *client.TransportError", err, err)
	}
	if !strings.Contains(te.Error(), want) || te.Unreachable() != unreachable {
		t.Fatalf("err = %q (unreachable %t), want it to contain %q (unreachable %t)", te.Error(), te.Unreachable(), want, unreachable)
	}
}
