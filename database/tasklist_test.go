package database_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// awkwardText holds every kind of character whose JSON encoding differs
// between encoders: quotes, backslashes, HTML's <, > and &, control
// characters, the line separators JavaScript refuses, and characters
// outside the Basic Multilingual Plane.
const awkwardText = "say \"hi\" \\ <b>&amp;</b> \t\n\x01\x1f \u2028\u2029 é 😀"

// TestAppendListJSONEqualsThePageEncoded holds AppendListJSON, which on PostgreSQL
// reads its one statement's rows through pgx (binary results where
// statements are prepared, text where they are not), to List's page
// encoded by models: every filter, sort and page position gives the same
// JSON (same members, same values, same order of items and tags, byte for
// byte), awkward text and times included.
func TestAppendListJSONEqualsThePageEncoded(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openMigrated(t, db)
		tasks, tags := newTasks(gdb, 100), newTags(gdb, 100)
		red := "#ff0000"
		var tagIDs []string
		for _, in := range []models.TagInput{{Name: "beta " + awkwardText, Color: &red}, {Name: "Alpha"}, {Name: "gamma"}} {
			tag, err := tags.Create(ctx, "u", in, nil)
			if err != nil {
				t.Fatal(err)
			}
			tagIDs = append(tagIDs, tag.ID)
		}
		dues := []*time.Time{nil, ptr(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)),
			ptr(time.Date(2026, 12, 5, 10, 0, 0, 500_000_000, time.UTC)), ptr(time.Date(2025, 1, 2, 3, 4, 5, 1000, time.UTC))}
		priorities := []models.Priority{models.PriorityLow, models.PriorityMedium, models.PriorityHigh}
		for i := range 9 {
			mustCreate(t, tasks, "u", models.TaskInput{
				Title: fmt.Sprintf("task %d %s", i, awkwardText), Description: awkwardText[:i*3],
				Completed: i%3 == 0, Priority: priorities[i%3], DueDate: dues[i%len(dues)],
				TagIDs: tagIDs[:i%(len(tagIDs)+1)],
			})
		}
		mustCreate(t, tasks, "someone else", models.TaskInput{Title: "not yours"})

		yes, no, high := true, false, models.PriorityHigh
		past, future := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		filters := []models.TaskFilter{
			{}, {Limit: 3}, {Limit: 3, Offset: 3}, {Limit: 4, Offset: 8}, {Limit: 5, Offset: 9}, {Limit: 5, Offset: 50},
			{Completed: &yes}, {Completed: &no}, {Priority: &high}, {TagID: tagIDs[0]}, {Query: "TASK 3"}, {Query: "%"},
			{DueBefore: &future}, {DueAfter: &past}, {UpdatedAfter: &past}, {Due: models.DueNone},
			{Due: models.DueOverdue, Now: future},
		}
		for _, sort := range []models.TaskSort{models.SortCreatedAsc, models.SortCreatedDesc, models.SortDueAsc, models.SortDueDesc,
			models.SortPriorityAsc, models.SortPriorityDesc, models.SortTitleAsc, models.SortTitleDesc,
			models.SortUpdatedAsc, models.SortUpdatedDesc} {
			filters = append(filters, models.TaskFilter{Sort: sort, Limit: 7})
		}
		readers := map[string]taskStore{"": tasks}
		if db.Name == "postgres" {
			// Unprepared, as behind a transaction pooler, pgx asks for
			// text results; a session zone other than UTC shows whether
			// times read as text keep their instant.
			readers["unprepared, text results"] = newTasks(open(t, withURLQuery(db.URL, "default_query_exec_mode=exec&timezone=Asia/Kolkata")), 100)
		}
		for mode, reader := range readers {
			for _, user := range []string{"u", "nobody"} {
				for _, f := range filters {
					comparePages(t, ctx, tasks, reader, user, f, mode)
				}
			}
		}
	})
}

// comparePages holds reader's AppendListJSON to the page List reads.
func comparePages(t *testing.T, ctx context.Context, tasks, reader taskStore, user string, f models.TaskFilter, mode string) {
	t.Helper()
	page, err := tasks.List(ctx, user, f)
	if err != nil {
		t.Fatalf("%s %+v: list: %v", user, f, err)
	}
	body, err := reader.AppendListJSON(ctx, nil, user, f)
	if err != nil {
		t.Fatalf("%s %+v %s: list JSON: %v", user, f, mode, err)
	}
	want, got := parseJSON(t, page.AppendJSON(nil)), parseJSON(t, body)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %+v %s:\n got %s\nwant %s", user, f, mode, body, page.AppendJSON(nil))
	}
	if !bytes.Equal(body, page.AppendJSON(nil)) {
		t.Fatalf("%s %+v %s: not byte for byte:\n got %s\nwant %s", user, f, mode, body, page.AppendJSON(nil))
	}
}

