package database

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// The project stores: PostgresProjects (projects_postgres.go), whose
// writes are one statement each, and SQLiteProjects (projects_sqlite.go),
// whose writes are transactions. A project's task counts are read with it,
// in the same statement; the reads are the same on both engines.

// projectReads are the reads both engines run alike.
type projectReads struct{ db *gorm.DB }

// projectColumns selects a project (aliased p) with its counts: its tasks,
// subtasks included, and those of them not completed.
const projectColumns = `p.id, p.name, p.color, p.position, p.archived, p.created_at, p.updated_at, p.version,
	(SELECT count(*) FROM tasks t WHERE t.user_id = p.user_id AND t.project_id = p.id),
	(SELECT count(*) FROM tasks t WHERE t.user_id = p.user_id AND t.project_id = p.id AND NOT t.completed)`

// archivedConds is the WHERE condition of each archived filter.
var archivedConds = map[models.ProjectArchived]string{
	models.ArchivedNo:   " AND NOT p.archived",
	models.ArchivedOnly: " AND p.archived",
	models.ArchivedAny:  "",
}

func errProjectNotFound() error { return models.Errorf(models.CodeNotFound, "project not found") }

func errProjectChanged() error {
	return models.Errorf(models.CodePreconditionFailed, "the project has changed since that ETag was issued: fetch it again")
}

// List returns the user's projects in their manual order, in one
// statement.
func (s projectReads) List(ctx context.Context, userID string, archived models.ProjectArchived) (models.ProjectList, error) {
	cond, ok := archivedConds[archived]
	if !ok {
		cond = archivedConds[models.ArchivedNo]
	}
	projects, err := queryProjects(s.db.WithContext(ctx),
		`SELECT `+projectColumns+` FROM projects p WHERE p.user_id = ?`+cond+` ORDER BY p.position`, userID)
	if err != nil {
		return models.ProjectList{}, classify(err)
	}
	return models.ProjectList{Items: projects, Total: len(projects)}, nil
}

// Get returns one of the user's projects, in one statement.
func (s projectReads) Get(ctx context.Context, userID, id string) (models.Project, error) {
	return getProject(s.db.WithContext(ctx), userID, id)
}

func getProject(db *gorm.DB, userID, id string) (models.Project, error) {
	projects, err := queryProjects(db, `SELECT `+projectColumns+` FROM projects p WHERE p.id = ? AND p.user_id = ?`, id, userID)
	if err != nil {
		return models.Project{}, classify(err)
	}
	if len(projects) == 0 {
		return models.Project{}, errProjectNotFound()
	}
	return projects[0], nil
}

func queryProjects(db *gorm.DB, query string, args ...any) ([]models.Project, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	projects := []models.Project{}
	for rows.Next() {
		var p models.Project
		var color sql.NullString
		if err := rows.Scan(&p.ID, &p.Name, &color, &p.Position, &p.Archived, &p.CreatedAt, &p.UpdatedAt, &p.Version,
			&p.TaskCount, &p.OpenTaskCount); err != nil {
			return nil, err
		}
		p.Color = nullString(color)
		p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
		projects = append(projects, p)
	}
	return projects, rows.Err()
}

// newProject is the project a create stores, before its position: a new
// id (UUID v7), version 1, no tasks.
func newProject(in models.ProjectInput) (models.Project, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return models.Project{}, err
	}
	now := timestamp()
	return models.Project{ID: id.String(), Name: in.Name, Color: in.Color, CreatedAt: now, UpdatedAt: now, Version: 1}, nil
}

// apply sets the fields p carries on project, and reports whether any
// differs.
func applyProjectPatch(project *models.Project, p models.ProjectPatch) bool {
	changed := false
	if p.Name != nil && *p.Name != project.Name {
		project.Name, changed = *p.Name, true
	}
	if p.ColorSet && !sameString(p.Color, project.Color) {
		project.Color, changed = p.Color, true
	}
	if p.Archived != nil && *p.Archived != project.Archived {
		project.Archived, changed = *p.Archived, true
	}
	return changed
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
