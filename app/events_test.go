package app_test

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
)

// eventWait bounds every wait for an event: generous, so that a loaded
// machine does not fail the test, and never a sleep.
const eventWait = 10 * time.Second

// quiet is how long a stream must stay silent to show that an event is not
// coming (another user's change, say).
const quiet = 500 * time.Millisecond

func newUserToken(t *testing.T) string { return apptest.Token(t, uuid.NewString()) }

// openBearer opens the feed with a bearer token; headers may add
// Last-Event-ID.
func openBearer(t *testing.T, srv *apptest.Server, token, query string, headers map[string]string) *eventstest.Stream {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range headers {
		h[k] = v
	}
	s := eventstest.Open(t, srv.URL+"/api/v1/events"+query, h)
	requireStream(t, s)
	return s
}

func requireStream(t *testing.T, s *eventstest.Stream) {
	t.Helper()
	if s.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/events: status %d, want 200", s.Status)
	}
	if ct := s.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	if cc := s.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
}

// ticket asks for a ticket with token and checks the answer.
func ticket(t *testing.T, srv *apptest.Server, token string) string {
	t.Helper()
	r := srv.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/events/ticket", Token: token})
	apptest.RequireStatus(t, r, http.StatusCreated)
	var answer struct {
		Ticket    string `json:"ticket"`
		ExpiresIn int    `json:"expires_in"`
	}
	r.JSON(t, &answer)
	if answer.Ticket == "" || answer.ExpiresIn != 30 {
		t.Fatalf("ticket answer %s", r.Body)
	}
	return answer.Ticket
}

func openTicket(t *testing.T, srv *apptest.Server, token string) *eventstest.Stream {
	t.Helper()
	s := eventstest.Open(t, srv.URL+"/api/v1/events?ticket="+ticket(t, srv, token), nil)
	requireStream(t, s)
	return s
}

// expected is an event a write should cause: its type, the id of what
// changed, and (for created and updated) the answer's body, which the
// event's data must carry.
type expected struct {
	typ  string
	id   string
	body map[string]any
}

// write sends req as token, requires status, and returns what it expects
// on the feed.
func write(t *testing.T, srv *apptest.Server, token, method, path string, body any, status int, typ string) expected {
	t.Helper()
	r := srv.Do(t, apptest.Request{Method: method, Path: path, Token: token, Body: body})
	apptest.RequireStatus(t, r, status)
	e := expected{typ: typ}
	if len(r.Body) > 0 {
		e.body = r.Map(t)
		e.id, _ = e.body["id"].(string)
	}
	return e
}

// requireEvents reads len(want) events from s and checks each against
// want, and that ids increase by one from firstID.
func requireEvents(t *testing.T, s *eventstest.Stream, firstID int64, want []expected) {
	t.Helper()
	for i, w := range want {
		requireEvent(t, s.Next(t, eventWait), firstID+int64(i), w)
	}
}

// requireEvent checks that got is the event w with id wantID.
func requireEvent(t *testing.T, got eventstest.Event, wantID int64, w expected) {
	t.Helper()
	if got.ID != wantID {
		t.Fatalf("event id %d, want %d", got.ID, wantID)
	}
	if got.Type != w.typ {
		t.Fatalf("event %d: type %q, want %q (data %s)", got.ID, got.Type, w.typ, got.Data)
	}
	var data map[string]any
	got.Decode(t, &data)
	if data["id"] != w.id {
		t.Fatalf("event %d: id %v, want %s", got.ID, data["id"], w.id)
	}
	if w.body == nil {
		if len(data) != 1 {
			t.Fatalf("event %d: data %s, want only the id", got.ID, got.Data)
		}
		return
	}
	key := "task"
	if w.typ[:3] == "tag" {
		key = "tag"
	}
	if !reflect.DeepEqual(data[key], w.body) {
		t.Fatalf("event %d: %s\n%v\nwant the write's answer\n%v", got.ID, key, data[key], w.body)
	}
}

