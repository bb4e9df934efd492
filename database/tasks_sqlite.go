package database

import (
	"context"
	"slices"

	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteTasks is the task store on SQLite. Every write is a transaction:
// SQLite has no data-modifying CTEs, and its write transactions run one
// at a time (each BEGIN IMMEDIATE takes the database's write lock, see
// sqliteDSN), so a count after an insert is safe there. A write's event is
// announced to the change feed once its transaction has committed.
type SQLiteTasks struct {
	taskReads
	maxPerUser int
	// announce is told the user id of every committed write that recorded
	// an event: one process serves an SQLite file, and its hub wakes the
	// user's streams.
	announce func(userID string)
}

// NewSQLiteTasks returns the task store over db, an SQLite database; a
// user may own at most maxPerUser tasks. announce (may be nil) is told the
// user of every committed write that recorded an event.
func NewSQLiteTasks(db *gorm.DB, maxPerUser int, announce func(userID string)) *SQLiteTasks {
	return &SQLiteTasks{taskReads: taskReads{db: db, match: likeMatch("LIKE")}, maxPerUser: maxPerUser, announce: announce}
}

// AppendListJSON appends one page of the user's tasks to dst as the API's
// JSON answer (models.TaskPage's encoding).
func (s *SQLiteTasks) AppendListJSON(ctx context.Context, dst []byte, userID string, f models.TaskFilter) ([]byte, error) {
	page, err := s.List(ctx, userID, f)
	if err != nil {
		return dst, err
	}
	return page.AppendJSON(dst), nil
}

// announceAfter has tx tell the change feed, once committed, that userID
// has a new event.
func (s *SQLiteTasks) announceAfter(tx *Tx, userID string) {
	if s.announce != nil {
		tx.AfterCommit(func() { s.announce(userID) })
	}
}

// Create adds a task for the user: insert, cap check, tag links, the tags
// read back and the task.created event, in one transaction, with k's
// answer if any. A tag id that is not the user's, or a user already at the
// cap, writes nothing.
func (s *SQLiteTasks) Create(ctx context.Context, userID string, in models.TaskInput, k *models.Keyed) (models.Task, error) {
	task, err := newTask(in)
	if err != nil {
		return models.Task{}, classify(err)
	}
	err = inTx(ctx, s.db, func(tx *Tx) error {
		err := tx.Exec(`INSERT INTO tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			task.ID, userID, task.Title, task.Description, task.Completed, priorityCodes[task.Priority],
			task.DueDate, task.CompletedAt, task.Version, task.CreatedAt, task.UpdatedAt).Error
		if err != nil {
			return err
		}
		if err := checkCap(tx, "tasks", userID, s.maxPerUser); err != nil {
			return err
		}
		if err := linkTags(tx, userID, task.ID, in.TagIDs); err != nil {
			return err
		}
		if len(in.TagIDs) > 0 { // without tag ids, nothing to read back
			if task, err = withTags(tx.DB, userID, task); err != nil {
				return err
			}
		}
		if err := recordEvent(tx, userID, models.EventTaskCreated, taskEventData(task), 1, 0); err != nil {
			return err
		}
		s.announceAfter(tx, userID)
		return recordTask(tx, userID, k, task)
	})
	if err != nil {
		return models.Task{}, classify(err)
	}
	return task, nil
}

// recordTask records, in tx, k's answer for task, if there is a k.
func recordTask(tx *Tx, userID string, k *models.Keyed, task models.Task) error {
	if k == nil {
		return nil
	}
	return recordKeyed(tx, userID, k, k.Answer(task.ID, task.Version, task.AppendJSON(nil)))
}

// Replace sets every settable field of the user's task (and its whole tag
// set) if cond matches (see modify).
func (s *SQLiteTasks) Replace(ctx context.Context, userID, id string, in models.TaskInput, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return s.modify(ctx, userID, id, cond, replaceChange(in), k)
}

// Update changes the fields p carries on the user's task if cond matches
// (see modify).
func (s *SQLiteTasks) Update(ctx context.Context, userID, id string, p models.TaskPatch, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return s.modify(ctx, userID, id, cond, patchChange(p), k)
}

// modify is the read-change-write of Replace and Update, in one
// transaction: it checks cond against the task's version, applies the
// change and writes only if something differs. A write that changes
// nothing keeps the version and updated_at, and records no event; a change
// records task.updated with the task as the answer shows it.
func (s *SQLiteTasks) modify(ctx context.Context, userID, id string, cond *models.Precondition, c taskChange, k *models.Keyed) (models.Task, error) {
	var result models.Task
	err := inTx(ctx, s.db, func(tx *Tx) error {
		current, err := selectTask(tx.DB, userID, id)
		if err != nil {
			return err
		}
		if !cond.Matches(current.Version) {
			return errTaskChanged()
		}
		now := timestamp()
		next := current
		c.apply(&next, now)
		changed := !sameFields(current, next)
		if c.setTags {
			retagged, err := replaceTags(tx, userID, id, c.tagIDs)
			if err != nil {
				return err
			}
			changed = changed || retagged
		}
		if changed {
			next.Version, next.UpdatedAt = current.Version+1, now
			if err := updateTask(tx, userID, next, current.Version); err != nil {
				return err
			}
		}
		if result, err = withTags(tx.DB, userID, next); err != nil {
			return err
		}
		if changed {
			if err := recordEvent(tx, userID, models.EventTaskUpdated, taskEventData(result), 0, 0); err != nil {
				return err
			}
			s.announceAfter(tx, userID)
		}
		return recordTask(tx, userID, k, result)
	})
	if err != nil {
		return models.Task{}, classify(err)
	}
	return result, nil
}

func updateTask(tx *Tx, userID string, t models.Task, readVersion int64) error {
	res := tx.Exec(`UPDATE tasks SET title = ?, description = ?, completed = ?, priority = ?, due_date = ?,
		completed_at = ?, version = ?, updated_at = ? WHERE id = ? AND user_id = ? AND version = ?`,
		t.Title, t.Description, t.Completed, priorityCodes[t.Priority], t.DueDate,
		t.CompletedAt, t.Version, t.UpdatedAt, t.ID, userID, readVersion)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errTaskChanged()
	}
	return nil
}

// Delete removes the user's task (and its tag links, by cascade) if cond
// matches, and records task.deleted, in one transaction. A refusal costs a
// second statement, to tell a missing task from a version that did not
// match.
func (s *SQLiteTasks) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	query, args := "DELETE FROM tasks WHERE id = ? AND user_id = ?", []any{id, userID}
	if cond != nil && !cond.Any {
		if len(cond.Versions) == 0 {
			return missingOrChanged(s.db.WithContext(ctx), userID, id)
		}
		query += " AND version IN ?"
		args = append(args, cond.Versions)
	}
	deleted := false
	err := inTx(ctx, s.db, func(tx *Tx) error {
		var err error
		deleted, err = sqliteDelete(tx, userID, "tasks", models.EventTaskDeleted, deletedEventData(id), query, args...)
		if err != nil || !deleted {
			return err
		}
		s.announceAfter(tx, userID)
		if k == nil {
			return nil
		}
		return recordKeyed(tx, userID, k, k.Answer(id, 0, nil))
	})
	if err != nil {
		return classify(err)
	}
	if deleted {
		return nil
	}
	return missingOrChanged(s.db.WithContext(ctx), userID, id)
}

// selectTask reads one of the user's tasks, without its tags, in a write
// transaction: SQLite's begin IMMEDIATE (see sqliteDSN), holding the
// database's write lock from the start, so the row cannot change before
// the transaction ends.
func selectTask(db *gorm.DB, userID, id string) (models.Task, error) {
	tasks, err := queryTasks(db, `SELECT `+taskColumns+` FROM tasks WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return models.Task{}, classify(err)
	}
	if len(tasks) == 0 {
		return models.Task{}, errTaskNotFound()
	}
	return tasks[0], nil
}

// replaceTags makes tagIDs the task's whole tag set; it reports whether the
// set changed.
func replaceTags(tx *Tx, userID, taskID string, tagIDs []string) (bool, error) {
	rows, err := tx.Raw("SELECT tag_id FROM task_tags WHERE task_id = ?", taskID).Rows()
	if err != nil {
		return false, err
	}
	var current []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return false, err
		}
		current = append(current, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	wanted := uniqueSorted(tagIDs)
	slices.Sort(current)
	if slices.Equal(current, wanted) {
		return false, nil
	}
	if err := tx.Exec("DELETE FROM task_tags WHERE task_id = ?", taskID).Error; err != nil {
		return false, err
	}
	return true, linkTags(tx, userID, taskID, wanted)
}

// linkTags links the task to tagIDs, which must all be the user's tags:
// the INSERT selects them from the user's own tags, so a foreign or unknown
// id is simply not inserted, and the shortfall rejects the whole write.
// GORM's association saving is not used: it would upsert the tags.
func linkTags(tx *Tx, userID, taskID string, tagIDs []string) error {
	tagIDs = uniqueSorted(tagIDs)
	if len(tagIDs) == 0 {
		return nil
	}
	res := tx.Exec(`INSERT INTO task_tags (task_id, tag_id) SELECT ?, id FROM tags WHERE user_id = ? AND id IN ?`,
		taskID, userID, tagIDs)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != int64(len(tagIDs)) {
		return errForeignTags()
	}
	return nil
}

// checkCap runs after an insert in the same transaction (SQLite's write
// transactions run one at a time): if the user now owns more than max rows
// of table, the insert is refused with a validation error naming the
// limit.
func checkCap(tx *Tx, table, userID string, max int) error {
	var n int64
	if err := scanOne(tx.DB, []any{&n}, "SELECT count(*) FROM "+table+" WHERE user_id = ?", userID); err != nil {
		return err
	}
	return capError(n, max, table)
}
