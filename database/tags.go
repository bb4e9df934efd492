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
// statement.
func (s *Tags) List(ctx context.Context, userID string) (models.TagList, error) {
	tags, err := queryTags(session(ctx, s.db),
		`SELECT `+tagColumns+` FROM tags tg WHERE tg.user_id = ? ORDER BY tg.name_key, tg.id`, userID)
	if err != nil {
		return models.TagList{}, classify(err)
	}
	return models.TagList{Items: tags, Total: len(tags)}, nil
}

// Get returns one of the user's tags.
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
// case, is a conflict; the cap is checked after the insert, in its
// transaction, which also records tag.created.
func (s *Tags) Create(ctx context.Context, userID string, in models.TagInput) (models.Tag, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return models.Tag{}, classify(err)
	}
	now := timestamp()
	tag := models.Tag{ID: id.String(), Name: in.Name, Color: in.Color, CreatedAt: now}
	err = session(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, lockClassTags, userID); err != nil {
			return err
		}
		err := insertUnderCap(tx, "tags", userID, s.maxPerUser,
			`INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tag.ID, userID, tag.Name, nameKey(tag.Name), tag.Color, now, now)
		if err != nil {
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

// Update renames or recolours one of the user's tags and records
// tag.updated, in one transaction: the update, the tag read back (with its
// task count) and the event. A patch that sends nothing changes nothing.
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
	var tag models.Tag
	err := session(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE tags SET "+strings.Join(sets, ", ")+" WHERE id = ? AND user_id = ?", args...)
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
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		return models.Tag{}, tagWriteError(err, name)
	}
	s.announced(userID)
	return tag, nil
}

// Delete removes one of the user's tags and records tag.deleted; the
// database removes it from its tasks (the links cascade) and leaves the
// tasks, which get no event of their own. On PostgreSQL it is one
// statement.
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
