package database

import (
	"context"
	"slices"
	"time"

	"gorm.io/gorm"

	"taskflow/database/search"
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
	return &SQLiteTasks{taskReads: taskReads{db: db, searchFor: search.SQLiteClause}, maxPerUser: maxPerUser, announce: announce}
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

// Create adds a task for the user: its place checked, its position last
// among its siblings, the insert, cap check, tag links, the tags read back
// and the task.created event, in one transaction, with k's answer if any.
// A tag id that is not the user's, a project or parent that is not, or a
// user already at the cap, writes nothing.
func (s *SQLiteTasks) Create(ctx context.Context, userID string, in models.TaskInput, k *models.Keyed) (models.Task, error) {
	task, err := newTask(in)
	if err != nil {
		return models.Task{}, classify(err)
	}
	task.ID = k.IDOr(task.ID)
	err = inTx(ctx, s.db, func(tx *Tx) error {
		// The cap is the first thing wrong with a create (as on
		// PostgreSQL); SQLite's write transactions run one at a time, so
		// the count stays true until the insert.
		switch err := checkCap(tx, "tasks", userID, s.maxPerUser-1); {
		case models.ErrorCode(err) == models.CodeInvalid:
			return capError(int64(s.maxPerUser)+1, s.maxPerUser, "tasks")
		case err != nil:
			return err
		}
		problems, err := tagProblems(tx, userID, in.TagIDs)
		if err != nil {
			return err
		}
		if task.ProjectID, task.ParentID, err = placeFor(tx, userID, nil, in.Place, problems...); err != nil {
			return err
		}
		if task.Position, err = keyIn(tx, taskSiblings(tx, s, userID, task.ProjectID, task.ParentID), task.ID, false, nil); err != nil {
			return err
		}
		err = tx.Exec(`INSERT INTO tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at,
				project_id, parent_id, position)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			task.ID, userID, task.Title, task.Description, task.Completed, priorityCodes[task.Priority],
			task.DueDate, task.CompletedAt, task.Version, task.CreatedAt, task.UpdatedAt,
			task.ProjectID, task.ParentID, task.Position).Error
		if err != nil {
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
		if err := recordChange(tx, userID, taskObject(task.ID), models.EventTaskCreated, taskEventData(task), 1, 0); err != nil {
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
	return recordKeyed(tx, userID, k, task.ID, k.Answer(task.ID, task.Version, task.AppendJSON(nil)))
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
// records task.updated with the task as the answer shows it. A task that
// changes project or parent goes last in its new place; completing a task
// completes its open subtasks (see write).
func (s *SQLiteTasks) modify(ctx context.Context, userID, id string, cond *models.Precondition, c taskChange, k *models.Keyed) (models.Task, error) {
	var result models.Task
	err := inTx(ctx, s.db, func(tx *Tx) error {
		current, err := taskToWrite(tx, userID, id, cond)
		if err != nil {
			return err
		}
		next := current
		c.apply(&next, timestamp())
		var problems []models.FieldError
		if c.setTags {
			if problems, err = tagProblems(tx, userID, c.tagIDs); err != nil {
				return err
			}
		}
		if c.place.Changes() || len(problems) > 0 {
			if next.ProjectID, next.ParentID, err = placeFor(tx, userID, &current, c.place, problems...); err != nil {
				return err
			}
			if !samePlace(current, next) {
				sib := taskSiblings(tx, s, userID, next.ProjectID, next.ParentID)
				if next.Position, err = keyIn(tx, sib, id, false, nil); err != nil {
					return err
				}
			}
		}
		result, err = s.write(tx, userID, current, next, c.setTags, c.tagIDs)
		if err != nil {
			return err
		}
		return recordTask(tx, userID, k, result)
	})
	if err != nil {
		return models.Task{}, classify(err)
	}
	return result, nil
}

// Move puts the user's task into the place m names, right after the
// sibling m.AfterID there, first or last, if cond matches; its subtasks
// come along. Only the task's position changes among its new siblings.
func (s *SQLiteTasks) Move(ctx context.Context, userID, id string, m models.TaskMove, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	var result models.Task
	err := inTx(ctx, s.db, func(tx *Tx) error {
		current, err := taskToWrite(tx, userID, id, cond)
		if err != nil {
			return err
		}
		next := current
		if next.ProjectID, next.ParentID, err = placeFor(tx, userID, &current, m.Place); err != nil {
			return err
		}
		if m.AfterID != nil && *m.AfterID == id {
			return errAfterNotSibling()
		}
		sib := taskSiblings(tx, s, userID, next.ProjectID, next.ParentID)
		if next.Position, err = keyIn(tx, sib, id, m.AfterSet, m.AfterID); err != nil {
			return err
		}
		if result, err = s.write(tx, userID, current, next, false, nil); err != nil {
			return err
		}
		return recordTask(tx, userID, k, result)
	})
	if err != nil {
		return models.Task{}, classify(err)
	}
	return result, nil
}

// write stores next over current (the row as read in tx) and everything
// that goes with it: the tag set when setTags, its subtasks' project when
// it changed project, its open subtasks completed when it was completed,
// and an event for each task that changed. It returns next as stored,
// with its tags.
func (s *SQLiteTasks) write(tx *Tx, userID string, current, next models.Task, setTags bool, tagIDs []string) (models.Task, error) {
	changed := !sameFields(current, next)
	if setTags {
		retagged, err := replaceTags(tx, userID, current.ID, tagIDs)
		if err != nil {
			return models.Task{}, err
		}
		changed = changed || retagged
	}
	now := timestamp()
	if changed {
		next.Version, next.UpdatedAt = current.Version+1, now
		if err := updateTask(tx, userID, next, current.Version); err != nil {
			return models.Task{}, err
		}
	}
	result, err := withTags(tx.DB, userID, next)
	if err != nil || !changed {
		return result, err
	}
	if err := recordChange(tx, userID, taskObject(result.ID), models.EventTaskUpdated, taskEventData(result), 0, 0); err != nil {
		return models.Task{}, err
	}
	s.announceAfter(tx, userID)
	if !sameString(current.ProjectID, next.ProjectID) {
		err = s.updateSubtasks(tx, userID, current.ID, now, "project_id = ?", "", next.ProjectID)
	}
	if err == nil && next.Completed && !current.Completed {
		err = s.updateSubtasks(tx, userID, current.ID, now, "completed = ?, completed_at = ?", " AND NOT completed", true, now)
	}
	return result, err
}

// updateSubtasks sets set (with args) on the tasks under id that match
// only, bumping each one's version, and records task.updated for each.
func (s *SQLiteTasks) updateSubtasks(tx *Tx, userID, id string, now time.Time, set, only string, args ...any) error {
	ids, err := descendants(tx, userID, id)
	if err != nil || len(ids) == 0 {
		return err
	}
	var changed []string
	err = tx.Raw("UPDATE tasks SET "+set+", version = version + 1, updated_at = ? WHERE user_id = ? AND id IN ?"+only+" RETURNING id",
		append(args, now, userID, ids)...).Scan(&changed).Error
	if err != nil {
		return err
	}
	return s.announceTasks(tx, userID, changed)
}

// announceTasks records task.updated for each of ids, as the task now is.
func (s *SQLiteTasks) announceTasks(tx *Tx, userID string, ids []string) error {
	for _, id := range ids {
		task, err := selectTask(tx.DB, userID, id)
		if err != nil {
			return err
		}
		if task, err = withTags(tx.DB, userID, task); err != nil {
			return err
		}
		if err := recordChange(tx, userID, taskObject(id), models.EventTaskUpdated, taskEventData(task), 0, 0); err != nil {
			return err
		}
	}
	if len(ids) > 0 {
		s.announceAfter(tx, userID)
	}
	return nil
}

// respaceTasks gives each task of ids its key of keys (see respace), as a
// change of each: version, updated_at, event.
func (s *SQLiteTasks) respaceTasks(tx *Tx, userID string, ids, keys []string) error {
	now := timestamp()
	for i, id := range ids {
		err := tx.Exec("UPDATE tasks SET position = ?, version = version + 1, updated_at = ? WHERE id = ? AND user_id = ?",
			keys[i], now, id, userID).Error
		if err != nil {
			return err
		}
	}
	return s.announceTasks(tx, userID, ids)
}

func updateTask(tx *Tx, userID string, t models.Task, readVersion int64) error {
	res := tx.Exec(`UPDATE tasks SET title = ?, description = ?, completed = ?, priority = ?, due_date = ?,
		completed_at = ?, version = ?, updated_at = ?, project_id = ?, parent_id = ?, position = ?
		WHERE id = ? AND user_id = ? AND version = ?`,
		t.Title, t.Description, t.Completed, priorityCodes[t.Priority], t.DueDate,
		t.CompletedAt, t.Version, t.UpdatedAt, t.ProjectID, t.ParentID, t.Position, t.ID, userID, readVersion)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errTaskChanged()
	}
	return nil
}

// Delete removes the user's task and its subtasks (and their tag links,
// by cascade) if cond matches, and records task.deleted for each, in one
// transaction.
func (s *SQLiteTasks) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	err := inTx(ctx, s.db, func(tx *Tx) error {
		if _, err := taskToWrite(tx, userID, id, cond); err != nil {
			return err
		}
		under, err := descendants(tx, userID, id)
		if err != nil {
			return err
		}
		gone := append([]string{id}, under...)
		if err := tx.Exec("DELETE FROM tasks WHERE user_id = ? AND id IN ?", userID, gone).Error; err != nil {
			return err
		}
		for _, id := range gone {
			if err := recordGone(tx, userID, taskObject(id), models.EventTaskDeleted, 1, 0); err != nil {
				return err
			}
		}
		s.announceAfter(tx, userID)
		return recordDeleted(tx, userID, k, id)
	})
	return classify(err)
}

// taskToWrite reads the task a write changes, refused when cond names
// other versions.
func taskToWrite(tx *Tx, userID, id string, cond *models.Precondition) (models.Task, error) {
	current, err := selectTask(tx.DB, userID, id)
	if err != nil {
		return models.Task{}, err
	}
	if !cond.Matches(current.Version) {
		return models.Task{}, errTaskChanged()
	}
	return current, nil
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
