package app

import (
	"gorm.io/gorm"

	"taskflow/config"
	"taskflow/database"
	"taskflow/routes"
)

// Stores is the storage behind the routes, for one database engine.
// NewStores is the one place the engine is chosen: each store has an
// implementation per engine (PostgreSQL's one-statement writes, SQLite's
// transactions) behind the interface its routes declare, and no store
// method asks which engine it runs on.
type Stores struct {
	Tasks    routes.TaskStore
	Tags     routes.TagStore
	Projects routes.ProjectStore
	Tokens   routes.RefreshTokenStore
	Sync     routes.SyncStore
	Batch    routes.BatchStore
}

// NewStores returns the stores over db with cfg's limits. announce is told
// the user of every write committed on SQLite, which serves one process
// (PostgreSQL's writes announce themselves by NOTIFY, to every replica).
func NewStores(db *gorm.DB, cfg config.Config, announce func(userID string)) Stores {
	if database.IsPostgres(db) {
		tasks := database.NewPostgresTasks(db, cfg.MaxTasksPerUser)
		tags := database.NewPostgresTags(db, cfg.MaxTagsPerUser)
		projects := database.NewPostgresProjects(db, cfg.MaxProjectsPerUser)
		return Stores{
			Tasks: tasks, Tags: tags, Projects: projects,
			Tokens: database.NewPostgresTokens(db, cfg.RefreshTokenTTL, cfg.SessionMaxAge).WithReuseInterval(cfg.RefreshReuseInterval),
			Sync:   database.NewPostgresSync(db),
			Batch:  database.NewPostgresBatch(db, tasks, tags, projects),
		}
	}
	tasks := database.NewSQLiteTasks(db, cfg.MaxTasksPerUser, announce)
	tags := database.NewSQLiteTags(db, cfg.MaxTagsPerUser, announce)
	projects := database.NewSQLiteProjects(db, cfg.MaxProjectsPerUser, announce)
	return Stores{
		Tasks: tasks, Tags: tags, Projects: projects,
		Tokens: database.NewSQLiteTokens(db, cfg.RefreshTokenTTL, cfg.SessionMaxAge).WithReuseInterval(cfg.RefreshReuseInterval),
		Sync:   database.NewSQLiteSync(db),
		Batch:  database.NewSQLiteBatch(db, tasks, tags, projects),
	}
}
