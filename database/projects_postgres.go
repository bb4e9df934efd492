package database

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresProjects is the project store on PostgreSQL: every write is one
// call of a function of the database (see PostgresTasks).
type PostgresProjects struct {
	projectReads
	maxPerUser int
}

// NewPostgresProjects returns the project store over db, a PostgreSQL
// database; a user may own at most maxPerUser projects.
func NewPostgresProjects(db *gorm.DB, maxPerUser int) *PostgresProjects {
	return &PostgresProjects{projectReads: projectReads{db: db}, maxPerUser: maxPerUser}
}

// Create adds a project for the user, last in the manual order, under the
// cap, with project.created (taskflow_project_create).
func (s *PostgresProjects) Create(ctx context.Context, userID string, in models.ProjectInput, k *models.Keyed) (models.Project, error) {
	call, err := s.createCall(userID, in, k)
	if err != nil {
		return models.Project{}, classify(err)
	}
	return pgProject(s.db.WithContext(ctx), k, call)
}

func (s *PostgresProjects) createCall(userID string, in models.ProjectInput, k *models.Keyed) (pgCallSpec, error) {
	project, err := newProject(in)
	if err != nil {
		return pgCallSpec{}, err
	}
	return pgCallSpec{"taskflow_project_create", append([]any{userID, k.IDOr(project.ID), project.Name, project.Color,
		project.CreatedAt, s.maxPerUser, rand.Float64(), storeTime()}, pgKeyArgs(k)...)}, nil
}

// Update renames, recolours, archives or restores one of the user's
// projects if cond matches (taskflow_project_update).
func (s *PostgresProjects) Update(ctx context.Context, userID, id string, p models.ProjectPatch, cond *models.Precondition, k *models.Keyed) (models.Project, error) {
	return pgProject(s.db.WithContext(ctx), k, s.updateCall(userID, id, p, cond, k))
}

func (s *PostgresProjects) updateCall(userID, id string, p models.ProjectPatch, cond *models.Precondition, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	archived := p.Archived != nil && *p.Archived
	return pgCallSpec{"taskflow_project_update", append([]any{userID, id, anyVersion, versions,
		p.Name != nil, deref(p.Name), p.ColorSet, p.Color, p.Archived != nil, archived,
		false, false, nil, timestamp(), rand.Float64(), storeTime()}, pgKeyArgs(k)...)}
}

// Move puts one of the user's projects right after the project afterID,
// first when afterID is nil, last when afterSet is false, if cond matches.
func (s *PostgresProjects) Move(ctx context.Context, userID, id string, afterSet bool, afterID *string, cond *models.Precondition, k *models.Keyed) (models.Project, error) {
	return pgProject(s.db.WithContext(ctx), k, s.moveCall(userID, id, afterSet, afterID, cond, k))
}

func (s *PostgresProjects) moveCall(userID, id string, afterSet bool, afterID *string, cond *models.Precondition, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	return pgCallSpec{"taskflow_project_update", append([]any{userID, id, anyVersion, versions,
		false, "", false, nil, false, false,
		true, afterSet, afterID, timestamp(), rand.Float64(), storeTime()}, pgKeyArgs(k)...)}
}

// Delete removes one of the user's projects and all its tasks if cond
// matches, and records project.deleted alone (taskflow_project_delete).
func (s *PostgresProjects) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	_, err := pgCall(s.db.WithContext(ctx), k, s.deleteCall(userID, id, cond, k))
	return err
}

func (s *PostgresProjects) deleteCall(userID, id string, cond *models.Precondition, k *models.Keyed) pgCallSpec {
	anyVersion, versions := pgCondition(cond)
	return pgCallSpec{"taskflow_project_delete", append([]any{userID, id, anyVersion, versions, storeTime()}, pgKeyArgs(k)...)}
}

// pgProject calls a project write and reads the project it returns.
func pgProject(db *gorm.DB, k *models.Keyed, call pgCallSpec) (models.Project, error) {
	out, err := pgCall(db, k, call)
	if err != nil {
		return models.Project{}, err
	}
	var project models.Project
	if err := json.Unmarshal([]byte(out), &project); err != nil {
		return models.Project{}, classify(fmt.Errorf("%s returned a project that does not decode: %w", call.fn, err))
	}
	return project, nil
}
