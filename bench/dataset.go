package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"taskflow/models/position"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// seedBase is the fixed "now" of the dataset: every seeded row is created
// before it, every row the benchmark creates after it, so restoring the
// dataset is deleting what came later.
var seedBase = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// seedSeed fixes the random generator, so two runs seed the same rows.
const seedSeed = 20250601

// shape is the size of a dataset.
type shape struct {
	Users        int `json:"users"`
	TasksPerUser int `json:"tasks_per_user"`
	TagsPerUser  int `json:"tags_per_user"`
}

var (
	fullShape  = shape{Users: 51, TasksPerUser: 200, TagsPerUser: 5}
	quickShape = shape{Users: 8, TasksPerUser: 60, TagsPerUser: 5}
)

type seedUser struct {
	ID     string
	Email  string
	TagIDs []string
	// Sample is a few of the user's task ids, for get and patch requests.
	Sample []string
}

type seedTask struct {
	ID, UserID, Title, Description string
	Completed                      bool
	Priority                       int16
	Due, CompletedAt               *time.Time
	Created                        time.Time
	TagIDs                         []string
}

type seedTag struct {
	ID, UserID, Name, Color string
	Created                 time.Time
}

// dataset is the whole seeded content, generated from seedSeed alone.
type dataset struct {
	Users []seedUser
	Tasks []seedTask
	Tags  []seedTag
}

var (
	tagNames  = []string{"Work", "Home", "Urgent", "Errand", "Later", "Health", "Money", "Reading"}
	tagColors = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}
	verbs     = []string{"Plan", "Review", "Write", "Call", "Fix", "Book", "Send", "Prepare", "Clean", "Check"}
	objects   = []string{"the quarterly report", "dentist appointment", "team offsite", "garden fence",
		"invoice for March", "slides for Monday", "car insurance", "birthday present", "kitchen tap", "tax return"}
	words = strings.Fields(`the a to review plan budget meeting notes draft email follow up with
		about before after next week call back send order print update list share ask check confirm
		schedule and for on from project client family home office school`)
)

// sampleSize is how many task ids per user get and patch requests choose from.
const sampleSize = 20

// newDataset generates the rows of s. Ids are UUID v7 built from each row's
// creation time and the generator, so they sort by creation as the app's do.
func newDataset(s shape) dataset {
	rng := rand.New(rand.NewPCG(seedSeed, uint64(s.Users)))
	var d dataset
	for u := range s.Users {
		userCreated := seedBase.Add(-time.Duration(400+u) * 24 * time.Hour)
		user := seedUser{ID: uuidAt(rng, userCreated), Email: fmt.Sprintf("bench-user-%03d@example.com", u)}
		for g := range s.TagsPerUser {
			created := userCreated.Add(time.Duration(g+1) * time.Minute)
			tag := seedTag{ID: uuidAt(rng, created), UserID: user.ID, Created: created,
				Name: tagNames[g%len(tagNames)], Color: tagColors[g%len(tagColors)]}
			if g >= len(tagNames) {
				tag.Name = fmt.Sprintf("%s %d", tag.Name, g/len(tagNames))
			}
			d.Tags = append(d.Tags, tag)
			user.TagIDs = append(user.TagIDs, tag.ID)
		}
		for i := range s.TasksPerUser {
			task := newTask(rng, user, s.TasksPerUser-i)
			d.Tasks = append(d.Tasks, task)
		}
		first := len(d.Tasks) - s.TasksPerUser
		for _, i := range rng.Perm(s.TasksPerUser)[:min(sampleSize, s.TasksPerUser)] {
			user.Sample = append(user.Sample, d.Tasks[first+i].ID)
		}
		d.Users = append(d.Users, user)
	}
	return d
}

// newTask makes a user's task created hoursAgo hours (and a few random
// minutes) before seedBase, with 0 to 4 of the user's tags, 2 on average.
func newTask(rng *rand.Rand, user seedUser, hoursAgo int) seedTask {
	created := seedBase.Add(-time.Duration(hoursAgo)*time.Hour - time.Duration(rng.IntN(50))*time.Minute)
	t := seedTask{
		ID: uuidAt(rng, created), UserID: user.ID, Created: created,
		Title:       verbs[rng.IntN(len(verbs))] + " " + objects[rng.IntN(len(objects))],
		Description: sentence(rng, 8+rng.IntN(10)),
		Priority:    int16(rng.IntN(3)),
		Completed:   rng.IntN(10) < 3,
	}
	if rng.IntN(10) < 6 {
		due := created.Add(time.Duration(rng.IntN(60*24)) * time.Hour).Truncate(time.Hour)
		t.Due = &due
	}
	if t.Completed {
		done := created.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
		t.CompletedAt = &done
	}
	tagCounts := []int{0, 1, 1, 2, 2, 2, 2, 3, 3, 4} // mean 2
	n := min(tagCounts[rng.IntN(len(tagCounts))], len(user.TagIDs))
	for _, i := range rng.Perm(len(user.TagIDs))[:n] {
		t.TagIDs = append(t.TagIDs, user.TagIDs[i])
	}
	return t
}

