package database_test

import (
	"context"
	"slices"
	"testing"

	"taskflow/app/apptest"
	"taskflow/models"
)

func TestTagsStoreDeleteCascades(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openMigrated(t, db)
		tasks, tags := newTasks(gdb, 100), newTags(gdb, 100)
		a, _ := tags.Create(ctx, "u", models.TagInput{Name: "a"}, nil)
		b, _ := tags.Create(ctx, "u", models.TagInput{Name: "B"}, nil)
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "tagged", TagIDs: []string{b.ID, a.ID}})
		if got := []string{task.Tags[0].Name, task.Tags[1].Name}; !slices.Equal(got, []string{"a", "B"}) {
			t.Errorf("tags = %v, want sorted by name ignoring case", got)
		}
		if err := tags.Delete(ctx, "u", a.ID, nil); err != nil {
			t.Fatal(err)
		}
		got, err := tasks.Get(ctx, "u", task.ID)
		if err != nil || len(got.Tags) != 1 || got.Tags[0].ID != b.ID || got.Tags[0].TaskCount != 1 {
			t.Fatalf("task after deleting a tag = %+v, %v", got, err)
		}
		var links int64
		if err := gdb.Raw("SELECT count(*) FROM task_tags WHERE tag_id = ?", a.ID).Row().Scan(&links); err != nil || links != 0 {
			t.Errorf("links to the deleted tag = %d, %v", links, err)
		}
		if err := tasks.Delete(ctx, "u", task.ID, nil, nil); err != nil {
			t.Fatal(err)
		}
		if tag, _ := tags.Get(ctx, "u", b.ID); tag.TaskCount != 0 {
			t.Errorf("task_count after deleting the task = %d", tag.TaskCount)
		}
	})
}

func TestTagsStoreNamesIgnoreCase(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		tags := newTags(openMigrated(t, db), 100)
		if _, err := tags.Create(ctx, "u", models.TagInput{Name: "Straße"}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := tags.Create(ctx, "u", models.TagInput{Name: "STRASSE"}, nil) // a different name: no case mapping folds ß
		if err != nil {
			t.Errorf("STRASSE: %v", err)
		}
		_, err = tags.Create(ctx, "u", models.TagInput{Name: "straße"}, nil)
		requireErrorCode(t, err, models.CodeConflict)
		if _, err := tags.Create(ctx, "other", models.TagInput{Name: "straße"}, nil); err != nil {
			t.Errorf("another user's tag of the same name: %v", err)
		}
	})
}
