package database_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
	"taskflow/models/position"
)

// toPreviousRelease turns a migrated database back into the schema of the
// release before projects, manual order, subtasks and sync: their tables,
// columns, indexes and data steps gone.
func toPreviousRelease(t *testing.T, gdb *gorm.DB) {
	t.Helper()
	statements := []string{
		"DROP TABLE projects", "DROP TABLE tombstones", "DROP TABLE temp_ids", "DROP TABLE replay_caps",
		"DROP INDEX idx_tasks_user_siblings_position", "DROP INDEX idx_tasks_user_seq", "DROP INDEX idx_tasks_parent_id",
		"DROP INDEX idx_tags_user_seq",
		"ALTER TABLE tasks DROP COLUMN project_id", "ALTER TABLE tasks DROP COLUMN parent_id",
		"ALTER TABLE tasks DROP COLUMN position", "ALTER TABLE tasks DROP COLUMN seq", "ALTER TABLE tags DROP COLUMN seq",
		"ALTER TABLE event_counters DROP COLUMN pruned_through", "ALTER TABLE event_counters DROP COLUMN answers",
		"DELETE FROM schema_steps WHERE name = 'task-positions'",
	}
	if database.IsPostgres(gdb) {
		// The write functions that return a table's rows depend on it;
		// the migration makes them again.
		for i, s := range statements {
			if strings.HasPrefix(s, "DROP TABLE") {
				statements[i] = s + " CASCADE"
			}
		}
		statements = append([]string{"DROP TRIGGER taskflow_legacy_task_position ON tasks"}, statements...)
	}
	for _, s := range statements {
		if err := gdb.Exec(s).Error; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestMigrateUpgradesThePreviousRelease: a database of the release before
// projects and manual order, holding tasks, upgrades in place: every task
// ends in the inbox, at the top level, each user's in the order they were
// created, oldest first, with valid positions.
func TestMigrateUpgradesThePreviousRelease(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openMigrated(t, db)
		toPreviousRelease(t, gdb)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		created := map[string][]string{} // user -> task ids, oldest first
		for _, user := range []string{"upgraded-ann", "upgraded-bob"} {
			for _, i := range []int{3, 0, 4, 1, 2} { // inserted out of order
				id := uuid.NewString()
				at := base.Add(time.Duration(i) * time.Hour)
				err := gdb.Exec(`INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at)
					VALUES (?, ?, ?, '', false, 1, 1, ?, ?)`, id, user, fmt.Sprint("task ", i), at, at).Error
				if err != nil {
					t.Fatal(err)
				}
				ids := created[user]
				for len(ids) <= i {
					ids = append(ids, "")
				}
				ids[i] = id
				created[user] = ids
			}
		}
		if err := database.Migrate(context.Background(), gdb, database.MigrateOptions{}); err != nil {
			t.Fatalf("migrate the previous release's database: %v", err)
		}
		tasks := newTasks(gdb, 100)
		for user, ids := range created {
			page, err := tasks.List(context.Background(), user, models.TaskFilter{Sort: models.SortPosition, Inbox: true, TopLevel: true, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var got, positions []string
			for _, task := range page.Items {
				got = append(got, task.ID)
				positions = append(positions, task.Position)
				if !position.Valid(task.Position) || task.ProjectID != nil || task.ParentID != nil {
					t.Errorf("%s: task %s upgraded to position %q, project %v, parent %v", user, task.ID, task.Position, task.ProjectID, task.ParentID)
				}
			}
			if !slices.Equal(got, ids) || !slices.IsSorted(positions) {
				t.Errorf("%s: order after the upgrade %v (positions %v), want oldest first %v", user, got, positions, ids)
			}
		}
		// And the upgraded database takes new tasks, after the old ones.
		task, err := tasks.Create(context.Background(), "upgraded-ann", models.TaskInput{Title: "new", Priority: models.PriorityMedium}, nil)
		if err != nil {
			t.Fatal(err)
		}
		page, err := tasks.List(context.Background(), "upgraded-ann", models.TaskFilter{Sort: models.SortPosition, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Items); n != 6 || page.Items[n-1].ID != task.ID {
			t.Errorf("a task created after the upgrade is not last: %d tasks, last %s, want %s", n, page.Items[n-1].ID, task.ID)
		}
	})
}
