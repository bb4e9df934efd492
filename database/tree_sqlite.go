package database

import (
	"database/sql"
	"errors"
	"math/rand/v2"

	"taskflow/models"
	"taskflow/models/position"
)

// The task tree and the manual order on SQLite, whose write transactions
// run one at a time: what a transaction reads stays true until it
// commits, so each rule is checked by reading, then written.

// placeFor is where a write that moves current (nil for a create) per p
// puts it: its project and parent, each checked against the user's data.
// A parent sent without a project brings its own project along (a subtask
// lives in its parent's project); a parent sent with another project, a
// parent that is the task or one of its subtasks, and a tree deeper than
// models.MaxTaskDepth are refused, each naming the field at fault.
//
// problems are those found already (the tags'), refused together with
// the place's.
func placeFor(tx *Tx, userID string, current *models.Task, p models.TaskPlace, problems ...models.FieldError) (projectID, parentID *string, err error) {
	if current != nil {
		projectID, parentID = current.ProjectID, current.ParentID
	}
	if p.ProjectSet {
		projectID = p.ProjectID
	}
	if p.ParentSet {
		parentID = p.ParentID
	}
	if projectID != nil && (p.ProjectSet || current == nil) {
		if ok, err := exists(tx, "SELECT 1 FROM projects WHERE id = ? AND user_id = ?", *projectID, userID); err != nil {
			return nil, nil, err
		} else if !ok {
			problems = append(problems, models.FieldError{Field: "project_id", Message: "must be the id of one of your projects, or null"})
		}
	}
	if parentID != nil && p.ParentSet {
		parent, err := selectTask(tx.DB, userID, *parentID)
		switch {
		case models.ErrorCode(err) == models.CodeNotFound:
			problems = append(problems, models.FieldError{Field: "parent_id", Message: "must be the id of one of your tasks, or null"})
		case err != nil:
			return nil, nil, err
		case !p.ProjectSet:
			projectID = parent.ProjectID
		case !sameString(parent.ProjectID, projectID):
			problems = append(problems, models.FieldError{Field: "parent_id", Message: "must be a task in the same project"})
		}
	} else if parentID != nil && p.ProjectSet && (current == nil || !sameString(projectID, current.ProjectID)) {
		// The task keeps its parent but changes project.
		problems = append(problems, models.FieldError{Field: "parent_id", Message: "must be a task in the same project: send the new parent, or null"})
	}
	if len(problems) > 0 {
		return nil, nil, models.Invalid(problems...)
	}
	if parentID != nil && p.ParentSet {
		if err := checkDepth(tx, userID, current, *parentID); err != nil {
			return nil, nil, err
		}
	}
	return projectID, parentID, nil
}

// checkDepth refuses parentID as the new parent of current (nil: a new
// task) when it would close a cycle or make the tree deeper than
// models.MaxTaskDepth.
func checkDepth(tx *Tx, userID string, current *models.Task, parentID string) error {
	var chain []string // the parent and its ancestors
	err := tx.Raw(`WITH RECURSIVE anc(id, parent_id, depth) AS (
			SELECT id, parent_id, 1 FROM tasks WHERE id = ? AND user_id = ?
			UNION ALL SELECT t.id, t.parent_id, anc.depth + 1 FROM tasks t JOIN anc ON t.id = anc.parent_id
			WHERE t.user_id = ? AND anc.depth <= ?)
		SELECT id FROM anc ORDER BY depth`, parentID, userID, userID, models.MaxTaskDepth).Scan(&chain).Error
	if err != nil {
		return err
	}
	height := 1
	if current != nil {
		for _, id := range chain {
			if id == current.ID {
				return models.Invalid(models.FieldError{Field: "parent_id", Message: "must not be the task itself or one of its subtasks"})
			}
		}
		if height, err = subtreeHeight(tx, userID, current.ID); err != nil {
			return err
		}
	}
	if len(chain)+height > models.MaxTaskDepth {
		return models.Invalid(models.FieldError{Field: "parent_id",
			Message: "would make the tree deeper than 4 levels (a task, its subtask, theirs, theirs)"})
	}
	return nil
}

// subtreeHeight is how many levels the tree under id has, id's own
// included.
func subtreeHeight(tx *Tx, userID, id string) (int, error) {
	var height int
	err := scanOne(tx.DB, []any{&height}, `WITH RECURSIVE sub(id, depth) AS (
			SELECT id, 1 FROM tasks WHERE id = ? AND user_id = ?
			UNION ALL SELECT t.id, sub.depth + 1 FROM tasks t JOIN sub ON t.parent_id = sub.id
			WHERE t.user_id = ? AND sub.depth <= ?)
		SELECT COALESCE(max(depth), 1) FROM sub`, id, userID, userID, models.MaxTaskDepth)
	return height, err
}

// descendants are the ids of the tasks under id, parents before their
// subtasks.
func descendants(tx *Tx, userID, id string) ([]string, error) {
	var ids []string
	err := tx.Raw(`WITH RECURSIVE sub(id, depth) AS (
			SELECT id, 0 FROM tasks WHERE id = ? AND user_id = ?
			UNION ALL SELECT t.id, sub.depth + 1 FROM tasks t JOIN sub ON t.parent_id = sub.id
			WHERE t.user_id = ? AND sub.depth < ?)
		SELECT id FROM sub WHERE depth > 0 ORDER BY depth, id`, id, userID, userID, models.MaxTaskDepth).Scan(&ids).Error
	return ids, err
}

