package database_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// preSearchSchema takes a migrated database back to the schema from before
// the search: no search columns, functions, table or triggers.
var preSearchSchema = map[string][]string{
	"postgres": {
		"DROP TRIGGER taskflow_search_insert ON tasks", "DROP TRIGGER taskflow_search_update ON tasks",
		"DROP FUNCTION taskflow_search_index()", "ALTER TABLE tasks DROP COLUMN search_doc, DROP COLUMN title_doc",
		"DROP FUNCTION taskflow_search_query(text, text)", "DROP FUNCTION taskflow_search_lexemes(text, text)",
		"DROP FUNCTION taskflow_search_tokens(text, text)", "DROP FUNCTION taskflow_search_key(text)",
		"DROP FUNCTION taskflow_search_fold(text)",
		"DROP EXTENSION btree_gin", "DROP EXTENSION unaccent",
	},
	"sqlite": {
		"DROP TRIGGER task_search_insert", "DROP TRIGGER task_search_update", "DROP TRIGGER task_search_delete",
		"DROP TABLE task_search", "DROP TABLE task_search_rows",
	},
}

// TestMigrateIndexesExistingTasks: tasks stored before the search existed
// are found once the migration that adds it has run, and so are the ones
// written after.
func TestMigrateIndexesExistingTasks(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openMigrated(t, db)
		for _, statement := range preSearchSchema[db.Name] {
			if err := gdb.Exec(statement).Error; err != nil {
				t.Fatalf("%s: %v", statement, err)
			}
		}
		insertLegacyTask(t, gdb, "u", "Äpfel kaufen", "beim Bauern")
		insertLegacyTask(t, gdb, "u", "Write the quarterly report", "")
		insertLegacyTask(t, gdb, "someone else", "Äpfel", "")
		if err := database.Migrate(ctx, gdb, database.MigrateOptions{}); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		tasks := newTasks(gdb, 100)
		mustCreate(t, tasks, "u", models.TaskInput{Title: "Apfelkuchen backen"})
		for q, want := range map[string][]string{
			"apfel":    {"Apfelkuchen backen", "Äpfel kaufen"},
			"bauern":   {"Äpfel kaufen"},
			"writ rep": {"Write the quarterly report"},
		} {
			page, err := tasks.List(ctx, "u", models.TaskFilter{Query: q, Sort: models.SortCreatedDesc})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, task := range page.Items {
				got = append(got, task.Title)
			}
			if !slices.Equal(got, want) || page.Total != int64(len(want)) {
				t.Errorf("q=%q: %q (total %d), want %q", q, got, page.Total, want)
			}
		}
	})
}

// insertLegacyTask writes a task row as a server from before the search did.
func insertLegacyTask(t *testing.T, gdb *gorm.DB, userID, title, description string) {
	t.Helper()
	now := time.Now().UTC()
	// A position of its own: positions are unique among a user's siblings.
	position := "V" + strconv.FormatInt(now.UnixNano(), 36)
	err := gdb.Exec(`INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at, position)
		VALUES (?, ?, ?, ?, false, 1, 1, ?, ?, ?)`, uuid.Must(uuid.NewV7()).String(), userID, title, description, now, now, position).Error
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // distinct creation times, for the order
}

// TestSQLiteSearchSurvivesRenumberedTasks: the rowids of tasks number the
// FTS5 rows, and tasks has no INTEGER PRIMARY KEY, so VACUUM (or a dump
// loaded again) may renumber them. The next migration (every start) finds
// them changed and rebuilds the index. The test renumbers them itself:
// SQLite 3.54's VACUUM happens to keep them.
func TestSQLiteSearchSurvivesRenumberedTasks(t *testing.T) {
	ctx := context.Background()
	gdb := openMigrated(t, apptest.SQLite(t))
	tasks := newTasks(gdb, 100)
	mustCreate(t, tasks, "u", models.TaskInput{Title: "Buy apples"})
	mustCreate(t, tasks, "u", models.TaskInput{Title: "Call the bank"})
	search := func() []string {
		page, err := tasks.List(ctx, "u", models.TaskFilter{Query: "bank"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, task := range page.Items {
			got = append(got, task.Title)
		}
		return got
	}
	if err := gdb.Exec("UPDATE tasks SET rowid = 1000 + (SELECT count(*) FROM tasks t WHERE t.created_at > tasks.created_at)").Error; err != nil {
		t.Fatal(err)
	}
	if got := search(); slices.Equal(got, []string{"Call the bank"}) {
		t.Fatalf("with its tasks renumbered, the index still found %q: the test does not renumber", got)
	}
	if err := database.Migrate(ctx, gdb, database.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := search(); !slices.Equal(got, []string{"Call the bank"}) {
		t.Fatalf("renumbered, then migrated: %q, want [Call the bank]", got)
	}
}

// TestMigrateNamesTheExtensionItCannotCreate: a role that may not create
// extensions (no CREATE on the database) gets an error naming the
// extension and the statement for the database's owner; once the owner
// has run it, the role's migration goes through.
func TestMigrateNamesTheExtensionItCannotCreate(t *testing.T) {
	admin := apptest.Postgres(t)
	ctx := context.Background()
	adminDB := open(t, admin.URL)
	role := "taskflow_no_extensions_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	for _, statement := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT CREATE, USAGE ON SCHEMA public TO " + role,
	} {
		if err := adminDB.Exec(statement).Error; err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	}
	t.Cleanup(func() {
		_ = adminDB.Exec("DROP OWNED BY " + role).Error
		_ = adminDB.Exec("DROP ROLE IF EXISTS " + role).Error
	})
	roleURL, err := url.Parse(admin.URL)
	if err != nil {
		t.Fatal(err)
	}
	roleURL.User = url.User(role)
	roleDB := open(t, roleURL.String())
	err = database.Migrate(ctx, roleDB, database.MigrateOptions{})
	if err == nil {
		t.Fatal("migrate without the right to create extensions: no error")
	}
	t.Logf("the migration said: %v", err)
	for _, want := range []string{"unaccent", "CREATE EXTENSION IF NOT EXISTS unaccent;"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	for _, extension := range []string{"unaccent", "btree_gin"} {
		if err := adminDB.Exec("CREATE EXTENSION IF NOT EXISTS " + extension).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := database.Migrate(ctx, roleDB, database.MigrateOptions{}); err != nil {
		t.Fatalf("migrate once the owner created the extensions: %v", err)
	}
}
