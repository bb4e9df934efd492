package database

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// Tags stores users' tags. As with tasks, every statement filters on the
// owner's user id.
type Tags struct {
	db         *gorm.DB
	maxPerUser int
	announce   func(userID string) // see Tasks.Announcing
}

// NewTags returns the tag store over db; a user may own at most maxPerUser
// tags.
func NewTags(db *gorm.DB, maxPerUser int) *Tags {
	return &Tags{db: db, maxPerUser: maxPerUser}
}

// Announcing returns the store calling announce with the user's id after
// each write that recorded an event (see Tasks.Announcing).
func (s *Tags) Announcing(announce func(userID string)) *Tags {
	c := *s
	c.announce = announce
	return &c
}

func (s *Tags) announced(userID string) {
	if s.announce != nil {
		s.announce(userID)
	}
}

// tagColumns selects a tag (aliased tg) with its task count, computed in
// the same statement: links only ever join a user's task to the same
// user's tag, so counting links counts the owner's tasks.
const tagColumns = `tg.id, tg.name, tg.color, tg.created_at, (SELECT count(*) FROM task_tags tc WHERE tc.tag_id = tg.id)`

func errTagNotFound() error { return models.Errorf(models.CodeNotFound, "tag not found") }

func errTagNameTaken(name string, cause error) error {
	return &models.Error{Code: models.CodeConflict, Message: "you already have a tag named " + strconv.Quote(name), Cause: cause}
}

// List returns all the user's tags, sorted by name ignoring case, in one
// statement (one round trip).
func (s *Tags) List(ctx context.Context, userID string) (models.TagList, error) {
	tags, err := queryTags(session(ctx, s.db),
		`SELECT `+tagColumns+` FROM tags tg WHERE tg.user_id = ? ORDER BY tg.name_key, tg.id`, userID)
	if err != nil {
		return models.TagList{}, classify(err)
	}
	return models.TagList{Items: tags, Total: len(tags)}, nil
}

// Get returns one of the user's tags, in one statement (one round trip).
func (s *Tags) Get(ctx context.Context, userID, id string) (models.Tag, error) {
	tags, err := queryTags(session(ctx, s.db),
		`SELECT `+tagColumns+` FROM tags tg WHERE tg.id = ? AND tg.user_id = ?`, id, userID)
	if err != nil {
		return models.Tag{}, classify(err)
	}
	if len(tags) == 0 {
		return models.Tag{}, errTagNotFound()
	}
	return tags[0], nil
}

// Create adds a tag for the user: a name the user already has, ignoring
// case, is a conflict; a user at the cap is refused. The tag.created event
// and the user's tag count go with the insert.
//
// On PostgreSQL it is one statement, one round trip (pgCreateTag). On
// SQLite it is a transaction (its write transactions run one at a time, so
// counting the user's tags after the insert is safe): insert, count, event.
func (s *Tags) Create(ctx context.Context, userID string, in models.TagInput) (models.Tag, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return models.Tag{}, classify(err)
	}
	now := timestamp()
	tag := models.Tag{ID: id.String(), Name: in.Name, Color: in.Color, CreatedAt: now}
	db := session(ctx, s.db)
	if IsPostgres(db) {
		var created, notified int64
		var nameTaken bool
		err := scanOne(db, []any{&created, &notified, &nameTaken}, pgCreateTag,
			userID, s.maxPerUser, s.maxPerUser,
			tag.ID, userID, tag.Name, nameKey(tag.Name), tag.Color, now, now,
			userID, string(models.EventTagCreated), storeTime(), userID,
			userID, nameKey(tag.Name))
		switch {
		case err != nil:
			return models.Tag{}, tagWriteError(err, in.Name)
		case created == 0 && nameTaken:
			// At the cap, the insert did not run to meet the unique index:
			// the name is still the first thing wrong with the request.
			return models.Tag{}, errTagNameTaken(in.Name, nil)
		case created == 0:
			return models.Tag{}, capError(int64(s.maxPerUser)+1, s.maxPerUser, "tags")
		}
		s.announced(userID)
		return tag, nil
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tag.ID, userID, tag.Name, nameKey(tag.Name), tag.Color, now, now).Error
		if err != nil {
			return err
		}
		if err := checkCap(tx, "tags", userID, s.maxPerUser); err != nil {
			return err
		}
		data, err := tagEventData(tag)
		if err != nil {
			return err
		}
		return recordEvent(tx, userID, models.EventTagCreated, data, 0, 1)
	})
	if err != nil {
		return models.Tag{}, tagWriteError(err, in.Name)
	}
	s.announced(userID)
	return tag, nil
}

// pgCreateTag creates a tag under the cap, with its event, in one
// statement. The counter upsert (s) admits it: its WHERE is evaluated
// against the latest committed version of the user's counter row, after
// waiting for any write holding it, so of concurrent creates at cap-1 only
// one passes (a count(*) in the statement would read the statement's
// snapshot and let several through). Nothing else is written without s's
// row. A duplicate name fails the tags insert and so the whole statement.
// The last column tells a refusal at the cap from a name already taken
// (read from the snapshot, only to pick the error).
var pgCreateTag = `WITH s AS (INSERT INTO event_counters (user_id, seq, tasks, tags) SELECT ?, 1, 0, 1 WHERE CAST(? AS bigint) > 0
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1, tags = event_counters.tags + 1
		WHERE event_counters.tags < ? RETURNING seq),
	t AS (INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ? FROM s RETURNING id, name, color, created_at),
	e AS (INSERT INTO events (user_id, seq, type, data, created_at)
		SELECT ?, s.seq, ?, ` + pgEventData("t.id", "tag", pgTagJSON("t", "0")) + `, ? FROM s CROSS JOIN t RETURNING seq),
	n AS (SELECT pg_notify('` + EventChannel + `', CAST(? AS text) || ' ' || seq) FROM e)
	SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM n),
		EXISTS (SELECT 1 FROM tags WHERE user_id = ? AND name_key = ?)`

