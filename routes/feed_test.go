package routes_test

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
)

// feedWait bounds every wait for an event (generous for a loaded
// machine); feedQuiet is how long a feed must stay silent to show that
// no further event is coming.
const (
	feedWait  = 10 * time.Second
	feedQuiet = 500 * time.Millisecond
)

// openFeed opens u's change feed with a bearer token.
func openFeed(t testing.TB, s *apptest.Server, u user) *eventstest.Stream {
	t.Helper()
	feed := eventstest.Open(t, s.URL+"/api/v1/events", map[string]string{"Authorization": "Bearer " + u.token})
	if feed.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/events: status %d, want 200", feed.Status)
	}
	return feed
}

// wantEvent is an event a write should cause: its type and the id of
// what changed and, when body is set, the object the event must carry
// (the write's answer).
type wantEvent struct {
	typ  string
	id   string
	body []byte
}

// eventOf is the event a write answered by r should cause: typ, about the
// object r's body is, carrying that body.
func eventOf(t testing.TB, typ string, r apptest.Response) wantEvent {
	t.Helper()
	id, _ := r.Map(t)["id"].(string)
	return wantEvent{typ: typ, id: id, body: r.Body}
}

// requireEventSet reads len(want) events from feed and checks they are
// want in any order (the events of one transaction come in an order the
// contract leaves open), each carrying the object it should. It returns
// the object each event carries, by "type id" ("task.updated <id>"),
// for checks beyond the answer's.
func requireEventSet(t testing.TB, feed *eventstest.Stream, want []wantEvent) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	var seen []string
	for range want {
		e := feed.Next(t, feedWait)
		var data map[string]any
		e.Decode(t, &data)
		id, _ := data["id"].(string)
		key := e.Type + " " + id
		seen = append(seen, key)
		got[key] = objectOf(e.Type, data)
		if objectOf(e.Type, data) == nil && len(data) != 1 {
			t.Fatalf("event %d %s: data %s, want only the id", e.ID, e.Type, e.Data)
		}
	}
	var wanted []string
	for _, w := range want {
		wanted = append(wanted, w.typ+" "+w.id)
	}
	if !slices.Equal(slices.Sorted(slices.Values(seen)), slices.Sorted(slices.Values(wanted))) {
		t.Fatalf("events\n%s\nwant (in any order)\n%s", strings.Join(seen, "\n"), strings.Join(wanted, "\n"))
	}
	for _, w := range want {
		if w.body == nil {
			continue
		}
		var answer map[string]any
		apptest.Response{Body: w.body}.JSON(t, &answer)
		if carried := got[w.typ+" "+w.id]; !reflect.DeepEqual(carried, answer) {
			t.Fatalf("%s %s carries\n%v\nwant the write's answer\n%v", w.typ, w.id, carried, answer)
		}
	}
	return got
}

// objectOf is the object an event's data carries: its "task", "tag" or
// "project" member (nil for a deletion).
func objectOf(typ string, data map[string]any) map[string]any {
	kind, _, _ := strings.Cut(typ, ".")
	object, _ := data[kind].(map[string]any)
	return object
}

// carried is the object of event typ about id in events, failing the test
// if there is none.
func carried(t testing.TB, events map[string]map[string]any, typ, id string) map[string]any {
	t.Helper()
	object, ok := events[typ+" "+id]
	if !ok || object == nil {
		t.Fatalf("no %s event carrying %s among %v", typ, id, keysOf(events))
	}
	return object
}

func keysOf(m map[string]map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// versionOf reads an object's version from its decoded JSON.
func versionOf(object map[string]any) string {
	return fmt.Sprint(object["version"])
}
