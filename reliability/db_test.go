package reliability

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/database"
)

// openDirect opens the test's database without going through the app or
// a proxy, to check what really got stored.
func openDirect(t testing.TB, url string) *gorm.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Options{URL: url, MaxOpenConns: 2, MaxIdleConns: 2, ConnMaxLifetime: time.Minute, ConnMaxIdleTime: time.Minute})
	if err != nil {
		t.Fatalf("open the database directly: %v", err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}

// missingTasks returns the ids among ids that have no row in tasks.
func missingTasks(t testing.TB, db *gorm.DB, ids []string) []string {
	t.Helper()
	found := map[string]bool{}
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		var present []string
		if err := db.Raw("SELECT id FROM tasks WHERE id IN ?", batch).Scan(&present).Error; err != nil {
			t.Fatalf("look up tasks: %v", err)
		}
		for _, id := range present {
			found[id] = true
		}
	}
	var missing []string
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

// storedTask is what the tests check of a stored task.
type storedTask struct {
	UserID    string
	Completed bool
}

// storedTasks maps every task id to its owner and completion.
func storedTasks(t testing.TB, db *gorm.DB) map[string]storedTask {
	t.Helper()
	var rows []struct {
		ID        string
		UserID    string
		Completed bool
	}
	if err := db.Raw("SELECT id, user_id, completed FROM tasks").Scan(&rows).Error; err != nil {
		t.Fatalf("read tasks: %v", err)
	}
	tasks := make(map[string]storedTask, len(rows))
	for _, r := range rows {
		tasks[r.ID] = storedTask{UserID: r.UserID, Completed: r.Completed}
	}
	return tasks
}

// taskTitles returns the titles of every stored task.
func taskTitles(t testing.TB, db *gorm.DB) map[string]bool {
	t.Helper()
	var titles []string
	if err := db.Raw("SELECT title FROM tasks").Scan(&titles).Error; err != nil {
		t.Fatalf("read task titles: %v", err)
	}
	set := make(map[string]bool, len(titles))
	for _, title := range titles {
		set[title] = true
	}
	return set
}
