package database

import (
	"context"

	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteProjects is the project store on SQLite: every write is a
// transaction, announced to the change feed once committed.
type SQLiteProjects struct {
	projectReads
	maxPerUser int
	announce   func(userID string)
}

// NewSQLiteProjects returns the project store over db, an SQLite database;
// a user may own at most maxPerUser projects. announce (may be nil) is
// told the user of every committed write that recorded an event.
func NewSQLiteProjects(db *gorm.DB, maxPerUser int, announce func(userID string)) *SQLiteProjects {
	return &SQLiteProjects{projectReads: projectReads{db: db}, maxPerUser: maxPerUser, announce: announce}
}

func (s *SQLiteProjects) announceAfter(tx *Tx, userID string) {
	if s.announce != nil {
		tx.AfterCommit(func() { s.announce(userID) })
	}
}

func (s *SQLiteProjects) siblings(tx *Tx, userID string) siblings {
	return siblings{table: "projects", where: "user_id = ?", args: []any{userID},
		respace: func(ids, keys []string) error { return s.respace(tx, userID, ids, keys) }}
}

// Create adds a project for the user, last in the manual order, under the
// cap, with project.created.
func (s *SQLiteProjects) Create(ctx context.Context, userID string, in models.ProjectInput, k *models.Keyed) (models.Project, error) {
	project, err := newProject(in)
	if err != nil {
		return models.Project{}, classify(err)
	}
	project.ID = k.IDOr(project.ID)
	err = inTx(ctx, s.db, func(tx *Tx) error {
		var n int64
		if err := scanOne(tx.DB, []any{&n}, "SELECT count(*) FROM projects WHERE user_id = ?", userID); err != nil {
			return err
		}
		if err := capError(n+1, s.maxPerUser, "projects"); err != nil {
			return err
		}
		if project.Position, err = keyIn(tx, s.siblings(tx, userID), project.ID, false, nil); err != nil {
			return err
		}
		err := tx.Exec(`INSERT INTO projects (id, user_id, name, color, position, archived, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, project.ID, userID, project.Name, project.Color, project.Position,
			false, project.Version, project.CreatedAt, project.UpdatedAt).Error
		if err != nil {
			return err
		}
		return s.recorded(tx, userID, models.EventProjectCreated, project, k)
	})
	if err != nil {
		return models.Project{}, classify(err)
	}
	return project, nil
}

// recorded records project's event and, with k, its answer.
func (s *SQLiteProjects) recorded(tx *Tx, userID string, typ models.EventType, project models.Project, k *models.Keyed) error {
	if err := recordChange(tx, userID, projectObject(project.ID), typ, projectEventData(project), 0, 0); err != nil {
		return err
	}
	s.announceAfter(tx, userID)
	if k == nil {
		return nil
	}
	return recordKeyed(tx, userID, k, project.ID, k.Answer(project.ID, project.Version, project.AppendJSON(nil)))
}

// Update renames, recolours, archives or restores one of the user's
// projects if cond matches. A patch that changes nothing keeps the version
// and records no event.
func (s *SQLiteProjects) Update(ctx context.Context, userID, id string, p models.ProjectPatch, cond *models.Precondition, k *models.Keyed) (models.Project, error) {
	return s.change(ctx, userID, id, cond, k, func(tx *Tx, project *models.Project) (bool, error) {
		return applyProjectPatch(project, p), nil
	})
}

// Move puts one of the user's projects right after the project afterID,
// first when afterID is nil, last when afterSet is false, if cond
// matches.
func (s *SQLiteProjects) Move(ctx context.Context, userID, id string, afterSet bool, afterID *string, cond *models.Precondition, k *models.Keyed) (models.Project, error) {
	return s.change(ctx, userID, id, cond, k, func(tx *Tx, project *models.Project) (bool, error) {
		if afterID != nil && *afterID == id {
			return false, errAfterNotSibling()
		}
		key, err := keyIn(tx, s.siblings(tx, userID), id, afterSet, afterID)
		project.Position = key
		return err == nil, err
	})
}

// change reads the project, checks cond, lets edit change it and, if edit
// reports a change, writes it with a new version and project.updated.
func (s *SQLiteProjects) change(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed,
	edit func(tx *Tx, project *models.Project) (bool, error)) (models.Project, error) {
	var result models.Project
	err := inTx(ctx, s.db, func(tx *Tx) error {
		project, err := projectToWrite(tx, userID, id, cond)
		if err != nil {
			return err
		}
		changed, err := edit(tx, &project)
		if err != nil {
			return err
		}
		result = project
		if !changed {
			if k == nil {
				return nil
			}
			return recordKeyed(tx, userID, k, project.ID, k.Answer(project.ID, project.Version, project.AppendJSON(nil)))
		}
		result.Version, result.UpdatedAt = project.Version+1, timestamp()
		err = tx.Exec(`UPDATE projects SET name = ?, color = ?, archived = ?, position = ?, version = ?, updated_at = ?
			WHERE id = ? AND user_id = ?`, result.Name, result.Color, result.Archived, result.Position, result.Version,
			result.UpdatedAt, id, userID).Error
		if err != nil {
			return err
		}
		return s.recorded(tx, userID, models.EventProjectUpdated, result, k)
	})
	if err != nil {
		return models.Project{}, classify(err)
	}
	return result, nil
}

// respace gives each project of ids its key of keys (see respace), as a
// change of each: version, updated_at, event.
func (s *SQLiteProjects) respace(tx *Tx, userID string, ids, keys []string) error {
	now := timestamp()
	for i, id := range ids {
		err := tx.Exec("UPDATE projects SET position = ?, version = version + 1, updated_at = ? WHERE id = ? AND user_id = ?",
			keys[i], now, id, userID).Error
		if err != nil {
			return err
		}
		project, err := getProject(tx.DB, userID, id)
		if err != nil {
			return err
		}
		if err := recordChange(tx, userID, projectObject(id), models.EventProjectUpdated, projectEventData(project), 0, 0); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes one of the user's projects and all its tasks if cond
// matches, in one transaction, and records project.deleted alone: its
// tasks are not announced one by one.
func (s *SQLiteProjects) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	err := inTx(ctx, s.db, func(tx *Tx) error {
		if _, err := projectToWrite(tx, userID, id, cond); err != nil {
			return err
		}
		var gone []string
		if err := tx.Raw("DELETE FROM tasks WHERE user_id = ? AND project_id = ? RETURNING id", userID, id).Scan(&gone).Error; err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM projects WHERE id = ? AND user_id = ?", id, userID).Error; err != nil {
			return err
		}
		if err := recordGone(tx, userID, projectObject(id), models.EventProjectDeleted, 0, 0); err != nil {
			return err
		}
		if err := recordGoneMany(tx, userID, object{table: "tasks"}, gone); err != nil {
			return err
		}
		s.announceAfter(tx, userID)
		return recordDeleted(tx, userID, k, id)
	})
	return classify(err)
}

// projectToWrite reads the project a write changes, refused when cond
// names other versions.
func projectToWrite(tx *Tx, userID, id string, cond *models.Precondition) (models.Project, error) {
	project, err := getProject(tx.DB, userID, id)
	if err != nil {
		return models.Project{}, err
	}
	if !cond.Matches(project.Version) {
		return models.Project{}, errProjectChanged()
	}
	return project, nil
}
