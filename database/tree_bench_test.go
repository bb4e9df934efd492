package database_test

import (
	"context"
	"fmt"
	"testing"

	"taskflow/app/apptest"
	"taskflow/models"
)

// BenchmarkCompleteTaskAmongMany completes and reopens, in turn, a task of
// a user with 2,000 tasks: completing one completes its open subtasks,
// which the store finds walking the task's tree, whatever the user's
// other tasks.
func BenchmarkCompleteTaskAmongMany(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) apptest.Database
	}{{"sqlite", apptest.SQLite}, {"postgres", apptest.Postgres}} {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			gdb := openMigrated(b, d.open(b))
			tasks := newTasks(gdb, 10000)
			var task models.Task
			for i := range 2000 {
				task = mustCreate(b, tasks, "u", models.TaskInput{Title: fmt.Sprint("task ", i), Priority: models.PriorityMedium,
					Place: models.TaskPlace{ProjectSet: true, ParentSet: true}})
			}
			done := false
			for b.Loop() {
				done = !done
				if _, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{Completed: &done}, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
