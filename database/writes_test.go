package database_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// counts reads a user's task and tag counts from the counter row (0, 0
// without one).
func counts(t testing.TB, gdb *gorm.DB, userID string) (tasks, tags int64) {
	t.Helper()
	row := gdb.Raw("SELECT tasks, tags FROM event_counters WHERE user_id = ?", userID).Row()
	if err := row.Scan(&tasks, &tags); err != nil && err.Error() != "sql: no rows in result set" {
		t.Fatal(err)
	}
	return tasks, tags
}

// requireCounts checks the counter row against the rows the user owns.
func requireCounts(t testing.TB, gdb *gorm.DB, userID string, wantTasks, wantTags int64) {
	t.Helper()
	tasks, tags := counts(t, gdb, userID)
	var realTasks, realTags int64
	gdb.Table("tasks").Where("user_id = ?", userID).Count(&realTasks)
	gdb.Table("tags").Where("user_id = ?", userID).Count(&realTags)
	if tasks != wantTasks || tags != wantTags || realTasks != wantTasks || realTags != wantTags {
		t.Fatalf("counted %d tasks, %d tags (rows: %d, %d); want %d, %d", tasks, tags, realTasks, realTags, wantTasks, wantTags)
	}
}

func latestEvent(t testing.TB, gdb *gorm.DB, userID string) int64 {
	t.Helper()
	head, err := database.NewEvents(gdb).Head(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return head.Latest
}

// TestCapsHoldUnderConcurrentCreates: 20 creates at once, by a user one
// below a cap, create exactly one; the others are refused naming the cap.
func TestCapsHoldUnderConcurrentCreates(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		const taskCap, tagCap, writers = 5, 3, 20
		tasks, tags := newTasks(gdb, taskCap), newTags(gdb, tagCap)
		for i := range taskCap - 1 {
			mustCreate(t, tasks, "u", models.TaskInput{Title: fmt.Sprint("t", i)})
		}
		for i := range tagCap - 1 {
			if _, err := tags.Create(ctx, "u", models.TagInput{Name: fmt.Sprint("g", i)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		taskErrs, tagErrs := make([]error, writers), make([]error, writers)
		for i := range writers {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, taskErrs[i] = tasks.Create(ctx, "u", models.TaskInput{Title: fmt.Sprint("racer ", i), Priority: models.PriorityLow}, nil)
			}()
			go func() {
				defer wg.Done()
				_, tagErrs[i] = tags.Create(ctx, "u", models.TagInput{Name: fmt.Sprint("racer ", i)}, nil)
			}()
		}
		wg.Wait()
		for what, errs := range map[string][]error{"task": taskErrs, "tag": tagErrs} {
			created := 0
			for _, err := range errs {
				switch {
				case err == nil:
					created++
				case models.ErrorCode(err) != models.CodeInvalid:
					t.Errorf("%s create: %v, want a refusal at the cap", what, err)
				}
			}
			if created != 1 {
				t.Errorf("%d concurrent %s creates at cap-1 succeeded, want 1", created, what)
			}
		}
		requireCounts(t, gdb, "u", taskCap, tagCap)
		_, err := tasks.Create(ctx, "u", models.TaskInput{Title: "over", Priority: models.PriorityLow}, nil)
		requireErrorCode(t, err, models.CodeInvalid)
		var modelErr *models.Error
		if want := "limit reached: a user may have at most 5 tasks"; !errorAs(err, &modelErr) || modelErr.Message != want {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
}

// TestCountsFollowEveryRemoval: deletes, a deleted account and an external
// user's data deletion keep the counts equal to the rows, so the cap
// frees up exactly as rows go.
func TestCountsFollowEveryRemoval(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		users := database.NewUsers(gdb)
		tasks, tags := newTasks(gdb, 3), newTags(gdb, 2)
		for _, userID := range []string{createUser(t, users, "counted@example.com", "a long password").ID, "external|sub"} {
			tag, err := tags.Create(ctx, userID, models.TagInput{Name: "a"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tags.Create(ctx, userID, models.TagInput{Name: "b"}, nil); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i := range 3 {
				ids = append(ids, mustCreate(t, tasks, userID, models.TaskInput{Title: fmt.Sprint(i), TagIDs: []string{tag.ID}}).ID)
			}
			requireCounts(t, gdb, userID, 3, 2)
			_, err = tasks.Create(ctx, userID, models.TaskInput{Title: "over", Priority: models.PriorityLow}, nil)
			requireErrorCode(t, err, models.CodeInvalid)
			// A refused delete (wrong version) counts nothing.
			requireErrorCode(t, tasks.Delete(ctx, userID, ids[0], &models.Precondition{Versions: []int64{7}}, nil), models.CodePreconditionFailed)
			requireCounts(t, gdb, userID, 3, 2)
			if err := tasks.Delete(ctx, userID, ids[0], &models.Precondition{Versions: []int64{7, 1}}, nil); err != nil {
				t.Fatal(err)
			}
			requireCounts(t, gdb, userID, 2, 2)
			mustCreate(t, tasks, userID, models.TaskInput{Title: "in again"})
			if err := tags.Delete(ctx, userID, tag.ID, nil); err != nil {
				t.Fatal(err)
			}
			requireErrorCode(t, tags.Delete(ctx, userID, tag.ID, nil), models.CodeNotFound)
			requireCounts(t, gdb, userID, 3, 1)
			if _, err := tags.Create(ctx, userID, models.TagInput{Name: "c"}, nil); err != nil {
				t.Fatal(err)
			}
			if userID == "external|sub" {
				if err := users.DeleteData(ctx, userID); err != nil {
					t.Fatal(err)
				}
			} else if err := users.DeleteAccount(ctx, userID); err != nil {
				t.Fatal(err)
			}
			requireCounts(t, gdb, userID, 0, 0)
			for i := range 3 {
				mustCreate(t, tasks, userID, models.TaskInput{Title: fmt.Sprint("after ", i)})
			}
			requireCounts(t, gdb, userID, 3, 0)
		}
	})
}

// TestMigrateCountsExistingTasksAndTags: migrating a database from before
// the counts adds their columns, and the data step gives every user with
// tasks or tags a counter row with their counts, whether the row was there
// (with an event id to keep) or not.
func TestMigrateCountsExistingTasksAndTags(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		tasks := newTasks(gdb, 10)
		for i := range 3 {
			mustCreate(t, tasks, "with-events", models.TaskInput{Title: strconv.Itoa(i)})
		}
		insertTask := func(userID string) string {
			return "INSERT INTO tasks (id, user_id, title, description, completed, priority, version, created_at, updated_at) VALUES ('" +
				userID + strconv.Itoa(len(userID)) + "', '" + userID + "', 't', '', false, 1, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
		}
		// The schema and rows as a server from before the counts left them;
		// the other data steps stay done (they would move these users' rows).
		for _, s := range []string{"ALTER TABLE event_counters DROP COLUMN tasks", "ALTER TABLE event_counters DROP COLUMN tags", insertTask("no-counter"),
			"INSERT INTO tags (id, user_id, name, name_key, created_at, updated_at) VALUES ('g1', 'tags-only', 'x', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
			"DELETE FROM schema_steps WHERE name = 'event-counter-counts'"} {
			if err := gdb.Exec(s).Error; err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		migrate(t, gdb)
		requireCounts(t, gdb, "with-events", 3, 0)
		requireCounts(t, gdb, "no-counter", 1, 0)
		requireCounts(t, gdb, "tags-only", 0, 1)
		if seq := latestEvent(t, gdb, "with-events"); seq != 3 {
			t.Errorf("event id after the step = %d, want 3 (kept)", seq)
		}
		if seq := latestEvent(t, gdb, "no-counter"); seq != 0 {
			t.Errorf("event id of a user with no event = %d, want 0", seq)
		}
		task := mustCreate(t, tasks, "no-counter", models.TaskInput{Title: "next"})
		requireCounts(t, gdb, "no-counter", 2, 0)
		if seq := latestEvent(t, gdb, "no-counter"); seq != 1 {
			t.Errorf("first event id after the step = %d, want 1 (task %s)", seq, task.ID)
		}
	})
}

// TestForeignTagIDsWriteNothing: a create, replace or update naming a tag
// that is not the user's is refused naming tag_ids, and changes no row,
// count or event.
func TestForeignTagIDsWriteNothing(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		tasks, tags := newTasks(gdb, 10), newTags(gdb, 10)
		mine, err := tags.Create(ctx, "u", models.TagInput{Name: "mine"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := tags.Create(ctx, "other", models.TagInput{Name: "theirs"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "kept", TagIDs: []string{mine.ID}})
		before := latestEvent(t, gdb, "u")
		requireTagIDsRefused := func(what string, err error) {
			t.Helper()
			var modelErr *models.Error
			requireErrorCode(t, err, models.CodeInvalid)
			if !errorAs(err, &modelErr) || len(modelErr.Fields) != 1 || modelErr.Fields[0].Field != "tag_ids" {
				t.Fatalf("%s: %v, want a problem naming tag_ids", what, err)
			}
		}
		for _, ids := range [][]string{{theirs.ID}, {mine.ID, theirs.ID}, {"no-such-tag"}} {
			_, err := tasks.Create(ctx, "u", models.TaskInput{Title: "new", Priority: models.PriorityLow, TagIDs: ids}, nil)
			requireTagIDsRefused("create", err)
			_, err = tasks.Replace(ctx, "u", task.ID, models.TaskInput{Title: "replaced", Priority: models.PriorityHigh, TagIDs: ids}, nil, nil)
			requireTagIDsRefused("replace", err)
			title := "patched"
			_, err = tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &title, TagIDsSet: true, TagIDs: ids}, &models.Precondition{Versions: []int64{1}}, nil)
			requireTagIDsRefused("update", err)
		}
		got, err := tasks.Get(ctx, "u", task.ID)
		if err != nil || got.Title != "kept" || got.Version != 1 || len(got.Tags) != 1 || got.Tags[0].ID != mine.ID || got.Tags[0].TaskCount != 1 {
			t.Fatalf("task after the refusals = %+v, %v", got, err)
		}
		if after := latestEvent(t, gdb, "u"); after != before {
			t.Errorf("refused writes recorded events: %d -> %d", before, after)
		}
		requireCounts(t, gdb, "u", 1, 1)
		theirTag, err := tags.Get(ctx, "other", theirs.ID)
		if err != nil || theirTag.TaskCount != 0 {
			t.Fatalf("the other user's tag = %+v, %v", theirTag, err)
		}
	})
}

// TestModifyAnswersAndEvents: 404 before 412 before 422; a write that
// changes nothing keeps the version and records nothing; one that changes
// something records an event whose data is the answer, tags and counts
// included.
func TestModifyAnswersAndEvents(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		tasks, tags := newTasks(gdb, 10), newTags(gdb, 10)
		a, _ := tags.Create(ctx, "u", models.TagInput{Name: "<a> & \"b\""}, nil)
		b, _ := tags.Create(ctx, "u", models.TagInput{Name: "B"}, nil)
		other, _ := tags.Create(ctx, "x", models.TagInput{Name: "x"}, nil)
		mustCreate(t, tasks, "u", models.TaskInput{Title: "holds b", TagIDs: []string{b.ID}})
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "t", TagIDs: []string{a.ID}})
		title := "t2"

		_, err := tasks.Update(ctx, "u", "missing", models.TaskPatch{Title: &title}, &models.Precondition{Versions: []int64{1}}, nil)
		requireErrorCode(t, err, models.CodeNotFound)
		_, err = tasks.Replace(ctx, "u", "missing", models.TaskInput{Title: "r", Priority: models.PriorityLow, TagIDs: []string{other.ID}}, &models.Precondition{}, nil)
		requireErrorCode(t, err, models.CodeNotFound)
		_, err = tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &title, TagIDsSet: true, TagIDs: []string{other.ID}}, &models.Precondition{Versions: []int64{2}}, nil)
		requireErrorCode(t, err, models.CodePreconditionFailed)
		_, err = tasks.Replace(ctx, "u", task.ID, models.TaskInput{Title: "r", Priority: models.PriorityLow}, &models.Precondition{}, nil)
		requireErrorCode(t, err, models.CodePreconditionFailed)

		before := latestEvent(t, gdb, "u")
		same := "t"
		noop, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &same, TagIDsSet: true, TagIDs: []string{a.ID, a.ID}}, &models.Precondition{Versions: []int64{1}}, nil)
		if err != nil || noop.Version != 1 || !noop.UpdatedAt.Equal(task.UpdatedAt) || len(noop.Tags) != 1 || noop.Tags[0].TaskCount != 1 {
			t.Fatalf("no-op update = %+v, %v", noop, err)
		}
		if after := latestEvent(t, gdb, "u"); after != before {
			t.Fatalf("a no-op recorded an event: %d -> %d", before, after)
		}

		replaced, err := tasks.Replace(ctx, "u", task.ID, models.TaskInput{Title: "r", Completed: true, Priority: models.PriorityHigh,
			TagIDs: []string{b.ID}}, &models.Precondition{Any: true}, nil)
		if err != nil || replaced.Version != 2 || replaced.CompletedAt == nil || len(replaced.Tags) != 1 ||
			replaced.Tags[0].ID != b.ID || replaced.Tags[0].TaskCount != 2 {
			t.Fatalf("replace = %+v, %v", replaced, err)
		}
		got, err := tasks.Get(ctx, "u", task.ID)
		if err != nil || string(got.AppendJSON(nil)) != string(replaced.AppendJSON(nil)) {
			t.Fatalf("read back %s\nanswered  %s (%v)", got.AppendJSON(nil), replaced.AppendJSON(nil), err)
		}
		patched, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{TagIDsSet: true, TagIDs: []string{a.ID, b.ID}}, nil, nil)
		if err != nil || patched.Version != 3 || len(patched.Tags) != 2 || patched.Tags[0].ID != a.ID ||
			patched.Tags[0].TaskCount != 1 || patched.Tags[1].TaskCount != 2 || patched.CompletedAt == nil ||
			!patched.CompletedAt.Equal(*replaced.CompletedAt) {
			t.Fatalf("update of the tags = %+v, %v", patched, err)
		}
		events, err := database.NewEvents(gdb).After(ctx, "u", before)
		if err != nil || len(events) != 2 {
			t.Fatalf("events after %d: %+v, %v", before, events, err)
		}
		for i, answer := range []models.Task{replaced, patched} {
			want := `{"id":"` + answer.ID + `","task":` + string(answer.AppendJSON(nil)) + `}`
			if events[i].Type != models.EventTaskUpdated || string(events[i].Data) != want {
				t.Errorf("event %d: %s %s\nwant task.updated %s", i, events[i].Type, events[i].Data, want)
			}
		}
	})
}

