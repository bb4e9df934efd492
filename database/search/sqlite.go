package search

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"modernc.org/sqlite"
)

// On SQLite the lexemes live in task_search, a contentless FTS5 table of
// two columns, the title's lexemes and the description's, whose rows are
// numbered as the tasks' rowids: a search is then the rowids FTS5 finds,
// which the list matches against tasks by integer, without a join (a
// table mapping task ids to FTS5 rows made a search of 10,000 matches a
// third dearer). Triggers on tasks keep the table in step, through
// taskflow_search_lexemes, a Go function registered with the driver
// (below): a connection of another program (the sqlite3 shell) lacks it
// and cannot write tasks.
//
// tasks has no INTEGER PRIMARY KEY, so its rowids are not promised to
// last: VACUUM may renumber them (SQLite 3.54's keeps them), a dump loaded
// again does. task_search_rows keeps each task's id by its rowid, and the
// migration (at every start) checks them against tasks, rebuilding the
// index when they differ: searches find the right tasks again from the
// next start.
//
// Each lexeme is one FTS5 token: the user's key, then the hex digits of
// the lexeme's UTF-8. FTS5's tokenizers would split a lexeme at its
// punctuation; hex keeps it whole, and a prefix of a lexeme is a prefix of
// its hex. Prefix indexes of 10 and 12 digits (the key and one or two
// bytes) answer one- and two-letter words without walking every token of
// the user.

// sqliteLexemesFunction is the name of the Go function the triggers call.
const sqliteLexemesFunction = "taskflow_search_lexemes"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(sqliteLexemesFunction, 2, sqliteLexemes)
}

// sqliteLexemes is taskflow_search_lexemes(user_id, text): the tokens of
// text's lexemes for that user, separated by spaces.
func sqliteLexemes(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	userID, ok := textArg(args[0])
	if !ok {
		return nil, fmt.Errorf("%s: the user id must be text", sqliteLexemesFunction)
	}
	text, _ := textArg(args[1]) // NULL is no text
	key := UserKey(userID)
	lexemes := Lexemes(validUTF8(text))
	var b strings.Builder
	for i, lexeme := range lexemes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteString(hex.EncodeToString([]byte(lexeme)))
	}
	return b.String(), nil
}

func textArg(v driver.Value) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// SQLiteClause is the search of q among userID's tasks: the task numbers
// FTS5 finds for an AND of prefixes, one per word. A query whose words
// fold to nothing matches nothing.
func SQLiteClause(userID, q string) Clause {
	words := QueryWords(q)
	if len(words) == 0 {
		return Clause{Where: "1 = 0"}
	}
	key := UserKey(userID)
	prefixes := make([]string, len(words))
	for i, word := range words {
		prefixes[i] = `"` + key + hex.EncodeToString([]byte(word)) + `"*`
	}
	match := strings.Join(prefixes, " AND ")
	return Clause{
		Where:     sqliteMatching,
		WhereArgs: []any{match},
		Order:     sqliteMatching + " DESC",
		OrderArgs: []any{"title : (" + match + ")"},
	}
}

// sqliteMatching is true for the tasks whose task_search row matches the
// FTS5 query given.
const sqliteMatching = `tasks.rowid IN (SELECT rowid FROM task_search WHERE task_search MATCH ?)`

// sqliteTables creates the FTS5 table, the ids by rowid, and the
// triggers. An update rewrites a task's row only when a text or the owner
// changed.
const sqliteTables = `
CREATE TABLE IF NOT EXISTS task_search_rows (n INTEGER PRIMARY KEY, task_id TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS task_search USING fts5(title, body,
	content='', contentless_delete=1, detail=column, prefix='10 12', tokenize='ascii');
CREATE TRIGGER IF NOT EXISTS task_search_insert AFTER INSERT ON tasks BEGIN
	INSERT INTO task_search_rows (n, task_id) VALUES (new.rowid, new.id);
	INSERT INTO task_search (rowid, title, body) VALUES (new.rowid,
		taskflow_search_lexemes(new.user_id, new.title), taskflow_search_lexemes(new.user_id, new.description));
END;
CREATE TRIGGER IF NOT EXISTS task_search_update AFTER UPDATE OF user_id, title, description ON tasks
	WHEN old.user_id IS NOT new.user_id OR old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
	DELETE FROM task_search WHERE rowid = old.rowid;
	INSERT INTO task_search (rowid, title, body) VALUES (new.rowid,
		taskflow_search_lexemes(new.user_id, new.title), taskflow_search_lexemes(new.user_id, new.description));
END;
CREATE TRIGGER IF NOT EXISTS task_search_delete AFTER DELETE ON tasks BEGIN
	DELETE FROM task_search WHERE rowid = old.rowid;
	DELETE FROM task_search_rows WHERE n = old.rowid;
END;
`

// sqliteRenumbered is true when task_search_rows does not hold exactly
// the tasks' ids by their rowids: the index was built before a VACUUM
// renumbered them.
const sqliteRenumbered = `SELECT (SELECT count(*) FROM tasks) <> (SELECT count(*) FROM task_search_rows)
	OR EXISTS (SELECT 1 FROM task_search_rows r LEFT JOIN tasks t ON t.rowid = r.n WHERE t.id IS NOT r.task_id)`

// sqliteBackfill indexes every task, from scratch.
const sqliteBackfill = `
DELETE FROM task_search_rows;
INSERT INTO task_search (task_search) VALUES ('delete-all');
INSERT INTO task_search_rows (n, task_id) SELECT rowid, id FROM tasks;
INSERT INTO task_search (rowid, title, body)
	SELECT rowid, taskflow_search_lexemes(user_id, title), taskflow_search_lexemes(user_id, description) FROM tasks;
`

// MigrateSQLite creates what search needs, and indexes the tasks already
// there when the index is new or their rowids changed under it, in the
// same transaction.
func MigrateSQLite(db *gorm.DB) error {
	return db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(sqliteTables).Error; err != nil {
			return fmt.Errorf("search tables: %w", err)
		}
		var renumbered bool
		if err := tx.Raw(sqliteRenumbered).Scan(&renumbered).Error; err != nil {
			return err
		}
		if !renumbered {
			return nil
		}
		if err := tx.Exec(sqliteBackfill).Error; err != nil {
			return fmt.Errorf("search backfill: %w", err)
		}
		return nil
	})
}
