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

// The tag stores: PostgresTags (tags_postgres.go), whose every write is
// one statement, and SQLiteTags (tags_sqlite.go), whose writes are
// transactions. As with tasks, every statement filters on the owner's user
// id. The reads, the columns and the errors they share are here.

// tagReads are the reads both engines run alike.
type tagReads struct{ db *gorm.DB }

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
func (s tagReads) List(ctx context.Context, userID string) (models.TagList, error) {
	tags, err := queryTags(s.db.WithContext(ctx),
		`SELECT `+tagColumns+` FROM tags tg WHERE tg.user_id = ? ORDER BY tg.name_key, tg.id`, userID)
	if err != nil {
		return models.TagList{}, classify(err)
	}
	return models.TagList{Items: tags, Total: len(tags)}, nil
}

// Get returns one of the user's tags, in one statement (one round trip).
func (s tagReads) Get(ctx context.Context, userID, id string) (models.Tag, error) {
	tags, err := queryTags(s.db.WithContext(ctx),
		`SELECT `+tagColumns+` FROM tags tg WHERE tg.id = ? AND tg.user_id = ?`, id, userID)
	if err != nil {
		return models.Tag{}, classify(err)
	}
	if len(tags) == 0 {
		return models.Tag{}, errTagNotFound()
	}
	return tags[0], nil
}

// newTag is the tag a create stores: a new id (UUID v7).
func newTag(in models.TagInput) (models.Tag, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return models.Tag{}, err
	}
	return models.Tag{ID: id.String(), Name: in.Name, Color: in.Color, CreatedAt: timestamp()}, nil
}

// tagUpdate is the UPDATE of a patch and its arguments; "" when the patch
// sends nothing to change.
func tagUpdate(userID, id string, p models.TagPatch) (string, []any) {
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
		return "", nil
	}
	sets = append(sets, "updated_at = ?")
	args = append(args, timestamp(), id, userID)
	return "UPDATE tags SET " + strings.Join(sets, ", ") + " WHERE id = ? AND user_id = ?", args
}

// patchedName is the name a patch sets, for the error of a name taken.
func patchedName(p models.TagPatch) string {
	if p.Name != nil {
		return *p.Name
	}
	return ""
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
