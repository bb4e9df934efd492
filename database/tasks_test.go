package database_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/models"
)

// openMigrated opens a fresh, migrated database for a store test.
func openMigrated(t testing.TB, db apptest.Database) *gorm.DB {
	t.Helper()
	gdb := open(t, db.URL)
	migrate(t, gdb)
	return gdb
}

func requireErrorCode(t testing.TB, err error, code models.Code) {
	t.Helper()
	if got := models.ErrorCode(err); err == nil || got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

func mustCreate(t testing.TB, tasks taskStore, userID string, in models.TaskInput) models.Task {
	t.Helper()
	if in.Priority == "" {
		in.Priority = models.PriorityMedium
	}
	task, err := tasks.Create(context.Background(), userID, in, nil)
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	return task
}

func TestTasksStoreScopesEveryMethodByUser(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openMigrated(t, db)
		tasks, tags := newTasks(gdb, 100), newTags(gdb, 100)
		tag, err := tags.Create(ctx, "owner", models.TagInput{Name: "t"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		task := mustCreate(t, tasks, "owner", models.TaskInput{Title: "mine", TagIDs: []string{tag.ID}})

		_, err = tasks.Get(ctx, "intruder", task.ID)
		requireErrorCode(t, err, models.CodeNotFound)
		_, err = tasks.Replace(ctx, "intruder", task.ID, models.TaskInput{Title: "x", Priority: models.PriorityLow}, nil, nil)
		requireErrorCode(t, err, models.CodeNotFound)
		title := "x"
		_, err = tasks.Update(ctx, "intruder", task.ID, models.TaskPatch{Title: &title}, &models.Precondition{Any: true}, nil)
		requireErrorCode(t, err, models.CodeNotFound)
		requireErrorCode(t, tasks.Delete(ctx, "intruder", task.ID, nil, nil), models.CodeNotFound)
		page, err := tasks.List(ctx, "intruder", models.TaskFilter{TagID: tag.ID})
		if err != nil || page.Total != 0 || len(page.Items) != 0 {
			t.Fatalf("intruder's list by the owner's tag = %+v, %v", page, err)
		}
		_, err = tasks.Create(ctx, "intruder", models.TaskInput{Title: "steal", Priority: models.PriorityLow, TagIDs: []string{tag.ID}}, nil)
		requireErrorCode(t, err, models.CodeInvalid)
		if page, _ := tasks.List(ctx, "intruder", models.TaskFilter{}); page.Total != 0 {
			t.Fatalf("a refused create left %d tasks", page.Total)
		}

		_, err = tags.Get(ctx, "intruder", tag.ID)
		requireErrorCode(t, err, models.CodeNotFound)
		name := "renamed"
		_, err = tags.Update(ctx, "intruder", tag.ID, models.TagPatch{Name: &name}, nil)
		requireErrorCode(t, err, models.CodeNotFound)
		requireErrorCode(t, tags.Delete(ctx, "intruder", tag.ID, nil), models.CodeNotFound)

		got, err := tasks.Get(ctx, "owner", task.ID)
		if err != nil || got.Title != "mine" || got.Version != 1 || len(got.Tags) != 1 || got.Tags[0].Name != "t" {
			t.Fatalf("owner's task after the intruder = %+v, %v", got, err)
		}
	})
}

func TestTasksStoreRoundTrip(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		tasks := newTasks(openMigrated(t, db), 100)
		due := time.Date(2030, 6, 1, 12, 30, 15, 123456789, time.FixedZone("CEST", 2*3600))
		created := mustCreate(t, tasks, "u", models.TaskInput{
			Title: "round trip", Description: "ünïcode ✓", Completed: true, Priority: models.PriorityHigh, DueDate: &due,
		})
		got, err := tasks.Get(ctx, "u", created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(created) {
			t.Errorf("read back %+v\nwant       %+v", got, created)
		}
		wantDue := due.UTC().Truncate(time.Microsecond)
		if got.DueDate == nil || !got.DueDate.Equal(wantDue) || got.DueDate.Location() != time.UTC {
			t.Errorf("due date = %v, want %v in UTC", got.DueDate, wantDue)
		}
		if got.CreatedAt.Location() != time.UTC || got.CompletedAt == nil || got.CompletedAt.Location() != time.UTC {
			t.Errorf("times not in UTC: %v %v", got.CreatedAt, got.CompletedAt)
		}
	})
}

