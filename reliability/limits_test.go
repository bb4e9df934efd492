package reliability

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/client"
)

const (
	limitTasks = 5
	limitTags  = 3
	limitBody  = 4096
)

// TestLimits holds the server to its caps: tasks and tags per user (also
// when the creates race each other), the page size, and the body size.
func TestLimits(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{
			"MAX_TASKS_PER_USER": fmt.Sprint(limitTasks),
			"MAX_TAGS_PER_USER":  fmt.Sprint(limitTags),
			"BODY_LIMIT":         fmt.Sprint(limitBody),
		})
		httpClient := newClient(true, 30*time.Second)
		do := func(c call) outcome { return send(context.Background(), httpClient, s.URL, c) }

		t.Run("tasks per user", func(t *testing.T) {
			_, token := userToken(t)
			var ids []string
			for i := range limitTasks {
				ids = append(ids, createTask(t, httpClient, s.URL, token, fmt.Sprint("task ", i)))
			}
			over := do(call{Method: http.MethodPost, Path: tasksPath, Token: token, Body: []byte(`{"title":"one too many"}`)})
			requireCapProblem(t, over)
			requireStatus(t, do(call{Method: http.MethodDelete, Path: tasksPath + "/" + ids[0], Token: token}), http.StatusNoContent)
			createTask(t, httpClient, s.URL, token, "fits again after a delete")
			_, other := userToken(t)
			createTask(t, httpClient, s.URL, other, "another user has a cap of its own")
		})

		t.Run("tasks per user, racing", func(t *testing.T) {
			_, token := userToken(t)
			created, refused := race(12, func() outcome {
				return do(call{Method: http.MethodPost, Path: tasksPath, Token: token, Body: []byte(`{"title":"racer"}`)})
			}, func(o outcome) { requireCapProblemE(t, o) })
			var page client.TaskList
			list := do(call{Method: http.MethodGet, Path: tasksPath, Token: token})
			requireStatus(t, list, http.StatusOK)
			decodeInto(t, list, &page)
			if created != limitTasks || page.Total != limitTasks {
				t.Errorf("12 concurrent creates with a cap of %d: %d created, %d stored, %d refused", limitTasks, created, page.Total, refused)
			}
			t.Logf("limits (%s): 12 concurrent creates, cap %d: %d created, %d refused, %d stored", db.Name, limitTasks, created, refused, page.Total)
		})

		t.Run("tags per user", func(t *testing.T) {
			_, token := userToken(t)
			created, refused := race(limitTags+4, func() outcome {
				return do(call{Method: http.MethodPost, Path: tagsPath, Token: token, Body: jsonBody(t, map[string]string{"name": randomName()})})
			}, func(o outcome) { requireCapProblemE(t, o) })
			if created != limitTags {
				t.Errorf("%d concurrent tag creates with a cap of %d: %d created, %d refused", limitTags+4, limitTags, created, refused)
			}
		})

		t.Run("page size", func(t *testing.T) {
			_, token := userToken(t)
			for _, q := range []string{"limit=101", "limit=0", "limit=-1", "offset=-1", "limit=99999999999999999999"} {
				o := do(call{Method: http.MethodGet, Path: tasksPath + "?" + q, Token: token})
				requireProblem(t, o, http.StatusUnprocessableEntity)
				name, _, _ := strings.Cut(q, "=")
				if !strings.Contains(string(o.Body), `"field":"`+name+`"`) {
					t.Errorf("%s: the problem does not name %s: %s", q, name, o)
				}
			}
			requireStatus(t, do(call{Method: http.MethodGet, Path: tasksPath + "?limit=100", Token: token}), http.StatusOK)
		})

		t.Run("body size", func(t *testing.T) {
			_, token := userToken(t)
			body := func(size int) []byte {
				prefix := `{"title":"t","description":"`
				return []byte(prefix + strings.Repeat("a", size-len(prefix)-2) + `"}`)
			}
			requireProblem(t, do(call{Method: http.MethodPost, Path: tasksPath, Token: token, Body: body(limitBody + 1)}), http.StatusRequestEntityTooLarge)
			atLimit := do(call{Method: http.MethodPost, Path: tasksPath, Token: token, Body: body(limitBody)})
			if atLimit.Status == http.StatusRequestEntityTooLarge || atLimit.Status >= 500 {
				t.Errorf("a body of exactly BODY_LIMIT bytes: %s", atLimit)
			}
			requireEarly413(t, strings.TrimPrefix(s.URL, "http://"), token)
		})
	})
}

// requireEarly413 announces a body over the limit and sends none of it:
// the server must answer 413 from the headers alone, not wait for (or read)
// the body.
func requireEarly413(t testing.TB, addr, token string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		tasksPath, token, 1<<30)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("a 1 GiB Content-Length: no response from the headers alone: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	requireProblem(t, outcome{Status: resp.StatusCode, Header: resp.Header, Body: data}, http.StatusRequestEntityTooLarge)
}

// race runs n copies of req at once and counts the 201s; every other
// outcome goes to refused (which checks it).
func race(n int, req func() outcome, refused func(outcome)) (created, other int) {
	outcomes := make([]outcome, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outcomes[i] = req()
		}()
	}
	close(start)
	wg.Wait()
	for _, o := range outcomes {
		if o.Status == http.StatusCreated {
			created++
		} else {
			other++
			refused(o)
		}
	}
	return created, other
}

// requireCapProblem checks the refusal of a create over a per-user cap: a
// 422 (or 429) problem document that says so.
func requireCapProblem(t testing.TB, o outcome) {
	t.Helper()
	if msg := capProblem(o); msg != "" {
		t.Fatal(msg)
	}
}

func requireCapProblemE(t testing.TB, o outcome) {
	t.Helper()
	if msg := capProblem(o); msg != "" {
		t.Error(msg)
	}
}

func capProblem(o outcome) string {
	if o.Status != http.StatusUnprocessableEntity && o.Status != http.StatusTooManyRequests {
		return "a create over the cap: want 422 or 429, got " + o.String()
	}
	if shape := problemShape(o); shape != "" {
		return "a create over the cap: " + shape
	}
	if !strings.Contains(strings.ToLower(string(o.Body)), "limit") {
		return "a create over the cap does not say a limit was reached: " + o.String()
	}
	return ""
}

func randomName() string { return "tag " + uuid.NewString()[:13] }
