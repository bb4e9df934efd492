package database_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// legacyRows writes rows as a server from before the data steps did, and
// forgets that the steps have run, so that the next migration runs them.
func legacyRows(t *testing.T, gdb *gorm.DB, statements ...string) {
	t.Helper()
	for _, s := range append(statements, "DELETE FROM schema_steps") {
		if err := gdb.Exec(s).Error; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func countWhere(t *testing.T, gdb *gorm.DB, table, column, value string) int64 {
	t.Helper()
	var n int64
	if err := gdb.Table(table).Where(column+" = ?", value).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrateMovesExternalUsersToDerivedIDs: tasks and tags an external
// user wrote under its bare sub move, in place, to the derived id; a local
// account's rows stay.
func TestMigrateMovesExternalUsersToDerivedIDs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		local := createUser(t, database.NewUsers(gdb), "local@example.com", "a local password")
		now := time.Now().UTC().Format("2006-01-02 15:04:05")
		inserted := 0
		insertTask := func(userID string) string {
			inserted++ // positions are unique among a user's siblings
			return "INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at, position) VALUES ('" +
				uuid.NewString() + "', '" + userID + "', 't', '', false, 1, 1, '" + now + "', '" + now + "', 'V" + strconv.Itoa(inserted) + "')"
		}
		legacyRows(t, gdb, insertTask("ba_user_1"), insertTask("ba_user_1"), insertTask(local.ID),
			"INSERT INTO tags (id, user_id, name, name_key, created_at, updated_at) VALUES ('"+uuid.NewString()+
				"', 'ba_user_1', 'work', 'work', '"+now+"', '"+now+"')")
		const issuer = "https://auth.example.test"
		for range 2 { // the second run finds the step done and changes nothing
			if err := database.Migrate(context.Background(), gdb, database.MigrateOptions{ExternalIssuer: issuer}); err != nil {
				t.Fatalf("migrate: %v", err)
			}
		}
		derived := models.ExternalUserID(issuer, "ba_user_1")
		for table, want := range map[string]int64{"tasks": 2, "tags": 1} {
			if n := countWhere(t, gdb, table, "user_id", derived); n != want {
				t.Errorf("%s of the external user under its derived id: %d, want %d", table, n, want)
			}
			if n := countWhere(t, gdb, table, "user_id", "ba_user_1"); n != 0 {
				t.Errorf("%s still under the bare sub: %d", table, n)
			}
		}
		if n := countWhere(t, gdb, "tasks", "user_id", local.ID); n != 1 {
			t.Errorf("the local account's tasks: %d, want 1", n)
		}
	})
}

// TestMigrateNormalizesStoredEmails: an email stored in NFD before
// normalization is found by its NFKC form afterwards, unless that would
// give two accounts one email.
func TestMigrateNormalizesStoredEmails(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		users := database.NewUsers(gdb)
		nfd := createUser(t, users, "nfd@example.com", "the nfd password")
		twin := createUser(t, users, "twin@example.com", "the twin password")
		createUser(t, users, "ren\u00e9e@example.com", "the nfc password")
		legacyRows(t, gdb,
			"UPDATE users SET email = 'zoe\u0301@example.com' WHERE id = '"+nfd.ID+"'",
			"UPDATE users SET email = 'rene\u0301e@example.com' WHERE id = '"+twin.ID+"'")
		if err := database.Migrate(context.Background(), gdb, database.MigrateOptions{}); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if _, err := users.Authenticate(context.Background(), models.NormalizeEmail("zoe\u0301@example.com"), "the nfd password"); err != nil {
			t.Fatalf("the NFD account after migration: %v", err)
		}
		if n := countWhere(t, gdb, "users", "email", "rene\u0301e@example.com"); n != 1 {
			t.Fatalf("the look-alike of an existing account was rewritten (%d left): it must stay", n)
		}
	})
}