// tagProblems names tag_ids when they are not all the user's tags.
func tagProblems(tx *Tx, userID string, tagIDs []string) ([]models.FieldError, error) {
	tagIDs = uniqueSorted(tagIDs)
	if len(tagIDs) == 0 {
		return nil, nil
	}
	var n int
	if err := scanOne(tx.DB, []any{&n}, "SELECT count(*) FROM tags WHERE user_id = ? AND id IN ?", userID, tagIDs); err != nil {
		return nil, err
	}
	if n != len(tagIDs) {
		return []models.FieldError{{Field: "tag_ids", Message: "must list only ids of your own tags"}}, nil
	}
	return nil, nil
}

func exists(tx *Tx, query string, args ...any) (bool, error) {
	var one int
	err := scanOne(tx.DB, []any{&one}, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// siblings names a set of rows ordered by position: those of table that
// where (with args) selects.
type siblings struct {
	table, where string
	args         []any
	// respace gives each row of ids, in order, its key of keys, with
	// everything a change of position means for that row (its version,
	// its event).
	respace func(ids, keys []string) error
}

func taskSiblings(tx *Tx, s *SQLiteTasks, userID string, projectID, parentID *string) siblings {
	return siblings{
		table: "tasks", where: "user_id = ? AND COALESCE(project_id, '') = ? AND COALESCE(parent_id, '') = ?",
		args: []any{userID, deref(projectID), deref(parentID)},
		respace: func(ids, keys []string) error {
			return s.respaceTasks(tx, userID, ids, keys)
		},
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// errAfterNotSibling refuses an after_id that is not a sibling where the
// row goes.
func errAfterNotSibling() error {
	return models.Invalid(models.FieldError{Field: "after_id", Message: "must be the id of a sibling where it goes (same project and parent), or null"})
}

// keyIn returns the position of row exclude among sib: right after
// afterID, first when afterID is nil, last when afterSet is false. Only
// that row's position changes, except when the gap is too narrow for a
// short key (position.ErrTooLong): then every sibling is given a new,
// evenly spaced one (sib.respace), which happens rarely.
func keyIn(tx *Tx, sib siblings, exclude string, afterSet bool, afterID *string) (string, error) {
	before, after, err := neighbours(tx, sib, exclude, afterSet, afterID)
	if err != nil {
		return "", err
	}
	key, err := position.Between(before, after, rand.Float64())
	if !errors.Is(err, position.ErrTooLong) {
		return key, err
	}
	return respace(tx, sib, exclude, before)
}

// neighbours are the positions a row goes between ("" for an open end).
func neighbours(tx *Tx, sib siblings, exclude string, afterSet bool, afterID *string) (before, after string, err error) {
	others := sib.where + " AND id <> ?"
	args := append(append([]any{}, sib.args...), exclude)
	// The nearest sibling in one direction: ORDER BY ... LIMIT 1 reads one
	// entry of the siblings' index, where min() or max() with the filter
	// on id may read them all.
	bound := func(direction string, extra string, extraArgs ...any) (string, error) {
		var key string
		err := scanOne(tx.DB, []any{&key}, "SELECT position FROM "+sib.table+" WHERE "+others+extra+" ORDER BY position "+direction+" LIMIT 1",
			append(append([]any{}, args...), extraArgs...)...)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return key, err
	}
	switch {
	case !afterSet:
		before, err = bound("DESC", "")
		return before, "", err
	case afterID == nil:
		after, err = bound("ASC", "")
		return "", after, err
	}
	var key *string
	err = scanOne(tx.DB, []any{&key}, "SELECT position FROM "+sib.table+" WHERE "+others+" AND id = ?", append(args, *afterID)...)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", errAfterNotSibling()
	}
	if err != nil {
		return "", "", err
	}
	after, err = bound("ASC", " AND position > ?", *key)
	return *key, after, err
}

// respace gives every sibling a new, evenly spaced position, in the order
// they had, with row exclude placed right after the sibling at before
// ("" for first), and returns exclude's.
func respace(tx *Tx, sib siblings, exclude, before string) (string, error) {
	var ids []string
	err := tx.Raw("SELECT id FROM "+sib.table+" WHERE "+sib.where+" AND id <> ? AND position <= ? ORDER BY position",
		append(append([]any{}, sib.args...), exclude, before)...).Scan(&ids).Error
	if err != nil {
		return "", err
	}
	if before == "" {
		ids = nil
	}
	var rest []string
	err = tx.Raw("SELECT id FROM "+sib.table+" WHERE "+sib.where+" AND id <> ? AND position > ? ORDER BY position",
		append(append([]any{}, sib.args...), exclude, before)...).Scan(&rest).Error
	if err != nil {
		return "", err
	}
	at := len(ids)
	ids = append(append(ids, exclude), rest...)
	keys := position.Spread(len(ids))
	// Positions are unique among siblings: every row first steps aside to
	// a key no position can be ('~' sorts after every digit), then takes
	// its new one.
	others := append(append([]string{}, ids[:at]...), ids[at+1:]...)
	otherKeys := append(append([]string{}, keys[:at]...), keys[at+1:]...)
	if err := tx.Exec("UPDATE "+sib.table+" SET position = '~' || id WHERE "+sib.where, sib.args...).Error; err != nil {
		return "", err
	}
	if err := sib.respace(others, otherKeys); err != nil {
		return "", err
	}
	return keys[at], nil
}