func TestTasksStorePreconditions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		tasks := newTasks(openMigrated(t, db), 100)
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "v1"})
		title := "v2"
		_, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &title}, &models.Precondition{Versions: []int64{2, 3}}, nil)
		requireErrorCode(t, err, models.CodePreconditionFailed)
		updated, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &title}, &models.Precondition{Versions: []int64{3, 1}}, nil)
		if err != nil || updated.Version != 2 || updated.Title != "v2" {
			t.Fatalf("update = %+v, %v", updated, err)
		}
		requireErrorCode(t, tasks.Delete(ctx, "u", task.ID, &models.Precondition{}, nil), models.CodePreconditionFailed)
		requireErrorCode(t, tasks.Delete(ctx, "u", task.ID, &models.Precondition{Versions: []int64{1}}, nil), models.CodePreconditionFailed)
		if err := tasks.Delete(ctx, "u", task.ID, &models.Precondition{Versions: []int64{2}}, nil); err != nil {
			t.Fatalf("delete at the current version: %v", err)
		}
		requireErrorCode(t, tasks.Delete(ctx, "u", task.ID, &models.Precondition{Any: true}, nil), models.CodeNotFound)
	})
}

func TestTasksStoreListCountsOnlyWhenNeeded(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		tasks := newTasks(openMigrated(t, db), 100)
		for i := range 5 {
			mustCreate(t, tasks, "u", models.TaskInput{Title: fmt.Sprint("t", i)})
		}
		cases := []struct {
			limit  int
			offset int64
			items  int
		}{{5, 0, 5}, {10, 0, 5}, {4, 0, 4}, {2, 4, 1}, {2, 5, 0}, {2, 9, 0}, {3, 3, 2}}
		for _, tc := range cases {
			page, err := tasks.List(ctx, "u", models.TaskFilter{Limit: tc.limit, Offset: tc.offset, Sort: models.SortTitleAsc})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != 5 || len(page.Items) != tc.items {
				t.Errorf("limit %d offset %d: total %d, %d items; want 5, %d", tc.limit, tc.offset, page.Total, len(page.Items), tc.items)
			}
		}
		empty, err := tasks.List(ctx, "nobody", models.TaskFilter{Limit: 20})
		if err != nil || empty.Total != 0 || empty.Items == nil {
			t.Errorf("empty list = %+v, %v; want items [] and total 0", empty, err)
		}
	})
}

// BenchmarkTasksList measures the store alone: one page of 20 tagged tasks
// out of 100.
func BenchmarkTasksList(b *testing.B) {
	for _, d := range []struct {
		name string
		open func(testing.TB) apptest.Database
	}{{"sqlite", apptest.SQLite}, {"postgres", apptest.Postgres}} {
		b.Run(d.name, func(b *testing.B) {
			ctx := context.Background()
			gdb := openMigrated(b, d.open(b))
			tasks, tags := newTasks(gdb, 1000), newTags(gdb, 100)
			x, _ := tags.Create(ctx, "u", models.TagInput{Name: "x"}, nil)
			y, _ := tags.Create(ctx, "u", models.TagInput{Name: "y"}, nil)
			for i := range 100 {
				mustCreate(b, tasks, "u", models.TaskInput{Title: fmt.Sprint("task ", i), TagIDs: []string{x.ID, y.ID}})
			}
			for b.Loop() {
				page, err := tasks.List(ctx, "u", models.TaskFilter{Limit: 20, Sort: models.SortCreatedDesc})
				if err != nil || len(page.Items) != 20 {
					b.Fatalf("list: %d items, %v", len(page.Items), err)
				}
			}
		})
	}
}
