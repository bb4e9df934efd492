package database

import (
	"gorm.io/gorm"

	"taskflow/models"
)

// pgEventTail follows a CTE s that yields the new seq (no row: no event):
// it inserts the event and notifies. Its arguments: user id, type, data,
// time, user id.
const pgEventTail = `, e AS (INSERT INTO events (user_id, seq, type, data, created_at) SELECT ?, seq, ?, ?, ? FROM s RETURNING seq)
	SELECT pg_notify('` + EventChannel + `', CAST(? AS text) || ' ' || seq) FROM e`

// pgDelete runs deleteSQL (a DELETE ... RETURNING id of at most one row of
// userID's) and, if it deleted a row, records an event of typ for it with
// data and takes the row off the user's count of table ("tasks" or
// "tags"; a count never goes below zero), all in one statement: the
// counter is bumped and the event written only from the row the DELETE
// returned. With k, the answer k describes is recorded from that row too.
// It reports whether a row was deleted.
func pgDelete(db *gorm.DB, userID, table string, typ models.EventType, data []byte, k *models.Keyed, deleteSQL string, args ...any) (bool, error) {
	keyed, keyArgs := pgKeyed(k, userID, "d", "d.id", "0", "''")
	res := db.Exec(`WITH d AS (`+deleteSQL+`),
		s AS (INSERT INTO event_counters (user_id, seq) SELECT ?, 1 FROM d
			ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1,
			`+table+` = CASE WHEN event_counters.`+table+` > 0 THEN event_counters.`+table+` - 1 ELSE 0 END
			RETURNING seq)`+keyed+pgEventTail,
		append(append(append(args, userID), keyArgs...), userID, string(typ), string(data), storeTime(), userID)...)
	deleted := res.RowsAffected > 0
	if res.Error == nil && deleted && k != nil {
		k.Recorded = true
	}
	return deleted, res.Error
}
