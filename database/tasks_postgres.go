package database

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gorm.io/gorm"

	"taskflow/database/search"
	"taskflow/models"
)

// PostgresTasks is the task store on PostgreSQL. Every write is one call
// of a function of the database (functions_postgres.go), one round trip
// on a warm connection, with no transaction around it: the cap, the tags'
// ownership, the version precondition, the task's place in the tree and
// among its siblings, the cascades, the events and their NOTIFY and, for a
// request with an Idempotency-Key, its answer are all parts of it. What
// that costs, and when to undo it, is history/adr/0008-one-statement-writes.md.
// The list is read through pgx itself (list_postgres.go).
type PostgresTasks struct {
	taskReads
	maxPerUser int
}

// NewPostgresTasks returns the task store over db, a PostgreSQL database;
// a user may own at most maxPerUser tasks.
func NewPostgresTasks(db *gorm.DB, maxPerUser int) *PostgresTasks {
	return &PostgresTasks{taskReads: taskReads{db: db, searchFor: search.PostgresClause}, maxPerUser: maxPerUser}
}

// Create adds a task for the user (taskflow_task_create): a tag id, a
// project or a parent that is not the user's, a tree too deep, or a user
// already at the cap, writes nothing.
func (s *PostgresTasks) Create(ctx context.Context, userID string, in models.TaskInput, k *models.Keyed) (models.Task, error) {
	call, err := s.createCall(userID, in, k)
	if err != nil {
		return models.Task{}, classify(err)
	}
	return pgTask(s.db.WithContext(ctx), k, call)
}

func (s *PostgresTasks) createCall(userID string, in models.TaskInput, k *models.Keyed) (pgCallSpec, error) {
	task, err := newTask(in)
	if err != nil {
		return pgCallSpec{}, err
	}
	return pgCallSpec{"taskflow_task_create", append([]any{userID, k.IDOr(task.ID), task.Title, task.Description,
		task.Completed, priorityCodes[task.Priority], task.DueDate, task.CreatedAt, pgTextArray(uniqueSorted(in.TagIDs)),
		in.Place.ProjectSet, in.Place.ProjectID, in.Place.ParentSet, in.Place.ParentID,
		s.maxPerUser, rand.Float64(), storeTime()}, pgKeyArgs(k)...)}, nil
}

// Replace sets every settable field of the user's task (its whole tag set
// and its place included) if cond matches.
func (s *PostgresTasks) Replace(ctx context.Context, userID, id string, in models.TaskInput, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return pgTask(s.db.WithContext(ctx), k, s.modifyCall(userID, id, cond, replaceChange(in), k))
}

// Update changes the fields p carries on the user's task if cond matches.
func (s *PostgresTasks) Update(ctx context.Context, userID, id string, p models.TaskPatch, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return pgTask(s.db.WithContext(ctx), k, s.modifyCall(userID, id, cond, patchChange(p), k))
}

// modifyCall is Replace and Update (taskflow_task_update): a write that
// changes nothing keeps the version and updated_at and records no event; a
// task whose project or parent changes goes last in its new place, its
// subtasks with it; completing a task completes its open subtasks.
func (s *PostgresTasks) modifyCall(userID, id string, cond *models.Precondition, c taskChange, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	return pgCallSpec{"taskflow_task_update", append([]any{userID, id, anyVersion, versions,
		c.setTitle, c.title, c.setDescription, c.description, c.setCompleted, c.completed,
		c.setPriority, priorityCodes[c.priority], c.setDue, c.due, c.setTags, pgTextArray(uniqueSorted(c.tagIDs)),
		c.place.ProjectSet, c.place.ProjectID, c.place.ParentSet, c.place.ParentID,
		timestamp(), rand.Float64(), storeTime()}, pgKeyArgs(k)...)}
}

// Move puts the user's task into m's place, among its siblings there, if
// cond matches (taskflow_task_move); its subtasks come along.
func (s *PostgresTasks) Move(ctx context.Context, userID, id string, m models.TaskMove, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return pgTask(s.db.WithContext(ctx), k, s.moveCall(userID, id, m, cond, k))
}

func (s *PostgresTasks) moveCall(userID, id string, m models.TaskMove, cond *models.Precondition, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	return pgCallSpec{"taskflow_task_move", append([]any{userID, id, anyVersion, versions,
		m.Place.ProjectSet, m.Place.ProjectID, m.Place.ParentSet, m.Place.ParentID, m.AfterSet, m.AfterID,
		timestamp(), rand.Float64(), storeTime()}, pgKeyArgs(k)...)}
}

// Delete removes the user's task and its subtasks if cond matches, and
// records task.deleted for each (taskflow_task_delete).
func (s *PostgresTasks) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	_, err := pgCall(s.db.WithContext(ctx), k, s.deleteCall(userID, id, cond, k))
	return err
}

func (s *PostgresTasks) deleteCall(userID, id string, cond *models.Precondition, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	return pgCallSpec{"taskflow_task_delete", append([]any{userID, id, anyVersion, versions, storeTime()}, pgKeyArgs(k)...)}
}

// pgTask calls a task write and reads the task it returns.
func pgTask(db *gorm.DB, k *models.Keyed, call pgCallSpec) (models.Task, error) {
	out, err := pgCall(db, k, call)
	if err != nil {
		return models.Task{}, err
	}
	var task models.Task
	if err := json.Unmarshal([]byte(out), &task); err != nil {
		return models.Task{}, classify(fmt.Errorf("%s returned a task that does not decode: %w", call.fn, err))
	}
	return task, nil
}
