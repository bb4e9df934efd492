package database_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// awkwardStrings are texts whose JSON encoding has every kind of escape
// encoding/json makes (and some it does not make).
var awkwardStrings = []string{
	"", "plain", `quote " and backslash \`, "slash / stays", "tab\tnew\nline\rcr\bback\fform",
	"\x01\x02\x1f control", "\x7f delete", "<b>html</b> & co", "line\u2028sep\u2029para",
	"ünïcödé ✓ 😀", `{"json":"inside"}`, `\u0041 literal`, "'single' quotes",
}

// awkwardTimes have fractions of every length, none, and trailing zeros.
var awkwardTimes = []time.Time{
	time.Date(2026, 12, 5, 16, 1, 56, 0, time.UTC),
	time.Date(2026, 12, 5, 16, 1, 56, 1000, time.UTC),
	time.Date(2026, 12, 5, 16, 1, 56, 100000000, time.UTC),
	time.Date(2026, 12, 5, 16, 1, 56, 120000000, time.UTC),
	time.Date(2026, 12, 5, 16, 1, 56, 123456000, time.UTC),
	time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2026, 1, 1, 0, 0, 0, 10000, time.UTC),
	time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
	time.Date(2030, 6, 1, 12, 30, 15, 500000000, time.FixedZone("CEST", 2*3600)).UTC(),
}

// TestPostgresBuildsEventJSONAsAppendJSON: the JSON an event's statement
// builds equals, byte for byte, what models' AppendJSON writes for the
// same tag or task.
func TestPostgresBuildsEventJSONAsAppendJSON(t *testing.T) {
	gdb := open(t, apptest.Postgres(t).URL)
	ctx := context.Background()
	db := gdb.WithContext(ctx)
	color := "#a0B1c2"
	for i, name := range awkwardStrings {
		tag := models.Tag{ID: "0193a7e4-" + name, Name: name, TaskCount: int64(i * 7), CreatedAt: awkwardTimes[i%len(awkwardTimes)]}
		if i%2 == 0 {
			tag.Color = &color
		}
		var got string
		err := db.Raw(`SELECT `+database.PgTagJSON("a", "a.task_count")+` FROM (SELECT CAST(? AS text) AS id, CAST(? AS text) AS name,
			CAST(? AS text) AS color, CAST(? AS timestamptz) AS created_at, CAST(? AS bigint) AS task_count) a`,
			tag.ID, tag.Name, tag.Color, tag.CreatedAt, tag.TaskCount).Row().Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(tag.AppendJSON(nil)); got != want {
			t.Errorf("tag %q:\n got %s\nwant %s", name, got, want)
		}
	}
	for i, title := range awkwardStrings {
		at := awkwardTimes[i%len(awkwardTimes)]
		later := awkwardTimes[(i+3)%len(awkwardTimes)]
		task := models.Task{
			ID: "id-" + title, Title: title, Description: awkwardStrings[(i+5)%len(awkwardStrings)], Completed: i%2 == 1,
			Priority:  []models.Priority{models.PriorityLow, models.PriorityMedium, models.PriorityHigh}[i%3],
			CreatedAt: at, UpdatedAt: later, Version: int64(i + 1), Tags: []models.Tag{},
		}
		if i%3 == 0 {
			task.DueDate = &later
		}
		if task.Completed {
			task.CompletedAt = &at
		}
		if i%2 == 0 {
			project, parent := "project-"+title, "parent-"+title
			task.ProjectID, task.ParentID = &project, &parent
		}
		task.Position = awkwardStrings[(i+7)%len(awkwardStrings)]
		var got string
		err := db.Raw(`SELECT `+database.PgTaskJSON("a", `'[]'`)+` FROM (SELECT CAST(? AS text) AS id, CAST(? AS text) AS title,
			CAST(? AS text) AS description, CAST(? AS boolean) AS completed, CAST(? AS smallint) AS priority,
			CAST(? AS timestamptz) AS due_date, CAST(? AS timestamptz) AS created_at, CAST(? AS timestamptz) AS updated_at,
			CAST(? AS timestamptz) AS completed_at, CAST(? AS bigint) AS version,
			CAST(? AS text) AS project_id, CAST(? AS text) AS parent_id, CAST(? AS text) AS position) a`,
			task.ID, task.Title, task.Description, task.Completed, i%3, task.DueDate, task.CreatedAt, task.UpdatedAt,
			task.CompletedAt, task.Version, task.ProjectID, task.ParentID, task.Position).Row().Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		if want := string(task.AppendJSON(nil)); got != want {
			t.Errorf("task %q:\n got %s\nwant %s", title, got, want)
		}
	}
	// The tags array: in name order (name_key, then id), and [] for none.
	for _, tc := range []struct {
		from string
		want string
	}{
		{`(SELECT 'b' AS id, 'B' AS name, NULL AS color, CAST('2026-01-01T00:00:00Z' AS timestamptz) AS created_at, 'b' AS name_key, 2 AS task_count
			UNION ALL SELECT 'a', 'a"', '#000000', CAST('2026-01-01T00:00:00.5Z' AS timestamptz), 'a"', 1)`,
			`[{"id":"a","name":"a\"","color":"#000000","task_count":1,"created_at":"2026-01-01T00:00:00.5Z"},` +
				`{"id":"b","name":"B","color":null,"task_count":2,"created_at":"2026-01-01T00:00:00Z"}]`},
		{`(SELECT 'a' AS id, 'a' AS name, NULL AS color, now() AS created_at, 'a' AS name_key, 0 AS task_count WHERE false)`, `[]`},
	} {
		var got sql.NullString
		if err := db.Raw(`SELECT ` + database.PgTagsJSON(tc.from)).Row().Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got.String != tc.want {
			t.Errorf("tags array:\n got %s\nwant %s", got.String, tc.want)
		}
	}
}