func errorAs(err error, target **models.Error) bool { return errors.As(err, target) }

// TestConcurrentWritesToOneTask: replaces racing on one task each apply
// whole, one after the other (the task ends with one writer's title and
// that writer's tags, every version used once); of writers sending the
// same If-Match, exactly one wins and the others get 412.
func TestConcurrentWritesToOneTask(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		const writers = 10
		tasks, tags := newTasks(gdb, 10), newTags(gdb, writers)
		var tagIDs []string
		for i := range writers {
			tag, err := tags.Create(ctx, "u", models.TagInput{Name: fmt.Sprint("tag ", i)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			tagIDs = append(tagIDs, tag.ID)
		}
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "start", TagIDs: tagIDs[:2]})
		versions := make([]int64, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := tasks.Replace(ctx, "u", task.ID, models.TaskInput{Title: fmt.Sprint("by ", i), Priority: models.PriorityLow,
					TagIDs: []string{tagIDs[i], tagIDs[(i+1)%writers]}}, nil, nil)
				if err != nil {
					t.Errorf("replace %d: %v", i, err)
					return
				}
				versions[i] = got.Version
			}()
		}
		wg.Wait()
		got, err := tasks.Get(ctx, "u", task.ID)
		if err != nil {
			t.Fatal(err)
		}
		var i int
		if _, err := fmt.Sscanf(got.Title, "by %d", &i); err != nil || len(got.Tags) != 2 {
			t.Fatalf("task after the race: %+v", got)
		}
		if want := map[string]bool{tagIDs[i]: true, tagIDs[(i+1)%writers]: true}; !want[got.Tags[0].ID] || !want[got.Tags[1].ID] {
			t.Errorf("task %q carries %s and %s, not its writer's tags", got.Title, got.Tags[0].Name, got.Tags[1].Name)
		}
		if got.Version != 1+writers {
			t.Errorf("version %d after %d changes, want %d", got.Version, writers, 1+writers)
		}
		seen := map[int64]bool{}
		for _, v := range versions {
			seen[v] = true
		}
		if len(seen) != writers {
			t.Errorf("versions answered %v: some writers saw the same version", versions)
		}
		list, err := tags.List(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		var links int64
		for _, tag := range list.Items {
			links += tag.TaskCount
		}
		if links != 2 {
			t.Errorf("the tags count %d links, want 2", links)
		}

		wins, refusals := 0, 0
		var mu sync.Mutex
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				title := fmt.Sprint("if-match ", i)
				_, err := tasks.Update(ctx, "u", task.ID, models.TaskPatch{Title: &title}, &models.Precondition{Versions: []int64{got.Version}}, nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case models.ErrorCode(err) == models.CodePreconditionFailed:
					refusals++
				default:
					t.Errorf("update %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || refusals != writers-1 {
			t.Errorf("same If-Match from %d writers: %d won, %d refused; want 1 and %d", writers, wins, refusals, writers-1)
		}
	})
}

