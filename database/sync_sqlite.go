package database

import (
	"context"

	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteSync reads syncs on SQLite: the head first, then each kind's
// changes after the cursor up to the head, then the objects themselves.
type SQLiteSync struct{ db *gorm.DB }

// NewSQLiteSync returns the sync reader over db, an SQLite database.
func NewSQLiteSync(db *gorm.DB) *SQLiteSync { return &SQLiteSync{db: db} }

// AppendSyncJSON appends the page of userID's changes after cursor (nil:
// from the start, full) to dst, at most limit of them.
func (s *SQLiteSync) AppendSyncJSON(ctx context.Context, dst []byte, userID string, cursor *int64, limit int) ([]byte, error) {
	db := s.db.WithContext(ctx)
	h, err := readSyncHead(db, userID)
	if err != nil {
		return dst, classify(err)
	}
	from, full, err := syncFrom(cursor, h)
	if err != nil {
		return dst, err
	}
	var changes []models.SyncChange
	for _, table := range []string{"tasks", "tags", "projects"} {
		var rows []struct {
			ID  string
			Seq int64
		}
		err := db.Raw("SELECT id, seq FROM "+table+" WHERE user_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
			userID, from, h.latest, limit+1).Scan(&rows).Error
		if err != nil {
			return dst, classify(err)
		}
		for _, r := range rows {
			changes = append(changes, models.SyncChange{Seq: r.Seq, Kind: object{table: table}.kind(), ID: r.ID})
		}
	}
	if !full { // a full copy needs no deletions of what it never held
		var gone []struct {
			Kind, ObjectID string
			Seq            int64
		}
		err := db.Raw("SELECT kind, object_id, seq FROM tombstones WHERE user_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
			userID, from, h.latest, limit+1).Scan(&gone).Error
		if err != nil {
			return dst, classify(err)
		}
		for _, g := range gone {
			changes = append(changes, models.SyncChange{Seq: g.Seq, Kind: g.Kind, ID: g.ObjectID, Deleted: true})
		}
	}
	page := syncPage(changes, limit, h, full)
	if page.Changes, err = s.encode(db, userID, page.Changes); err != nil {
		return dst, classify(err)
	}
	return page.AppendJSON(dst), nil
}

// encode fills in the JSON of every change that is an object. An object
// deleted since its change was read is left out: its tombstone comes in
// a later page.
func (s *SQLiteSync) encode(db *gorm.DB, userID string, changes []models.SyncChange) ([]models.SyncChange, error) {
	ids := map[string][]string{}
	for _, c := range changes {
		if !c.Deleted {
			ids[c.Kind] = append(ids[c.Kind], c.ID)
		}
	}
	encoded := map[string][]byte{}
	if len(ids["task"]) > 0 {
		tasks, err := queryTasks(db, "SELECT "+taskColumns+" FROM tasks WHERE user_id = ? AND id IN ?", userID, ids["task"])
		if err != nil {
			return nil, err
		}
		if err := attachTags(db, userID, tasks); err != nil {
			return nil, err
		}
		for _, t := range tasks {
			encoded["task "+t.ID] = t.AppendJSON(nil)
		}
	}
	if len(ids["tag"]) > 0 {
		tags, err := queryTags(db, "SELECT "+tagColumns+" FROM tags tg WHERE tg.user_id = ? AND tg.id IN ?", userID, ids["tag"])
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			encoded["tag "+t.ID] = t.AppendJSON(nil)
		}
	}
	if len(ids["project"]) > 0 {
		projects, err := queryProjects(db, "SELECT "+projectColumns+" FROM projects p WHERE p.user_id = ? AND p.id IN ?", userID, ids["project"])
		if err != nil {
			return nil, err
		}
		for _, p := range projects {
			encoded["project "+p.ID] = p.AppendJSON(nil)
		}
	}
	kept := changes[:0]
	for _, c := range changes {
		if !c.Deleted {
			if c.JSON = encoded[c.Kind+" "+c.ID]; c.JSON == nil {
				continue
			}
		}
		kept = append(kept, c)
	}
	return kept, nil
}