// withURLQuery adds query parameters to a database URL.
func withURLQuery(url, query string) string {
	if strings.Contains(url, "?") {
		return url + "&" + query
	}
	return url + "?" + query
}

func parseJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func ptr[T any](v T) *T { return &v }

// TestAppendListJSONSurvivesConnectionsTheServerEnded ends every connection of
// the pool while it is idle, as a server restart does, or Neon when it
// suspends a database: the next list is answered on new connections, not
// failed on the dead ones.
func TestAppendListJSONSurvivesConnectionsTheServerEnded(t *testing.T) {
	db := apptest.Postgres(t)
	ctx := context.Background()
	gdb := openMigrated(t, db) // a pool of 4
	tasks := newTasks(gdb, 100)
	mustCreate(t, tasks, "u", models.TaskInput{Title: "still here"})
	pool, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	holdAndRelease(t, pool, 4)

	admin := open(t, db.URL)
	var ended int
	err = admin.Raw(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&ended).Error
	if err != nil {
		t.Fatal(err)
	}
	if idle := pool.Stats().Idle; ended < 4 || idle != 4 {
		t.Fatalf("ended %d connections with %d idle in the pool; want the pool's 4 idle ones ended", ended, idle)
	}
	awaitNoOtherBackends(t, admin)

	body, err := tasks.AppendListJSON(ctx, nil, "u", models.TaskFilter{})
	if err != nil {
		t.Fatalf("list after the server ended the pool's connections: %v", err)
	}
	items := parseJSON(t, body).(map[string]any)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["title"] != "still here" {
		t.Fatalf("list after the server ended the pool's connections: %s", body)
	}
}

// awaitNoOtherBackends waits until admin's connection is the only one to
// its database: pg_terminate_backend only signals.
func awaitNoOtherBackends(t *testing.T, admin *gorm.DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var others int
		err := admin.Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others).Error
		if err != nil {
			t.Fatal(err)
		}
		if others == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open 10s after they were ended", others)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestListKeepsOneGenericPlanPerConnection holds the list's prepared
// statement to one generic plan on a connection, where the statistics once
// tipped it into custom plans, planned again on every execution: a user
// with many tasks created out of order makes the index scan of the first
// page look dear, and a custom plan knows its offset is 0 where a generic
// one assumes a tenth of the rows. PostgreSQL tries five custom plans
// before it compares; the list must then stay on its generic plan.
func TestListKeepsOneGenericPlanPerConnection(t *testing.T) {
	db := apptest.Postgres(t)
	ctx := context.Background()
	admin := openMigrated(t, db)
	err := admin.Exec(`INSERT INTO tasks (id, user_id, title, created_at, updated_at)
		SELECT gen_random_uuid()::text, 'heavy', 'task ' || i, ts, ts
		FROM generate_series(1, 5000) i, LATERAL (SELECT now() - random() * interval '1000 days' - i * interval '1 microsecond' AS ts) r`).Error
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Exec(`ANALYZE tasks`).Error; err != nil {
		t.Fatal(err)
	}
	// One connection, so the statement's plan counts are that session's.
	gdb, err := database.Open(ctx, database.Options{URL: db.URL, MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close(gdb) })
	tasks := newTasks(gdb, 100)
	const lists = 12
	for range lists {
		body, err := tasks.AppendListJSON(ctx, nil, "heavy", models.TaskFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if total := parseJSON(t, body).(map[string]any)["total"]; total != float64(5000) {
			t.Fatalf("list total %v, want 5000", total)
		}
	}
	var plans struct{ Generic, Custom int }
	err = gdb.Raw(`SELECT generic_plans AS generic, custom_plans AS custom FROM pg_prepared_statements
		WHERE statement LIKE 'WITH page AS MATERIALIZED%'`).Scan(&plans).Error
	if err != nil {
		t.Fatal(err)
	}
	if plans.Custom > 5 || plans.Generic+plans.Custom != lists {
		t.Fatalf("the list's statement was planned %d times as custom plans and ran %d times on its generic plan; want at most 5 custom plans of %d runs",
			plans.Custom, plans.Generic, lists)
	}
}

// holdAndRelease takes n of db's connections at once, opening those the
// pool lacks, and gives them back.
func holdAndRelease(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	var held []*sql.Conn
	for range n {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		_ = c.Close()
	}
}
