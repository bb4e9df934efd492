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
	Tasks  routes.TaskStore
	Tags   routes.TagStore
	Tokens routes.RefreshTokenStore
}

// NewStores returns the stores over db with cfg's limits. announce is told
// the user of every write committed on SQLite, which serves one process
// (PostgreSQL's writes announce themselves by NOTIFY, to every replica).
func NewStores(db *gorm.DB, cfg config.Config, announce func(userID string)) Stores {
	if database.IsPostgres(db) {
		return Stores{
			Tasks:  database.NewPostgresTasks(db, cfg.MaxTasksPerUser),
			Tags:   database.NewPostgresTags(db, cfg.MaxTagsPerUser),
			Tokens: database.NewPostgresTokens(db, cfg.RefreshTokenTTL, cfg.SessionMaxAge).WithReuseInterval(cfg.RefreshReuseInterval),
		}
	}
	return Stores{
		Tasks:  database.NewSQLiteTasks(db, cfg.MaxTasksPerUser, announce),
		Tags:   database.NewSQLiteTags(db, cfg.MaxTagsPerUser, announce),
		Tokens: database.NewSQLiteTokens(db, cfg.RefreshTokenTTL, cfg.SessionMaxAge).WithReuseInterval(cfg.RefreshReuseInterval),
	}
}