func sentence(rng *rand.Rand, n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = words[rng.IntN(len(words))]
	}
	s := strings.Join(out, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// uuidAt is a UUID v7 for time t whose random bits come from rng.
func uuidAt(rng *rand.Rand, t time.Time) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], rng.Uint64())
	binary.BigEndian.PutUint64(u[0:], rng.Uint64())
	ms := uint64(t.UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 4122 variant
	return u.String()
}

// seedBatch is how many rows one INSERT carries: 500 tasks of 11 columns
// stay far below both databases' limits on parameters.
const seedBatch = 500

// seed inserts d with plain multi-row INSERTs, in one transaction.
func seed(ctx context.Context, db *gorm.DB, d dataset) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := insertRows(tx, "users (id, email, name, password_hash, created_at, updated_at)", len(d.Users), func(i int) []any {
			u := d.Users[i]
			created := seedBase.Add(-400 * 24 * time.Hour)
			// Not a usable hash: benchmark users never log in, they get tokens.
			return []any{u.ID, u.Email, "Bench user", "!bench-user-cannot-log-in", created, created}
		}); err != nil {
			return err
		}
		if err := insertRows(tx, "tags (id, user_id, name, name_key, color, created_at, updated_at)", len(d.Tags), func(i int) []any {
			g := d.Tags[i]
			return []any{g.ID, g.UserID, g.Name, strings.ToLower(g.Name), g.Color, g.Created, g.Created}
		}); err != nil {
			return err
		}
		positions := seedPositions(len(d.Tasks), func(i int) string { return d.Tasks[i].UserID })
		if err := insertRows(tx, "tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at, position)", len(d.Tasks), func(i int) []any {
			t := d.Tasks[i]
			updated := t.Created
			if t.CompletedAt != nil {
				updated = *t.CompletedAt
			}
			return []any{t.ID, t.UserID, t.Title, t.Description, t.Completed, t.Priority, t.Due, t.CompletedAt, 1, t.Created, updated, positions[i]}
		}); err != nil {
			return err
		}
		var links [][2]string
		for _, t := range d.Tasks {
			for _, tag := range t.TagIDs {
				links = append(links, [2]string{t.ID, tag})
			}
		}
		return insertRows(tx, "task_tags (task_id, tag_id)", len(links), func(i int) []any {
			return []any{links[i][0], links[i][1]}
		})
	})
}

// seedPositions gives each user's n seeded tasks, in order, evenly spaced
// positions among the user's inbox tasks: siblings' positions are unique.
func seedPositions(n int, userOf func(int) string) []string {
	count := map[string]int{}
	for i := range n {
		count[userOf(i)]++
	}
	keys := map[string][]string{}
	for user, c := range count {
		keys[user] = position.Spread(c)
	}
	out := make([]string, n)
	next := map[string]int{}
	for i := range n {
		user := userOf(i)
		out[i] = keys[user][next[user]]
		next[user]++
	}
	return out
}

// insertRows inserts n rows into target ("table (columns)") in batches;
// row(i) gives the values of row i.
func insertRows(tx *gorm.DB, target string, n int, row func(int) []any) error {
	for start := 0; start < n; start += seedBatch {
		end := min(start+seedBatch, n)
		var b strings.Builder
		var args []any
		b.WriteString("INSERT INTO " + target + " VALUES ")
		for i := start; i < end; i++ {
			values := row(i)
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", len(values)), ", ") + ")")
			args = append(args, values...)
		}
		if err := tx.Exec(b.String(), args...).Error; err != nil {
			return fmt.Errorf("seed %s: %w", target, err)
		}
	}
	return nil
}

// Restoring the dataset after a write workload: a copy of the seeded tasks
// is kept beside them, and restore deletes every later task (its links go
// by cascade) and puts back every changed one.
const (
	snapshotTasks = `CREATE TABLE bench_seed_tasks AS SELECT * FROM tasks`
	restoreTasks  = `DELETE FROM tasks WHERE created_at >= ?`
	restoreFields = `UPDATE tasks SET title = s.title, description = s.description, completed = s.completed,
		priority = s.priority, due_date = s.due_date, completed_at = s.completed_at, version = s.version,
		updated_at = s.updated_at FROM bench_seed_tasks s WHERE tasks.id = s.id AND tasks.version <> s.version`
)

func snapshot(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).Exec(snapshotTasks).Error
}

// restore undoes every write since the snapshot; on PostgreSQL it vacuums
// too, so index-only scans stay as cheap in every round.
func restore(ctx context.Context, db *gorm.DB, postgres bool) error {
	db = db.WithContext(ctx)
	if err := db.Exec(restoreTasks, seedBase).Error; err != nil {
		return fmt.Errorf("restore dataset: %w", err)
	}
	if err := db.Exec(restoreFields).Error; err != nil {
		return fmt.Errorf("restore dataset: %w", err)
	}
	if postgres {
		if err := db.Exec("VACUUM (ANALYZE) tasks, task_tags, tags").Error; err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
	}
	return nil
}
