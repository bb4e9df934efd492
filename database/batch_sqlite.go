package database

import (
	"context"

	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteBatch runs batches on SQLite: each command is the matching store
// method, in its own transaction, one after the other.
type SQLiteBatch struct {
	batchStore
	tasks    *SQLiteTasks
	tags     *SQLiteTags
	projects *SQLiteProjects
}

// NewSQLiteBatch returns the batch runner over the SQLite stores given.
func NewSQLiteBatch(db *gorm.DB, tasks *SQLiteTasks, tags *SQLiteTags, projects *SQLiteProjects) *SQLiteBatch {
	return &SQLiteBatch{batchStore: batchStore{db: db, now: storeTime}, tasks: tasks, tags: tags, projects: projects}
}

// Run runs ops in order and returns what each came to.
func (s *SQLiteBatch) Run(ctx context.Context, userID string, ops []models.BatchOp) ([]models.BatchOutcome, error) {
	out := make([]models.BatchOutcome, len(ops))
	for i, op := range ops {
		body, err := s.run(ctx, userID, op)
		if models.ErrorCode(err) == models.CodePreconditionFailed {
			err = s.withCurrent(ctx, userID, op, err)
		}
		out[i] = models.BatchOutcome{Body: body, Err: err}
	}
	return out, nil
}

func (s *SQLiteBatch) run(ctx context.Context, userID string, op models.BatchOp) ([]byte, error) {
	k := op.Keyed
	switch op.Type {
	case models.CommandTaskCreate:
		t, err := s.tasks.Create(ctx, userID, op.Task, k)
		return t.AppendJSON(nil), err
	case models.CommandTaskUpdate:
		t, err := s.tasks.Update(ctx, userID, op.ID, op.TaskPatch, op.Cond, k)
		return t.AppendJSON(nil), err
	case models.CommandTaskMove:
		t, err := s.tasks.Move(ctx, userID, op.ID, op.TaskMove, op.Cond, k)
		return t.AppendJSON(nil), err
	case models.CommandTaskDelete:
		return nil, s.tasks.Delete(ctx, userID, op.ID, op.Cond, k)
	case models.CommandTagCreate:
		t, err := s.tags.Create(ctx, userID, op.Tag, k)
		return t.AppendJSON(nil), err
	case models.CommandTagUpdate:
		t, err := s.tags.Update(ctx, userID, op.ID, op.TagPatch, k)
		return t.AppendJSON(nil), err
	case models.CommandTagDelete:
		return nil, s.tags.Delete(ctx, userID, op.ID, k)
	case models.CommandProjectCreate:
		p, err := s.projects.Create(ctx, userID, op.Project, k)
		return p.AppendJSON(nil), err
	case models.CommandProjectUpdate:
		p, err := s.projects.Update(ctx, userID, op.ID, op.ProjectPatch, op.Cond, k)
		return p.AppendJSON(nil), err
	case models.CommandProjectMove:
		p, err := s.projects.Move(ctx, userID, op.ID, op.AfterSet, op.AfterID, op.Cond, k)
		return p.AppendJSON(nil), err
	case models.CommandProjectDelete:
		return nil, s.projects.Delete(ctx, userID, op.ID, op.Cond, k)
	}
	return nil, models.Errorf(models.CodeInvalid, "unknown command type %q", op.Type)
}

// withCurrent gives a failed precondition the object as it is now.
func (s *SQLiteBatch) withCurrent(ctx context.Context, userID string, op models.BatchOp, err error) error {
	var current []byte
	switch op.Type {
	case models.CommandTaskUpdate, models.CommandTaskMove, models.CommandTaskDelete:
		if t, getErr := s.tasks.Get(ctx, userID, op.ID); getErr == nil {
			current = t.AppendJSON(nil)
		}
	case models.CommandProjectUpdate, models.CommandProjectMove, models.CommandProjectDelete:
		if p, getErr := s.projects.Get(ctx, userID, op.ID); getErr == nil {
			current = p.AppendJSON(nil)
		}
	}
	if e, ok := err.(*models.Error); ok && current != nil {
		c := *e
		c.Current = current
		return &c
	}
	return err
}

// Finish keeps the refusals' answers, then reads the answers other
// requests recorded first: under the keys of save that held one already,
// and under inflight.
func (s *SQLiteBatch) Finish(ctx context.Context, userID string, save []models.StoredAnswer, inflight []string) (map[string]models.StoredAnswer, error) {
	db := s.db.WithContext(ctx)
	taken, err := saveAnswers(db, userID, save, s.now())
	if err != nil {
		return nil, classify(err)
	}
	stored, err := readAnswers(db, userID, append(taken, inflight...))
	return stored, classify(err)
}
