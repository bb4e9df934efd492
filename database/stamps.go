package database

import "gorm.io/gorm"

// A sync pages through a user's objects by the id of their last change
// (their seq), and a sync from a cursor older than the deletions pruned
// (PrunedThrough) starts over with a full copy. Two things keep that
// true here: every object has an id of its user's sequence, and none has
// one at or before PrunedThrough, else a full copy's cursor would be
// older than what was pruned and its next page a full copy again.

// stampUnsyncedRows gives every task, tag and project without an id of
// its user's sequence (seq 0: written before syncs existed, and never
// read by one, which reads the changes after a cursor of 0 or more) an
// id of that sequence, as a change of it: the next sync, a full copy or
// one from any cursor, sends it.
func stampUnsyncedRows(tx *gorm.DB, _ MigrateOptions) error {
	var users []string
	err := tx.Raw(`SELECT user_id FROM tasks WHERE seq = 0 UNION SELECT user_id FROM tags WHERE seq = 0
		UNION SELECT user_id FROM projects WHERE seq = 0`).Scan(&users).Error
	if err != nil {
		return err
	}
	for _, userID := range users {
		for _, table := range []string{"projects", "tags", "tasks"} {
			if err := stampRows(tx, table, userID, "seq = 0"); err != nil {
				return err
			}
		}
	}
	return nil
}

// restampThrough gives every task, tag and project of userID whose last
// change is at or before through (the user's new PrunedThrough) a new id
// of the sequence, as a change of it, with no event: a full copy then
// pages past the deletions pruned, and a sync from a cursor sends those
// objects once more. The caller holds the user's counter row.
func restampThrough(tx *gorm.DB, userID string, through int64) error {
	for _, table := range []string{"projects", "tags", "tasks"} {
		if err := stampRows(tx, table, userID, "seq <= ?", through); err != nil {
			return err
		}
	}
	return nil
}

// stampRows takes as many ids of userID's sequence as the user has rows
// of table matching cond (SQL on the row, with args), in one update of
// the counter row (which it makes, with the user's counts, if the user
// has none yet), and gives them to those rows, oldest change first.
func stampRows(tx *gorm.DB, table, userID, cond string, args ...any) error {
	var ids []string
	err := tx.Raw("SELECT id FROM "+table+" WHERE user_id = ? AND "+cond+" ORDER BY seq, created_at, id",
		append([]any{userID}, args...)...).Scan(&ids).Error
	if err != nil || len(ids) == 0 {
		return err
	}
	n := int64(len(ids))
	var last int64
	err = scanOne(tx, []any{&last}, `INSERT INTO event_counters (user_id, seq, tasks, tags)
		VALUES (?, ?, (SELECT count(*) FROM tasks WHERE user_id = ?), (SELECT count(*) FROM tags WHERE user_id = ?))
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + ? RETURNING seq`, userID, n, userID, userID, n)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if err := tx.Exec("UPDATE "+table+" SET seq = ? WHERE id = ? AND user_id = ?", last-n+1+int64(i), id, userID).Error; err != nil {
			return err
		}
	}
	return nil
}
