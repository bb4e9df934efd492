package database

import (
	"taskflow/models"
)

// recordEvent adds an event of userID to tx, the write's SQLite
// transaction, and adds addedTasks and addedTags (0 or 1) to the user's
// counts, in two statements (SQLite has no data-modifying CTEs): the
// counter bumped, then the event. On PostgreSQL every write records its
// event inside its own single statement (see pgEventTail, pgCreateTask).
func recordEvent(tx *Tx, userID string, typ models.EventType, data []byte, addedTasks, addedTags int) error {
	var seq int64
	if err := scanOne(tx.DB, []any{&seq}, `INSERT INTO event_counters (user_id, seq, tasks, tags) VALUES (?, 1, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1,
		tasks = event_counters.tasks + ?, tags = event_counters.tags + ? RETURNING seq`,
		userID, addedTasks, addedTags, addedTasks, addedTags); err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO events (user_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)`,
		userID, seq, string(typ), string(data), storeTime()).Error
}

// sqliteDelete runs deleteSQL (a DELETE of at most one row of userID's) in
// tx and, if it deleted a row, records an event of typ for it with data
// and takes the row off the user's count of table ("tasks" or "tags"; a
// count never goes below zero). It reports whether a row was deleted.
func sqliteDelete(tx *Tx, userID, table string, typ models.EventType, data []byte, deleteSQL string, args ...any) (bool, error) {
	res := tx.Exec(deleteSQL, args...)
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	if err := recordEvent(tx, userID, typ, data, 0, 0); err != nil {
		return false, err
	}
	err := tx.Exec(`UPDATE event_counters SET `+table+` = `+table+` - 1 WHERE user_id = ? AND `+table+` > 0`, userID).Error
	return err == nil, err
}
