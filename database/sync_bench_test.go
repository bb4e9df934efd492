package database_test

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
	"taskflow/routes"
)

func newProjects(db *gorm.DB, maxPerUser int) routes.ProjectStore {
	if database.IsPostgres(db) {
		return database.NewPostgresProjects(db, maxPerUser)
	}
	return database.NewSQLiteProjects(db, maxPerUser, nil)
}

func newSync(db *gorm.DB) routes.SyncStore {
	if database.IsPostgres(db) {
		return database.NewPostgresSync(db)
	}
	return database.NewSQLiteSync(db)
}

// BenchmarkSyncPage reads the first page of a full copy (100 changes) of
// a user with 120 projects, 120 tags and 300 tasks in them, each tagged:
// more of each kind than a page holds, as a new device's first sync.
func BenchmarkSyncPage(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) apptest.Database
	}{{"sqlite", apptest.SQLite}, {"postgres", apptest.Postgres}} {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			gdb := openMigrated(b, d.open(b))
			tasks, tags, projects := newTasks(gdb, 1000), newTags(gdb, 1000), newProjects(gdb, 1000)
			var projectIDs, tagIDs []string
			for i := range 120 {
				p, err := projects.Create(ctx, "u", models.ProjectInput{Name: fmt.Sprint("project ", i)}, nil)
				if err != nil {
					b.Fatal(err)
				}
				g, err := tags.Create(ctx, "u", models.TagInput{Name: fmt.Sprint("tag ", i)}, nil)
				if err != nil {
					b.Fatal(err)
				}
				projectIDs, tagIDs = append(projectIDs, p.ID), append(tagIDs, g.ID)
			}
			for i := range 300 {
				in := models.TaskInput{Title: fmt.Sprint("task ", i), Priority: models.PriorityMedium, TagIDs: []string{tagIDs[i%120]},
					Place: models.TaskPlace{ProjectSet: true, ProjectID: &projectIDs[i%120], ParentSet: true}}
				if _, err := tasks.Create(ctx, "u", in, nil); err != nil {
					b.Fatal(err)
				}
			}
			sync := newSync(gdb)
			var buf []byte
			for b.Loop() {
				page, err := sync.AppendSyncJSON(ctx, buf[:0], "u", nil, 100)
				if err != nil || len(page) < 10000 {
					b.Fatalf("a page of %d bytes: %v", len(page), err)
				}
				buf = page
			}
		})
	}
}
