package database_test

import (
	"context"
	"time"

	"gorm.io/gorm"

	"taskflow/database"
	"taskflow/models"
	"taskflow/routes"
)

// taskStore is a task store of either engine, with the page as models
// (List) beside the list's JSON that the routes use.
type taskStore interface {
	routes.TaskStore
	List(ctx context.Context, userID string, f models.TaskFilter) (models.TaskPage, error)
}

// tokenStore is a refresh token store of either engine.
type tokenStore interface {
	routes.RefreshTokenStore
	RevokeAll(ctx context.Context, userID string) error
}

// newTasks, newTags and newTokens pick the store of db's engine, as the
// app does when it is assembled.
func newTasks(db *gorm.DB, maxPerUser int) taskStore {
	if database.IsPostgres(db) {
		return database.NewPostgresTasks(db, maxPerUser)
	}
	return database.NewSQLiteTasks(db, maxPerUser, nil)
}

func newTags(db *gorm.DB, maxPerUser int) routes.TagStore {
	if database.IsPostgres(db) {
		return database.NewPostgresTags(db, maxPerUser)
	}
	return database.NewSQLiteTags(db, maxPerUser, nil)
}

func newTokens(db *gorm.DB, ttl, maxAge time.Duration) tokenStore {
	if database.IsPostgres(db) {
		return database.NewPostgresTokens(db, ttl, maxAge)
	}
	return database.NewSQLiteTokens(db, ttl, maxAge)
}