// Update renames or recolours one of the user's tags and records
// tag.updated. A patch that sends nothing changes nothing (and costs the
// read of Get). On PostgreSQL it is one statement, one round trip: the
// update, its event and the tag read back with its task count (counted in
// the statement's snapshot). On SQLite it is a transaction: update, read
// back, event.
func (s *Tags) Update(ctx context.Context, userID, id string, p models.TagPatch) (models.Tag, error) {
	var sets []string
	var args []any
	if p.Name != nil {
		sets = append(sets, "name = ?", "name_key = ?")
		args = append(args, *p.Name, nameKey(*p.Name))
	}
	if p.ColorSet {
		sets = append(sets, "color = ?")
		args = append(args, p.Color)
	}
	if len(sets) == 0 {
		return s.Get(ctx, userID, id)
	}
	sets = append(sets, "updated_at = ?")
	args = append(args, timestamp(), id, userID)
	update := "UPDATE tags SET " + strings.Join(sets, ", ") + " WHERE id = ? AND user_id = ?"
	name := ""
	if p.Name != nil {
		name = *p.Name
	}
	db := session(ctx, s.db)
	if IsPostgres(db) {
		tags, err := queryTags(db, `WITH u AS (`+update+` RETURNING id, name, color, created_at),
			c AS (SELECT u.id, u.name, u.color, u.created_at, (SELECT count(*) FROM task_tags tc WHERE tc.tag_id = u.id) AS task_count FROM u),
			s AS (INSERT INTO event_counters (user_id, seq) SELECT ?, 1 FROM u
				ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1 RETURNING seq),
			e AS (INSERT INTO events (user_id, seq, type, data, created_at)
				SELECT ?, s.seq, ?, `+pgEventData("c.id", "tag", pgTagJSON("c", "c.task_count"))+`, ? FROM s CROSS JOIN c RETURNING seq),
			n AS (SELECT pg_notify('`+EventChannel+`', CAST(? AS text) || ' ' || seq) FROM e)
			SELECT c.id, c.name, c.color, c.created_at, c.task_count FROM c WHERE (SELECT count(*) FROM n) >= 0`,
			append(args, userID, userID, string(models.EventTagUpdated), storeTime(), userID)...)
		if err != nil {
			return models.Tag{}, tagWriteError(err, name)
		}
		if len(tags) == 0 {
			return models.Tag{}, errTagNotFound()
		}
		s.announced(userID)
		return tags[0], nil
	}
	var tag models.Tag
	err := db.Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(update, args...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errTagNotFound()
		}
		tags, err := queryTags(tx, `SELECT `+tagColumns+` FROM tags tg WHERE tg.id = ? AND tg.user_id = ?`, id, userID)
		if err != nil {
			return err
		}
		if len(tags) == 0 {
			return errTagNotFound()
		}
		tag = tags[0]
		data, err := tagEventData(tag)
		if err != nil {
			return err
		}
		return recordEvent(tx, userID, models.EventTagUpdated, data, 0, 0)
	})
	if err != nil {
		return models.Tag{}, tagWriteError(err, name)
	}
	s.announced(userID)
	return tag, nil
}

// Delete removes one of the user's tags and records tag.deleted; the
// database removes it from its tasks (the links cascade) and leaves the
// tasks, which get no event of their own. On PostgreSQL it is one
// statement (the delete, the count and the event), one round trip; on
// SQLite a transaction.
func (s *Tags) Delete(ctx context.Context, userID, id string) error {
	deleted, err := deleteWithEvent(session(ctx, s.db), userID, "tags", models.EventTagDeleted, deletedEventData(id),
		"DELETE FROM tags WHERE id = ? AND user_id = ? RETURNING id", id, userID)
	if err != nil {
		return classify(err)
	}
	if !deleted {
		return errTagNotFound()
	}
	s.announced(userID)
	return nil
}

func tagWriteError(err error, name string) error {
	err = classify(err)
	if models.ErrorCode(err) == models.CodeConflict {
		return errTagNameTaken(name, err)
	}
	return err
}

func queryTags(db *gorm.DB, query string, args ...any) ([]models.Tag, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []models.Tag{}
	for rows.Next() {
		tag, err := scanTag(rows)
		if err != nil {
			return nil, err
		}
		tags = append(tags, tag)
	}
	return tags, rows.Err()
}

// scanTag scans tagColumns, after the leading columns given.
func scanTag(rows *sql.Rows, leading ...any) (models.Tag, error) {
	var t models.Tag
	var color sql.NullString
	dest := append(leading, &t.ID, &t.Name, &color, &t.CreatedAt, &t.TaskCount)
	if err := rows.Scan(dest...); err != nil {
		return t, err
	}
	if color.Valid {
		t.Color = &color.String
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

// nameKey is the form of a tag name that must be unique per user.
func nameKey(name string) string { return strings.ToLower(name) }