func TestEventsFeed(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		srv := apptest.Start(t, db, map[string]string{"EVENTS_PING_INTERVAL": "1s"})
		aliceID := uuid.NewString()
		alice, bob := apptest.Token(t, aliceID), newUserToken(t)
		a1, a2 := openBearer(t, srv, alice, "", nil), openTicket(t, srv, alice)
		b1, b2 := openTicket(t, srv, bob), openBearer(t, srv, bob, "", nil)

		var want []expected
		tag := write(t, srv, alice, "POST", "/api/v1/tags", map[string]any{"name": "work"}, 201, "tag.created")
		task := write(t, srv, alice, "POST", "/api/v1/tasks", map[string]any{"title": "one", "tag_ids": []string{tag.id}}, 201, "task.created")
		bobs := write(t, srv, bob, "POST", "/api/v1/tasks", map[string]any{"title": "bob's"}, 201, "task.created")
		taskPath := "/api/v1/tasks/" + task.id
		want = append(want, tag, task,
			write(t, srv, alice, "PUT", taskPath, map[string]any{"title": "two", "tag_ids": []string{tag.id}}, 200, "task.updated"),
			write(t, srv, alice, "PATCH", taskPath, map[string]any{"completed": true}, 200, "task.updated"),
			write(t, srv, alice, "PATCH", "/api/v1/tags/"+tag.id, map[string]any{"color": "#ff0000"}, 200, "tag.updated"),
		)
		// A write that changes nothing, and refused writes, announce nothing.
		write(t, srv, alice, "PATCH", taskPath, map[string]any{"completed": true}, 200, "")
		write(t, srv, alice, "POST", "/api/v1/tags", map[string]any{"name": "WORK"}, 409, "")
		write(t, srv, alice, "PUT", taskPath, map[string]any{"title": ""}, 422, "")
		write(t, srv, alice, "DELETE", "/api/v1/tags/"+tag.id, nil, 204, "")
		write(t, srv, alice, "DELETE", taskPath, nil, 204, "")
		write(t, srv, alice, "DELETE", taskPath, nil, 404, "")
		write(t, srv, bob, "DELETE", "/api/v1/tasks/"+bobs.id, nil, 204, "")
		want = append(want, expected{typ: "tag.deleted", id: tag.id}, expected{typ: "task.deleted", id: task.id})
		bobWants := []expected{bobs, {typ: "task.deleted", id: bobs.id}}

		requireEvents(t, a1, 1, want)
		requireEvents(t, a2, 1, want)
		requireEvents(t, b1, 1, bobWants)
		requireEvents(t, b2, 1, bobWants)
		a1.None(t, quiet)
		b1.None(t, quiet)

		t.Run("resume", func(t *testing.T) {
			a1.Close()
			extra := write(t, srv, alice, "POST", "/api/v1/tasks", map[string]any{"title": "three"}, 201, "task.created")
			missed := []expected{extra, write(t, srv, alice, "PATCH", "/api/v1/tasks/"+extra.id, map[string]any{"priority": "high"}, 200, "task.updated")}
			requireEvents(t, a2, 8, missed)
			byHeader := openBearer(t, srv, alice, "", map[string]string{"Last-Event-ID": "7"})
			requireEvents(t, byHeader, 8, missed)
			byQuery := eventstest.Open(t, srv.URL+"/api/v1/events?last_event_id=8&ticket="+ticket(t, srv, alice), nil)
			requireStream(t, byQuery)
			requireEvents(t, byQuery, 9, missed[1:])
			byHeader.None(t, quiet)
			byQuery.None(t, quiet)
		})

		t.Run("reset when the missed events are gone", func(t *testing.T) {
			if err := srv.DB.Exec("DELETE FROM events WHERE user_id = ? AND seq <= 3", aliceID).Error; err != nil {
				t.Fatal(err)
			}
			oldest := openBearer(t, srv, alice, "", map[string]string{"Last-Event-ID": "3"})
			if e := oldest.Next(t, eventWait); e.ID != 4 || e.Type != "task.updated" {
				t.Fatalf("resuming after the last pruned id: event %d %s, want 4 task.updated", e.ID, e.Type)
			}
			gone := openBearer(t, srv, alice, "", map[string]string{"Last-Event-ID": "2"})
			reset := gone.Next(t, eventWait)
			if reset.ID != 9 || reset.Type != "reset" || reset.Data != "{}" {
				t.Fatalf("first event %+v, want reset {} with id 9", reset)
			}
			live := write(t, srv, alice, "POST", "/api/v1/tags", map[string]any{"name": "after"}, 201, "tag.created")
			requireEvents(t, gone, 10, []expected{live})
		})

		t.Run("tickets", func(t *testing.T) {
			used := ticket(t, srv, alice)
			requireStream(t, eventstest.Open(t, srv.URL+"/api/v1/events?ticket="+used, nil))
			expired := ticket(t, srv, alice)
			if err := srv.DB.Exec("UPDATE event_tickets SET expires_at = ?", time.Now().UTC().Add(-time.Minute)).Error; err != nil {
				t.Fatal(err)
			}
			for name, query := range map[string]string{
				"used": "?ticket=" + used, "expired": "?ticket=" + expired, "unknown": "?ticket=not-a-ticket",
			} {
				r := srv.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/events" + query})
				apptest.RequireProblem(t, r, http.StatusUnauthorized)
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s ticket: 401 without WWW-Authenticate", name)
				}
			}
			bobsTicket := ticket(t, srv, bob)
			r := srv.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/events?ticket=" + bobsTicket, Token: alice})
			apptest.RequireProblem(t, r, http.StatusUnauthorized)
			r = srv.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/events"})
			apptest.RequireProblem(t, r, http.StatusUnauthorized)
			r = srv.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/events/ticket"})
			apptest.RequireProblem(t, r, http.StatusUnauthorized)
			r = srv.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/events", Token: alice, Headers: map[string]string{"Last-Event-ID": "seven"}})
			apptest.RequireProblem(t, r, http.StatusBadRequest)
		})

		t.Run("pings", func(t *testing.T) {
			select {
			case <-a2.Pings():
			case <-time.After(eventWait):
				t.Fatal("no ping within", eventWait)
			}
		})

		t.Run("at most ten streams", func(t *testing.T) {
			carol := newUserToken(t)
			for i := range 10 {
				if i%2 == 0 {
					openBearer(t, srv, carol, "", nil)
				} else {
					openTicket(t, srv, carol)
				}
			}
			r := srv.Do(t, apptest.Request{Method: "GET", Path: "/api/v1/events", Token: carol})
			apptest.RequireProblem(t, r, http.StatusTooManyRequests)
			if r.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			// Another user is not affected.
			openBearer(t, srv, newUserToken(t), "", nil)
		})

		t.Run("ends when the account is deleted", func(t *testing.T) {
			r := srv.Do(t, apptest.Request{Method: "POST", Path: "/api/v1/auth/register",
				Body: map[string]any{"email": fmt.Sprintf("feed-%s@example.com", uuid.NewString()[:8]), "password": "correct horse battery"}})
			apptest.RequireStatus(t, r, http.StatusCreated)
			token, _ := r.Map(t)["access_token"].(string)
			s := openTicket(t, srv, token)
			apptest.RequireStatus(t, srv.Do(t, apptest.Request{Method: "DELETE", Path: "/api/v1/auth/me", Token: token}), http.StatusNoContent)
			select {
			case <-s.Ended():
			case <-time.After(eventWait):
				t.Fatal("the stream is still open after its account was deleted")
			}
		})
	})
}