// TestCreateEventsAreTheAnswers: the events of task and tag creates and of
// a tag's update carry, byte for byte, the answer the write returned,
// awkward names and counts included.
func TestCreateEventsAreTheAnswers(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		ctx := context.Background()
		gdb := openAuthDB(t, db)
		tasks, tags := newTasks(gdb, 10), newTags(gdb, 10)
		color := "#00ff7f"
		a, err := tags.Create(ctx, "u", models.TagInput{Name: "a <&> \"quoted\" \u2028 ✓", Color: &color}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tags.Create(ctx, "u", models.TagInput{Name: "B\ttab"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mustCreate(t, tasks, "u", models.TaskInput{Title: "first", TagIDs: []string{b.ID}})
		task := mustCreate(t, tasks, "u", models.TaskInput{Title: "line\nbreak \\ \x01", Description: "<script>", Completed: true,
			Priority: models.PriorityHigh, TagIDs: []string{b.ID, a.ID}})
		if len(task.Tags) != 2 || task.Tags[0].ID != a.ID || task.Tags[0].TaskCount != 1 || task.Tags[1].TaskCount != 2 {
			t.Fatalf("created task's tags: %+v", task.Tags)
		}
		name := "renamed"
		renamed, err := tags.Update(ctx, "u", b.ID, models.TagPatch{Name: &name, ColorSet: true}, nil)
		if err != nil || renamed.TaskCount != 2 || renamed.Color != nil {
			t.Fatalf("renamed tag = %+v, %v", renamed, err)
		}
		events, err := database.NewEvents(gdb).After(ctx, "u", 0)
		if err != nil || len(events) != 5 {
			t.Fatalf("events: %+v, %v", events, err)
		}
		want := []struct {
			typ  models.EventType
			kind string
			id   string
			json []byte
		}{
			{models.EventTagCreated, "tag", a.ID, a.AppendJSON(nil)},
			{models.EventTagCreated, "tag", b.ID, b.AppendJSON(nil)},
			{models.EventTaskCreated, "task", "", nil},
			{models.EventTaskCreated, "task", task.ID, task.AppendJSON(nil)},
			{models.EventTagUpdated, "tag", b.ID, renamed.AppendJSON(nil)},
		}
		for i, w := range want {
			if w.json == nil {
				continue
			}
			data := `{"id":"` + w.id + `","` + w.kind + `":` + string(w.json) + `}`
			if events[i].Type != w.typ || string(events[i].Data) != data {
				t.Errorf("event %d: %s %s\nwant %s %s", i, events[i].Type, events[i].Data, w.typ, data)
			}
		}
	})
}
