package routes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"taskflow/app/apptest"
	"taskflow/app/eventstest"
)

// A batch command as a client sends it.
func command(id, typ, tempID string, args map[string]any) map[string]any {
	c := map[string]any{"uuid": id, "type": typ, "args": args}
	if tempID != "" {
		c["temp_id"] = tempID
	}
	return c
}

// commandResult is one result of POST /batch, its body and error kept raw.
type commandResult struct {
	UUID   string          `json:"uuid"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	Error  json.RawMessage `json:"error"`
}

// batchAnswer is the answer of POST /batch.
type batchAnswer struct {
	Results []commandResult   `json:"results"`
	TempIDs map[string]string `json:"temp_ids"`
}

// batchRequest is POST /batch with commands, as u.
func batchRequest(u user, commands []map[string]any) apptest.Request {
	return apptest.Request{Method: http.MethodPost, Path: "/api/v1/batch", Token: u.token,
		Body: map[string]any{"commands": commands}}
}

// runBatch sends req, requires a 200 of exactly results and temp_ids,
// one result per command, and returns the answer decoded.
func runBatch(t testing.TB, s *apptest.Server, req apptest.Request) (batchAnswer, apptest.Response) {
	t.Helper()
	r := s.Do(t, req)
	apptest.RequireStatus(t, r, http.StatusOK)
	requireKeys(t, "batch answer", r.Map(t), []string{"results", "temp_ids"})
	var answer batchAnswer
	r.JSON(t, &answer)
	if commands := req.Body.(map[string]any)["commands"].([]map[string]any); len(answer.Results) != len(commands) {
		t.Fatalf("%d results for %d commands: %s", len(answer.Results), len(commands), r.Body)
	}
	for i, result := range answer.Results {
		if want := req.Body.(map[string]any)["commands"].([]map[string]any)[i]["uuid"]; result.UUID != want {
			t.Fatalf("result %d has uuid %q, want %v (results in the commands' order)", i, result.UUID, want)
		}
	}
	return answer, r
}

// mustBatch sends commands as u and returns the answer.
func mustBatch(t testing.TB, s *apptest.Server, u user, commands ...map[string]any) (batchAnswer, apptest.Response) {
	t.Helper()
	return runBatch(t, s, batchRequest(u, commands))
}

// requireSuccess checks a result is status with a body of what's shape
// (task, tag, project; "" for none), and returns the body decoded.
func requireSuccess(t testing.TB, i int, r commandResult, status int, what string) map[string]any {
	t.Helper()
	if r.Status != status || len(r.Error) != 0 {
		t.Fatalf("result %d (%s): status %d, error %s; want %d", i, r.UUID, r.Status, r.Error, status)
	}
	if what == "" {
		if len(r.Body) != 0 {
			t.Fatalf("result %d (%s): body %s, want none", i, r.UUID, r.Body)
		}
		return nil
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("result %d (%s): body %q is not an object", i, r.UUID, r.Body)
	}
	requireKeys(t, fmt.Sprintf("result %d's %s", i, what), body, map[string][]string{"task": taskKeys, "tag": tagKeys, "project": projectKeys}[what])
	return body
}

// requireRefusal checks a result is a refusal with status, whose error is
// the problem document the batch's request would answer (its request_id
// is the batch's), naming exactly fields.
func requireRefusal(t testing.TB, batch apptest.Response, i int, r commandResult, status int, fields ...string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("result %d (%s): status %d, want %d: %s %s", i, r.UUID, r.Status, status, r.Error, r.Body)
	}
	problem := apptest.Response{Status: status, Header: http.Header{"Content-Type": {"application/problem+json"}}, Body: r.Error}
	p := apptest.RequireProblem(t, problem, status)
	if id := batch.Header.Get("X-Request-ID"); p["request_id"] != id && batch.Header.Get("Idempotent-Replayed") == "" {
		t.Fatalf("result %d: request_id %v, want the batch's %s", i, p["request_id"], id)
	}
	if !strings.HasPrefix(p["type"].(string), "urn:taskflow:problem:") {
		t.Fatalf("result %d: problem type %v", i, p["type"])
	}
	var got []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		got = append(got, e.(map[string]any)["field"].(string))
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(fields)); !slices.Equal(got, want) {
		t.Fatalf("result %d (%s): errors name %v, want %v: %s", i, r.UUID, got, want, r.Error)
	}
	return p
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("not JSON: %q", a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("not JSON: %q", b)
	}
	return reflect.DeepEqual(x, y)
}

// requireEventsInOrder reads len(want) events and checks each is want's,
// in order, with ids that increase, each carrying the object it should.
func requireEventsInOrder(t testing.TB, feed *eventstest.Stream, want []wantEvent) {
	t.Helper()
	var last int64
	for i, w := range want {
		e := feed.Next(t, feedWait)
		var data map[string]any
		e.Decode(t, &data)
		if e.Type != w.typ || data["id"] != w.id {
			t.Fatalf("event %d: %s %v, want %s %s", i, e.Type, data["id"], w.typ, w.id)
		}
		if e.ID <= last {
			t.Fatalf("event %d: id %d after %d", i, e.ID, last)
		}
		last = e.ID
		object := objectOf(e.Type, data)
		if w.body == nil {
			if object != nil || len(data) != 1 {
				t.Fatalf("event %d %s: data %s, want only the id", i, e.Type, e.Data)
			}
			continue
		}
		carried, _ := json.Marshal(object)
		if !sameJSON(t, carried, w.body) {
			t.Fatalf("event %d %s carries\n%s\nwant the command's result\n%s", i, e.Type, carried, w.body)
		}
	}
}

func idOf(t testing.TB, body json.RawMessage) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", body)
	}
	return v.ID
}

// TestBatchRunsEveryCommandType: one batch of every command type, whose
// later commands name what the earlier ones made by temp ids, answers
// each as its request would, maps every temp id, leaves the data as the
// requests would, and makes their events in order.
func TestBatchRunsEveryCommandType(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		feed := openFeed(t, s, u)
		answer, r := mustBatch(t, s, u,
			command("c1", "tag.create", "errands", map[string]any{"name": "errands", "color": "#112233"}),
			command("c2", "project.create", "home", map[string]any{"name": "Home"}),
			command("c3", "project.create", "work", map[string]any{"name": "Work", "color": "#445566"}),
			command("c4", "task.create", "paint", map[string]any{"title": "Paint", "project_id": "home", "tag_ids": []string{"errands"}, "priority": "high"}),
			command("c5", "task.create", "brush", map[string]any{"title": "Buy a brush", "parent_id": "paint"}),
			command("c6", "task.create", "call", map[string]any{"title": "Call the plumber", "project_id": "home"}),
			command("c7", "task.update", "", map[string]any{"id": "paint", "version": 1, "description": "two coats"}),
			command("c8", "task.move", "", map[string]any{"id": "call", "project_id": "work", "after_id": nil}),
			command("c9", "tag.update", "", map[string]any{"id": "errands", "name": "chores"}),
			command("c10", "project.update", "", map[string]any{"id": "work", "version": 1, "name": "Office"}),
			command("c11", "project.move", "", map[string]any{"id": "work", "after_id": nil}),
			command("c12", "task.delete", "", map[string]any{"id": "brush"}),
			command("c13", "tag.delete", "", map[string]any{"id": "errands"}),
			command("c14", "project.delete", "", map[string]any{"id": "home", "version": 1}),
		)
		res := answer.Results
		kinds := []string{"tag", "project", "project", "task", "task", "task", "task", "task", "tag", "project", "project", "", "", ""}
		statuses := []int{201, 201, 201, 201, 201, 201, 200, 200, 200, 200, 200, 204, 204, 204}
		bodies := make([]map[string]any, len(res))
		for i := range res {
			bodies[i] = requireSuccess(t, i, res[i], statuses[i], kinds[i])
		}
		made := map[string]string{"errands": bodies[0]["id"].(string), "home": bodies[1]["id"].(string), "work": bodies[2]["id"].(string),
			"paint": bodies[3]["id"].(string), "brush": bodies[4]["id"].(string), "call": bodies[5]["id"].(string)}
		if !reflect.DeepEqual(answer.TempIDs, made) {
			t.Fatalf("temp_ids %v, want %v", answer.TempIDs, made)
		}
		for temp, id := range made {
			if _, err := uuid.Parse(id); err != nil || id == temp {
				t.Fatalf("temp id %s maps to %q, not a real id", temp, id)
			}
		}
		paint, brush, moved := bodies[3], bodies[4], bodies[7]
		if paint["project_id"] != made["home"] || paint["priority"] != "high" || len(paint["tags"].([]any)) != 1 ||
			paint["tags"].([]any)[0].(map[string]any)["id"] != made["errands"] {
			t.Fatalf("task.create with temp ids: %v", paint)
		}
		if brush["parent_id"] != made["paint"] || brush["project_id"] != made["home"] {
			t.Fatalf("a subtask made under a temp id goes into its parent's project: %v", brush)
		}
		if bodies[6]["description"] != "two coats" || bodies[6]["version"] != float64(2) {
			t.Fatalf("task.update: %v", bodies[6])
		}
		if moved["project_id"] != made["work"] || moved["version"] != float64(2) {
			t.Fatalf("task.move: %v", moved)
		}
		if bodies[8]["name"] != "chores" || bodies[9]["name"] != "Office" || bodies[9]["version"] != float64(2) || bodies[10]["version"] != float64(3) {
			t.Fatalf("tag.update, project.update, project.move: %v %v %v", bodies[8], bodies[9], bodies[10])
		}

		// What is left is what the requests would have left.
		for _, id := range []string{made["paint"], made["brush"]} {
			apptest.RequireProblem(t, call(t, s, u, http.MethodGet, taskPath(id), nil, nil), http.StatusNotFound)
		}
		got := call(t, s, u, http.MethodGet, taskPath(made["call"]), nil, nil)
		apptest.RequireStatus(t, got, http.StatusOK)
		if !sameJSON(t, got.Body, res[7].Body) {
			t.Fatalf("the moved task is\n%s\nthe batch answered\n%s", got.Body, res[7].Body)
		}
		got = call(t, s, u, http.MethodGet, projectPath(made["work"]), nil, nil)
		if !sameJSON(t, got.Body, res[10].Body) {
			t.Fatalf("the moved project is\n%s\nthe batch answered\n%s", got.Body, res[10].Body)
		}
		if projects := listProjects(t, s, u, "any"); !slices.Equal(projectIDs(projects.Items), []string{made["work"]}) {
			t.Fatalf("projects after the batch: %v", projectIDs(projects.Items))
		}
		if tags := listTags(t, s, u); tags.Total != 0 {
			t.Fatalf("tags after the batch: %+v", tags.Items)
		}

		// One event per command, in order, each carrying the command's
		// result; the tasks deleted with the project have none.
		requireEventsInOrder(t, feed, []wantEvent{
			{"tag.created", made["errands"], res[0].Body}, {"project.created", made["home"], res[1].Body},
			{"project.created", made["work"], res[2].Body}, {"task.created", made["paint"], res[3].Body},
			{"task.created", made["brush"], res[4].Body}, {"task.created", made["call"], res[5].Body},
			{"task.updated", made["paint"], res[6].Body}, {"task.updated", made["call"], res[7].Body},
			{"tag.updated", made["errands"], res[8].Body}, {"project.updated", made["work"], res[9].Body},
			{"project.updated", made["work"], res[10].Body}, {"task.deleted", made["brush"], nil},
			{"tag.deleted", made["errands"], nil}, {"project.deleted", made["home"], nil},
		})
		feed.None(t, feedQuiet)
		_ = r
	})
}

// TestBatchTempIDsAcrossBatches: a temp id made by one batch names its
// object in the batches that follow, and only for its user.
func TestBatchTempIDsAcrossBatches(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		first, _ := mustBatch(t, s, u,
			command("a1", "project.create", "trip", map[string]any{"name": "Trip"}),
			command("a2", "tag.create", "travel", map[string]any{"name": "travel"}))
		project, tag := first.TempIDs["trip"], first.TempIDs["travel"]
		if project == "" || tag == "" || len(first.TempIDs) != 2 {
			t.Fatalf("first batch's temp_ids: %v", first.TempIDs)
		}

		second, r := mustBatch(t, s, u,
			command("b1", "task.create", "tickets", map[string]any{"title": "Buy tickets", "project_id": "trip", "tag_ids": []string{"travel"}}),
			command("b2", "project.update", "", map[string]any{"id": "trip", "name": "Trip to Lisbon"}),
			command("b3", "task.create", "", map[string]any{"title": "Pack", "project_id": "unknown-temp-id"}))
		task := requireSuccess(t, 0, second.Results[0], http.StatusCreated, "task")
		if task["project_id"] != project || task["tags"].([]any)[0].(map[string]any)["id"] != tag {
			t.Fatalf("a task made with the first batch's temp ids: %v", task)
		}
		if renamed := requireSuccess(t, 1, second.Results[1], http.StatusOK, "project"); renamed["id"] != project || renamed["name"] != "Trip to Lisbon" {
			t.Fatalf("project.update by a temp id: %v", renamed)
		}
		// A string that is no temp id stays what it is: not an id.
		requireRefusal(t, r, 2, second.Results[2], http.StatusUnprocessableEntity, "project_id")
		want := map[string]string{"trip": project, "travel": tag, "tickets": task["id"].(string)}
		if !reflect.DeepEqual(second.TempIDs, want) {
			t.Fatalf("second batch's temp_ids %v, want every temp id it used or made %v", second.TempIDs, want)
		}

		third, _ := mustBatch(t, s, u, command("c1", "task.delete", "", map[string]any{"id": "tickets"}))
		requireSuccess(t, 0, third.Results[0], http.StatusNoContent, "")
		if !reflect.DeepEqual(third.TempIDs, map[string]string{"tickets": task["id"].(string)}) {
			t.Fatalf("third batch's temp_ids: %v", third.TempIDs)
		}

		// Another user's batch does not know them.
		theirs, r := mustBatch(t, s, other,
			command("a1", "task.create", "", map[string]any{"title": "Sneak in", "project_id": "trip"}),
			command("x2", "project.delete", "", map[string]any{"id": project}))
		requireRefusal(t, r, 0, theirs.Results[0], http.StatusUnprocessableEntity, "project_id")
		requireRefusal(t, r, 1, theirs.Results[1], http.StatusNotFound)
		if len(theirs.TempIDs) != 0 {
			t.Fatalf("another user's temp_ids: %v", theirs.TempIDs)
		}
		if got, _ := mustGetProject(t, s, u, project); got.Name != "Trip to Lisbon" {
			t.Fatalf("the project after another user's batch: %+v", got)
		}
	})
}

// TestBatchRefusedWhole: a body that is not a list of 1 to 100 command
// objects is refused whole, and nothing of it is applied.
func TestBatchRefusedWhole(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		valid := command("valid-1", "task.create", "", map[string]any{"title": "never applied"})
		tooMany := make([]map[string]any, 101)
		for i := range tooMany {
			tooMany[i] = command(fmt.Sprintf("many-%d", i), "task.create", "", map[string]any{"title": "never applied"})
		}
		for _, c := range []struct {
			name  string
			body  any
			field string
		}{
			{"no commands member", `{}`, "commands"},
			{"no commands", `{"commands":[]}`, "commands"},
			{"commands not a list", `{"commands":{"uuid":"x"}}`, "commands"},
			{"commands null", `{"commands":null}`, "commands"},
			{"101 commands", map[string]any{"commands": tooMany}, "commands"},
			{"a number among them", map[string]any{"commands": []any{valid, 5}}, "commands[1]"},
			{"a string", map[string]any{"commands": []any{"task.create", valid}}, "commands[0]"},
			{"null", map[string]any{"commands": []any{valid, nil}}, "commands[1]"},
			{"a list", map[string]any{"commands": []any{[]any{valid}}}, "commands[0]"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := call(t, s, u, http.MethodPost, "/api/v1/batch", c.body, nil)
				requireExactFields(t, r, http.StatusUnprocessableEntity, c.field)
			})
		}
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/batch", `[`, nil), http.StatusBadRequest)
		apptest.RequireProblem(t, call(t, s, u, http.MethodPost, "/api/v1/batch", `[]`, nil), http.StatusBadRequest)
		r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/batch", Token: u.token,
			Body: `{"commands":[]}`, Headers: map[string]string{"Content-Type": "text/plain"}})
		apptest.RequireProblem(t, r, http.StatusUnsupportedMediaType)
		apptest.RequireProblem(t, s.Do(t, apptest.Request{Method: http.MethodPost, Path: "/api/v1/batch",
			Body: map[string]any{"commands": []any{valid}}}), http.StatusUnauthorized)

		if page := listTasks(t, s, u, nil); page.Total != 0 {
			t.Fatalf("a refused batch applied %d tasks", page.Total)
		}
		// Nor was any command's uuid kept: it runs when sent in a valid batch.
		answer, _ := mustBatch(t, s, u, valid, tooMany[100])
		requireSuccess(t, 0, answer.Results[0], http.StatusCreated, "task")
		requireSuccess(t, 1, answer.Results[1], http.StatusCreated, "task")
	})
}

// TestBatchRefusesBadCommandsAlone: a command with an unknown type, a bad
// uuid, malformed args, a temp id not made yet, gets a 4xx result naming
// every field at fault, and the other commands run.
func TestBatchRefusesBadCommandsAlone(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u, other := newUser(t), newUser(t)
		theirs := mustCreateTask(t, s, other, map[string]any{"title": "another user's"})
		mine := mustCreateTask(t, s, u, map[string]any{"title": "mine"})
		tag := mustCreateTag(t, s, u, "mine")
		long := strings.Repeat("u", 65)
		cases := []struct {
			command map[string]any
			status  int
			fields  []string
		}{
			{command("ok-1", "task.create", "", map[string]any{"title": "first"}), 201, nil},
			{command("c-type", "task.explode", "", map[string]any{"title": "x"}), 422, []string{"type"}},
			{command("", "task.create", "", map[string]any{"title": "x"}), 422, []string{"uuid"}},
			{command(long, "task.create", "", map[string]any{"title": "x"}), 422, []string{"uuid"}},
			{command("has space", "task.create", "", map[string]any{"title": "x"}), 422, []string{"uuid"}},
			{command("caf\u00e9", "task.create", "", map[string]any{"title": "x"}), 422, []string{"uuid"}},
			{command("", "nope", "", map[string]any{}), 422, []string{"type", "uuid"}},
			{map[string]any{"uuid": "c-no-type", "args": map[string]any{"title": "x"}}, 422, []string{"type"}},
			{map[string]any{"uuid": 7, "type": "task.create", "args": map[string]any{"title": "x"}}, 422, []string{"uuid"}},
			{map[string]any{"uuid": "c-args-list", "type": "task.create", "args": []any{"x"}}, 422, []string{"args"}},
			{map[string]any{"uuid": "c-args-string", "type": "task.create", "args": "title"}, 422, []string{"args"}},
			{map[string]any{"uuid": "c-args-null", "type": "task.delete", "args": nil}, 422, []string{"args"}},
			{command("c-fields", "task.create", "", map[string]any{"title": " ", "priority": "urgent", "due_date": "soon"}), 422, []string{"title", "priority", "due_date"}},
			{command("c-wrong-type", "task.create", "", map[string]any{"title": 5, "completed": "yes"}), 422, []string{"title", "completed"}},
			{command("c-no-id", "task.update", "", map[string]any{"title": "x"}), 422, []string{"id"}},
			{command("c-id-number", "task.delete", "", map[string]any{"id": 5}), 422, []string{"id"}},
			{command("c-bad-id", "task.update", "", map[string]any{"id": "not-an-id", "title": "x"}), 404, nil},
			{command("c-version", "task.update", "", map[string]any{"id": mine.ID, "version": "1", "title": "x"}), 422, []string{"version"}},
			{command("c-version-0", "project.move", "", map[string]any{"id": mine.ID, "version": 0}), 422, []string{"version"}},
			{command("c-tag-version", "tag.update", "", map[string]any{"id": tag.ID, "version": 1, "name": "x"}), 422, []string{"version"}},
			{command("c-self", "task.create", "self", map[string]any{"title": "x", "parent_id": "self"}), 422, []string{"parent_id"}},
			{command("c-later", "task.create", "", map[string]any{"title": "x", "project_id": "later"}), 422, []string{"project_id"}},
			{command("c-later-tag", "task.update", "", map[string]any{"id": mine.ID, "tag_ids": []string{tag.ID, "later-tag"}}), 422, []string{"tag_ids[1]"}},
			{command("ok-later", "project.create", "later", map[string]any{"name": "made later"}), 201, nil},
			{command("ok-later-tag", "tag.create", "later-tag", map[string]any{"name": "made later"}), 201, nil},
			{command("c-temp-on-update", "task.update", "x", map[string]any{"id": mine.ID, "title": "x"}), 422, []string{"temp_id"}},
			{command("c-temp-empty", "task.create", "", map[string]any{"title": "x"}), 201, nil},
			{map[string]any{"uuid": "c-temp-blank", "type": "task.create", "temp_id": "", "args": map[string]any{"title": "x"}}, 422, []string{"temp_id"}},
			{command("c-temp-long", "task.create", long, map[string]any{"title": ""}), 422, []string{"temp_id", "title"}},
			{command("c-temp-nul", "project.create", "a\x00b", map[string]any{"name": "x"}), 422, []string{"temp_id"}},
			{command("c-ref-nul", "task.create", "", map[string]any{"title": "x", "project_id": "a\x00b", "parent_id": strings.Repeat("p", 100)}), 422, []string{"project_id", "parent_id"}},
			{command("c-theirs", "task.delete", "", map[string]any{"id": theirs.ID}), 404, nil},
			{command("c-theirs-parent", "task.create", "", map[string]any{"title": "x", "parent_id": theirs.ID}), 422, []string{"parent_id"}},
			{command("ok-2", "task.create", "", map[string]any{"title": "last"}), 201, nil},
		}
		commands := make([]map[string]any, len(cases))
		for i, c := range cases {
			commands[i] = c.command
		}
		req := batchRequest(u, commands)
		req.OutsideSchema = true
		r := s.Do(t, req)
		apptest.RequireStatus(t, r, http.StatusOK)
		var answer batchAnswer
		r.JSON(t, &answer)
		if len(answer.Results) != len(cases) {
			t.Fatalf("%d results for %d commands: %s", len(answer.Results), len(cases), r.Body)
		}
		made := map[string]string{}
		for i, c := range cases {
			res := answer.Results[i]
			if uuid, ok := c.command["uuid"].(string); ok && res.UUID != uuid {
				t.Fatalf("result %d: uuid %q, want %q", i, res.UUID, uuid)
			}
			if c.status >= 400 {
				requireRefusal(t, r, i, res, c.status, c.fields...)
				if len(res.Body) != 0 {
					t.Fatalf("result %d: a refusal with a body %s", i, res.Body)
				}
				continue
			}
			kind, _, _ := strings.Cut(c.command["type"].(string), ".")
			body := requireSuccess(t, i, res, c.status, kind)
			if temp, _ := c.command["temp_id"].(string); temp != "" {
				made[temp] = body["id"].(string)
			}
		}
		if !reflect.DeepEqual(answer.TempIDs, made) {
			t.Fatalf("temp_ids %v, want only those of the creates that succeeded %v", answer.TempIDs, made)
		}
		titles := titles(listTasks(t, s, u, nil).Items)
		slices.Sort(titles)
		if want := []string{"first", "last", "mine", "x"}; !slices.Equal(titles, want) {
			t.Fatalf("tasks after the batch: %v, want %v", titles, want)
		}
		if got, _ := mustGetTask(t, s, u, mine.ID); got.Version != 1 {
			t.Fatalf("a refused command changed a task: %+v", got)
		}
		if got, _ := mustGetTask(t, s, other, theirs.ID); got.Title != "another user's" {
			t.Fatalf("another user's task: %+v", got)
		}
	})
}

// TestBatchStaleVersion: a command whose version is no longer its
// object's is a 412 result carrying the object as it is now, and changes
// nothing; with the current version it runs.
func TestBatchStaleVersion(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		task := mustCreateTask(t, s, u, map[string]any{"title": "v1"})
		mustWriteTask(t, s, u, http.MethodPatch, task.ID, map[string]any{"title": "v2"})
		project := mustCreateProject(t, s, u, "v1")
		mustPatchProject(t, s, u, project.ID, map[string]any{"name": "v2"})
		currentTask := call(t, s, u, http.MethodGet, taskPath(task.ID), nil, nil)
		currentProject := call(t, s, u, http.MethodGet, projectPath(project.ID), nil, nil)

		answer, r := mustBatch(t, s, u,
			command("s1", "task.update", "", map[string]any{"id": task.ID, "version": 1, "title": "stale"}),
			command("s2", "task.move", "", map[string]any{"id": task.ID, "version": 1, "after_id": nil}),
			command("s3", "task.delete", "", map[string]any{"id": task.ID, "version": 1}),
			command("s4", "project.update", "", map[string]any{"id": project.ID, "version": 1, "archived": true}),
			command("s5", "project.move", "", map[string]any{"id": project.ID, "version": 1, "after_id": nil}),
			command("s6", "project.delete", "", map[string]any{"id": project.ID, "version": 1}),
			command("s7", "task.update", "", map[string]any{"id": task.ID, "version": 2, "title": "v3"}),
			command("s8", "project.delete", "", map[string]any{"id": project.ID, "version": 2}))
		for i := range 6 {
			p := requireRefusal(t, r, i, answer.Results[i], http.StatusPreconditionFailed)
			if !strings.HasSuffix(p["type"].(string), "precondition-failed") {
				t.Fatalf("result %d: type %v", i, p["type"])
			}
			current := currentTask
			if i >= 3 {
				current = currentProject
			}
			if !sameJSON(t, answer.Results[i].Body, current.Body) {
				t.Fatalf("result %d carries\n%s\nwant the object as it is\n%s", i, answer.Results[i].Body, current.Body)
			}
		}
		if updated := requireSuccess(t, 6, answer.Results[6], http.StatusOK, "task"); updated["title"] != "v3" || updated["version"] != float64(3) {
			t.Fatalf("the update with the current version: %v", updated)
		}
		requireSuccess(t, 7, answer.Results[7], http.StatusNoContent, "")
		if got, _ := mustGetTask(t, s, u, task.ID); got.Title != "v3" {
			t.Fatalf("after the batch: %+v", got)
		}
	})
}

// offlineRound is a batch a client would send after working offline: a
// project and a tag, tasks in the project named by temp ids, a subtask,
// an update and a retag of one of them, and commands refused (a stale
// version, an invalid title, a tag name taken, an unknown id). prefix
// keeps its uuids and names apart from another round's.
func offlineRound(prefix, staleID string) []map[string]any {
	return []map[string]any{
		command(prefix+"-1", "project.create", prefix+"-p", map[string]any{"name": prefix + " project"}),
		command(prefix+"-2", "tag.create", prefix+"-g", map[string]any{"name": prefix + " tag"}),
		command(prefix+"-3", "task.create", prefix+"-t", map[string]any{"title": prefix + " task", "project_id": prefix + "-p"}),
		command(prefix+"-4", "task.create", prefix+"-s", map[string]any{"title": prefix + " subtask", "parent_id": prefix + "-t"}),
		command(prefix+"-5", "task.update", "", map[string]any{"id": prefix + "-t", "version": 1, "tag_ids": []string{prefix + "-g"}, "priority": "high"}),
		command(prefix+"-6", "task.move", "", map[string]any{"id": prefix + "-s", "parent_id": nil, "after_id": nil}),
		command(prefix+"-7", "task.update", "", map[string]any{"id": staleID, "version": 1, "title": "stale"}),
		command(prefix+"-8", "task.create", "", map[string]any{"title": strings.Repeat("x", 201)}),
		command(prefix+"-9", "tag.create", "", map[string]any{"name": prefix + " tag"}),
		command(prefix+"-10", "task.delete", "", map[string]any{"id": uuid.NewSHA1(uuid.NameSpaceOID, []byte(prefix)).String()}),
		command(prefix+"-11", "project.update", "", map[string]any{"id": prefix + "-p", "color": "#abcdef"}),
	}
}

// offlineStatuses are the statuses of offlineRound's results.
var offlineStatuses = []int{201, 201, 201, 201, 200, 200, 412, 422, 409, 404, 200}

// requireOfflineRound checks an answer to offlineRound: each result's
// status, and the temp ids it made.
func requireOfflineRound(t testing.TB, prefix string, answer batchAnswer) {
	t.Helper()
	for i, want := range offlineStatuses {
		if got := answer.Results[i].Status; got != want {
			t.Fatalf("result %d: status %d, want %d: %s %s", i, got, want, answer.Results[i].Body, answer.Results[i].Error)
		}
	}
	if len(answer.TempIDs) != 4 {
		t.Fatalf("temp_ids %v, want %s-p, -g, -t and -s", answer.TempIDs, prefix)
	}
	for _, temp := range []string{"-p", "-g", "-t", "-s"} {
		if answer.TempIDs[prefix+temp] == "" {
			t.Fatalf("temp_ids %v lack %s", answer.TempIDs, prefix+temp)
		}
	}
}

// TestBatchSentAgain: a batch sent again after its answer was lost gets
// the same answer, byte for byte, and applies nothing twice; one sent
// again with more commands runs only those; a uuid sent again with other
// args, or twice in one batch, is not applied twice either.
func TestBatchSentAgain(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		stale := mustCreateTask(t, s, u, map[string]any{"title": "changed since"})
		mustWriteTask(t, s, u, http.MethodPatch, stale.ID, map[string]any{"title": "changed"})
		feed := openFeed(t, s, u)

		round := offlineRound("r", stale.ID)
		first, r1 := mustBatch(t, s, u, round...)
		requireOfflineRound(t, "r", first)
		// p, g, t, s created, t updated, s moved, p updated.
		for range 7 {
			feed.Next(t, feedWait)
		}
		feed.None(t, feedQuiet)
		before := listTasks(t, s, u, nil).Total

		_, r2 := mustBatch(t, s, u, round...)
		if string(r2.Body) != string(r1.Body) {
			t.Fatalf("sent again, the answer\n%s\nwant the first, byte for byte\n%s", r2.Body, r1.Body)
		}
		feed.None(t, feedQuiet)
		if after := listTasks(t, s, u, nil).Total; after != before {
			t.Fatalf("%d tasks after the resend, %d before", after, before)
		}

		// Sent again with one more command, which uses a temp id of the
		// first sending: only that one runs.
		more := append(slices.Clone(round), command("r-12", "task.update", "", map[string]any{"id": "r-t", "title": "renamed"}))
		third, _ := mustBatch(t, s, u, more...)
		for i := range round {
			if !sameJSON(t, mustMarshal(t, third.Results[i]), mustMarshal(t, first.Results[i])) {
				t.Fatalf("result %d sent a third time: %+v, first %+v", i, third.Results[i], first.Results[i])
			}
		}
		renamed := requireSuccess(t, len(round), third.Results[len(round)], http.StatusOK, "task")
		if renamed["id"] != first.TempIDs["r-t"] || renamed["title"] != "renamed" || !reflect.DeepEqual(third.TempIDs, first.TempIDs) {
			t.Fatalf("the new command: %v; temp_ids %v, want %v", renamed, third.TempIDs, first.TempIDs)
		}
		requireEventsInOrder(t, feed, []wantEvent{{"task.updated", first.TempIDs["r-t"], third.Results[len(round)].Body}})
		feed.None(t, feedQuiet)

		// The same uuid with other args, or another temp id, is not
		// applied: its result says the uuid was used for another command.
		reused, r := mustBatch(t, s, u,
			command("r-1", "project.create", "r-p", map[string]any{"name": "another project"}),
			command("r-3", "task.create", "another-temp", map[string]any{"title": "r task", "project_id": "r-p"}),
			command("r-10", "task.delete", "", map[string]any{"id": first.TempIDs["r-t"]}))
		for i := range reused.Results {
			p := requireRefusal(t, r, i, reused.Results[i], http.StatusUnprocessableEntity)
			if !strings.HasSuffix(p["type"].(string), "idempotency-key-reused") {
				t.Fatalf("result %d: type %v, want idempotency-key-reused", i, p["type"])
			}
		}
		feed.None(t, feedQuiet)

		// A uuid twice in one batch: the repeat gets the first's result;
		// with other args, a refusal.
		req := batchRequest(u, []map[string]any{
			command("w-1", "task.create", "", map[string]any{"title": "once"}),
			command("w-1", "task.create", "", map[string]any{"title": "once"}),
			command("w-2", "task.create", "", map[string]any{"title": 1}),
			command("w-2", "task.create", "", map[string]any{"title": 1}),
			command("w-1", "task.create", "", map[string]any{"title": "twice"})})
		req.OutsideSchema = true
		twice, r := runBatch(t, s, req)
		if !sameJSON(t, mustMarshal(t, twice.Results[0]), mustMarshal(t, twice.Results[1])) || twice.Results[0].Status != 201 {
			t.Fatalf("a uuid repeated in a batch: %+v then %+v", twice.Results[0], twice.Results[1])
		}
		if !sameJSON(t, mustMarshal(t, twice.Results[2]), mustMarshal(t, twice.Results[3])) {
			t.Fatalf("a refused uuid repeated in a batch: %+v then %+v", twice.Results[2], twice.Results[3])
		}
		requireRefusal(t, r, 2, twice.Results[2], http.StatusUnprocessableEntity, "title")
		requireRefusal(t, r, 4, twice.Results[4], http.StatusUnprocessableEntity)
		requireEventsInOrder(t, feed, []wantEvent{{"task.created", idOf(t, twice.Results[0].Body), twice.Results[0].Body}})
		feed.None(t, feedQuiet)
	})
}

// answerDiff lists where two batch answers differ: each result, and
// temp_ids.
func answerDiff(t testing.TB, a, b apptest.Response) string {
	t.Helper()
	var x, y batchAnswer
	a.JSON(t, &x)
	b.JSON(t, &y)
	var lines []string
	for i := range min(len(x.Results), len(y.Results)) {
		if p, q := mustMarshal(t, x.Results[i]), mustMarshal(t, y.Results[i]); string(p) != string(q) {
			lines = append(lines, fmt.Sprintf("result %d:\n  %s\n  %s", i, p, q))
		}
	}
	if !reflect.DeepEqual(x.TempIDs, y.TempIDs) {
		lines = append(lines, fmt.Sprintf("temp_ids:\n  %v\n  %v", x.TempIDs, y.TempIDs))
	}
	return strings.Join(lines, "\n")
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// requireAppliedOnce checks that the objects of offlineRound rounds exist
// once each: one project, one tag and two tasks per round, and nothing
// else.
func requireAppliedOnce(t testing.TB, s *apptest.Server, u user, rounds, extraTasks int) {
	t.Helper()
	if n := listProjects(t, s, u, "any").Total; n != rounds {
		t.Fatalf("%d projects after %d rounds", n, rounds)
	}
	if n := listTags(t, s, u).Total; n != rounds {
		t.Fatalf("%d tags after %d rounds", n, rounds)
	}
	if n := listTasks(t, s, u, nil).Total; n != 2*rounds+extraTasks {
		t.Fatalf("%d tasks after %d rounds, want %d", n, rounds, 2*rounds+extraTasks)
	}
}

// TestBatchCopiesAtOnce: copies of one batch sent at the same instant (a
// resend racing its original) apply each command once, and all get the
// same answer, byte for byte: temp ids, refusals and all.
func TestBatchCopiesAtOnce(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		stale := mustCreateTask(t, s, u, map[string]any{"title": "changed since"})
		mustWriteTask(t, s, u, http.MethodPatch, stale.ID, map[string]any{"title": "changed"})
		const rounds, copies = 5, 3
		for round := range rounds {
			prefix := fmt.Sprintf("round%d", round)
			req := batchRequest(u, offlineRound(prefix, stale.ID))
			reqs := make([]apptest.Request, copies)
			for i := range reqs {
				reqs[i] = req
			}
			answers := atOnce(t, s, u, reqs...)
			for i, r := range answers {
				apptest.RequireStatus(t, r, http.StatusOK)
				if string(r.Body) != string(answers[0].Body) {
					t.Fatalf("round %d: copy %d answered otherwise than copy 0:\n%s", round, i, answerDiff(t, r, answers[0]))
				}
			}
			var answer batchAnswer
			answers[0].JSON(t, &answer)
			requireOfflineRound(t, prefix, answer)
		}
		requireAppliedOnce(t, s, u, rounds, 1)
	})
}

// TestBatchIdempotencyKey: POST /batch with an Idempotency-Key sent again
// gets the whole answer again, byte for byte, marked replayed; the key
// with another body is refused.
func TestBatchIdempotencyKey(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, nil)
		u := newUser(t)
		key := map[string]string{"Idempotency-Key": "batch-" + uuid.NewString()}
		req := batchRequest(u, offlineRound("k", uuid.NewString()))
		req.Headers = key
		first, r1 := runBatch(t, s, req)
		if first.Results[6].Status != http.StatusNotFound { // the stale id is no task of the user's
			t.Fatalf("result 6: %+v", first.Results[6])
		}
		_, r2 := runBatch(t, s, req)
		if string(r2.Body) != string(r1.Body) || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replayed with Idempotent-Replayed %q:\n%s\nfirst:\n%s", r2.Header.Get("Idempotent-Replayed"), r2.Body, r1.Body)
		}
		other := batchRequest(u, []map[string]any{command("k-99", "task.create", "", map[string]any{"title": "other"})})
		other.Headers = key
		p := apptest.RequireProblem(t, s.Do(t, other), http.StatusUnprocessableEntity)
		if !strings.HasSuffix(p["type"].(string), "idempotency-key-reused") {
			t.Fatalf("the key with another body: %v", p)
		}
		requireAppliedOnce(t, s, u, 1, 0)

		// Two copies with a new key at once: the second is not refused
		// while the first runs; it runs as a resend, and both answer alike.
		req = batchRequest(u, offlineRound("k2", uuid.NewString()))
		req.Headers = map[string]string{"Idempotency-Key": "batch-" + uuid.NewString()}
		both := atOnce(t, s, u, req, req)
		for _, r := range both {
			apptest.RequireStatus(t, r, http.StatusOK)
		}
		if string(both[0].Body) != string(both[1].Body) {
			t.Fatalf("two copies with one key answered otherwise:\n%s", answerDiff(t, both[0], both[1]))
		}
		requireAppliedOnce(t, s, u, 2, 0)
	})
}

// TestBatchAcrossReplicas: on two servers over one PostgreSQL database, a
// batch run on one is answered again by the other, copies sent to both at
// once apply each command once and get the same answer, and a stream on
// one sees the events of a batch run on the other.
func TestBatchAcrossReplicas(t *testing.T) {
	db := apptest.Postgres(t)
	a := apptest.Start(t, db, nil)
	b := apptest.Start(t, db, nil)
	u := newUser(t)
	stale := mustCreateTask(t, a, u, map[string]any{"title": "changed since"})
	mustWriteTask(t, a, u, http.MethodPatch, stale.ID, map[string]any{"title": "changed"})
	feed := openFeed(t, a, u)

	first, r1 := mustBatch(t, b, u, offlineRound("one", stale.ID)...)
	requireOfflineRound(t, "one", first)
	res := first.Results
	requireEventsInOrder(t, feed, []wantEvent{
		{"project.created", first.TempIDs["one-p"], res[0].Body}, {"tag.created", first.TempIDs["one-g"], res[1].Body},
		{"task.created", first.TempIDs["one-t"], res[2].Body}, {"task.created", first.TempIDs["one-s"], res[3].Body},
		{"task.updated", first.TempIDs["one-t"], res[4].Body}, {"task.updated", first.TempIDs["one-s"], res[5].Body},
		{"project.updated", first.TempIDs["one-p"], res[10].Body},
	})
	_, r2 := mustBatch(t, a, u, offlineRound("one", stale.ID)...)
	if string(r2.Body) != string(r1.Body) {
		t.Fatalf("sent again to the other replica:\n%s\nfirst:\n%s", r2.Body, r1.Body)
	}

	for round := range 3 {
		prefix := fmt.Sprintf("both%d", round)
		req := batchRequest(u, offlineRound(prefix, stale.ID))
		answers := make([]apptest.Response, 2)
		start := make(chan struct{})
		done := make(chan struct{})
		for i, srv := range []*apptest.Server{a, b} {
			go func() {
				defer func() { done <- struct{}{} }()
				<-start
				answers[i] = srv.Do(t, req)
			}()
		}
		close(start)
		<-done
		<-done
		apptest.RequireStatus(t, answers[0], http.StatusOK)
		if string(answers[1].Body) != string(answers[0].Body) {
			t.Fatalf("round %d: the replicas answered otherwise:\n%s", round, answerDiff(t, answers[1], answers[0]))
		}
	}
	requireAppliedOnce(t, a, u, 4, 1)
}
