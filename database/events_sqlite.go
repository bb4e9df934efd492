package database

import (
	"strings"

	"taskflow/models"
)

// The change feed and the sync on SQLite: every change a write makes takes
// the next id of the user's sequence (the user's counter row), as an
// event, a tombstone, or both, and the changed row keeps it (its seq).

// object is a row a change is about: a task, a tag or a project.
type object struct{ table, id string }

func taskObject(id string) object    { return object{"tasks", id} }
func tagObject(id string) object     { return object{"tags", id} }
func projectObject(id string) object { return object{"projects", id} }

// kind is the object's kind as a tombstone names it: task, tag, project.
func (o object) kind() string { return strings.TrimSuffix(o.table, "s") }

// nextSeq takes the next id of userID's sequence, and adds addedTasks and
// addedTags (-1, 0 or 1) to the user's counts (never below zero).
func nextSeq(tx *Tx, userID string, addedTasks, addedTags int) (int64, error) {
	var seq int64
	err := scanOne(tx.DB, []any{&seq}, `INSERT INTO event_counters (user_id, seq, tasks, tags) VALUES (?, 1, max(?, 0), max(?, 0))
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1,
		tasks = max(event_counters.tasks + ?, 0), tags = max(event_counters.tags + ?, 0) RETURNING seq`,
		userID, addedTasks, addedTags, addedTasks, addedTags)
	return seq, err
}

// recordEvent records an event of userID's, with the next id of the
// sequence, and returns that id; see nextSeq for the counts.
func recordEvent(tx *Tx, userID string, typ models.EventType, data []byte, addedTasks, addedTags int) (int64, error) {
	seq, err := nextSeq(tx, userID, addedTasks, addedTags)
	if err != nil {
		return 0, err
	}
	err = tx.Exec(`INSERT INTO events (user_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)`,
		userID, seq, string(typ), string(data), storeTime()).Error
	if err != nil {
		return 0, err
	}
	return seq, capEvents(tx.DB, userID, seq)
}

// recordChange records the event of a created or updated obj and stamps
// obj's row with its id, where a sync finds the change.
func recordChange(tx *Tx, userID string, obj object, typ models.EventType, data []byte, addedTasks, addedTags int) error {
	seq, err := recordEvent(tx, userID, typ, data, addedTasks, addedTags)
	if err != nil {
		return err
	}
	return tx.Exec("UPDATE "+obj.table+" SET seq = ? WHERE id = ? AND user_id = ?", seq, obj.id, userID).Error
}

// recordGone records the deletion of obj (its row already deleted): an
// event of typ, when typ is not empty (a task deleted with its project
// gets none), and a tombstone with the same id of the sequence.
func recordGone(tx *Tx, userID string, obj object, typ models.EventType, removedTasks, removedTags int) error {
	var seq int64
	var err error
	if typ != "" {
		seq, err = recordEvent(tx, userID, typ, deletedEventData(obj.id), -removedTasks, -removedTags)
	} else {
		seq, err = nextSeq(tx, userID, -removedTasks, -removedTags)
	}
	if err != nil {
		return err
	}
	err = tx.Exec(`INSERT INTO tombstones (user_id, seq, kind, object_id, deleted_at) VALUES (?, ?, ?, ?, ?)`,
		userID, seq, obj.kind(), obj.id, storeTime()).Error
	if err != nil {
		return err
	}
	return capTombstones(tx.DB, userID, seq)
}

// recordGoneMany records the deletion of every object of kind with ids
// (rows already gone), with no event: their tombstones take the next ids
// of the sequence at once, and come off the user's task count when they
// are tasks (a project's tasks, deleted with it).
func recordGoneMany(tx *Tx, userID string, obj object, ids []string) error {
	n := len(ids)
	if n == 0 {
		return nil
	}
	removed := 0
	if obj.table == "tasks" {
		removed = n
	}
	var last int64
	err := scanOne(tx.DB, []any{&last}, `UPDATE event_counters SET seq = seq + ?, tasks = max(tasks - ?, 0)
		WHERE user_id = ? RETURNING seq`, n, removed, userID)
	if err != nil {
		return err
	}
	now := storeTime()
	const perStatement = 200
	for start := 0; start < n; start += perStatement {
		chunk := ids[start:min(start+perStatement, n)]
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)), ", ")
		args := make([]any, 0, 5*len(chunk))
		for i, id := range chunk {
			args = append(args, userID, last-int64(n)+int64(start+i+1), obj.kind(), id, now)
		}
		err := tx.Exec("INSERT INTO tombstones (user_id, seq, kind, object_id, deleted_at) VALUES "+values, args...).Error
		if err != nil {
			return err
		}
	}
	return capTombstones(tx.DB, userID, last)
}
