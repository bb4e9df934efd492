package database

import (
	"context"

	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresTags is the tag store on PostgreSQL: every write is one
// statement, one round trip, with its event, its count and, for a request
// with an Idempotency-Key, its answer (see PostgresTasks).
type PostgresTags struct {
	tagReads
	maxPerUser int
}

// NewPostgresTags returns the tag store over db, a PostgreSQL database; a
// user may own at most maxPerUser tags.
func NewPostgresTags(db *gorm.DB, maxPerUser int) *PostgresTags {
	return &PostgresTags{tagReads: tagReads{db: db}, maxPerUser: maxPerUser}
}

// Create adds a tag for the user in one statement (pgCreateTag): a name
// the user already has, ignoring case, is a conflict; a user at the cap is
// refused. The tag.created event and the user's tag count go with the
// insert.
func (s *PostgresTags) Create(ctx context.Context, userID string, in models.TagInput, k *models.Keyed) (models.Tag, error) {
	tag, err := newTag(in)
	if err != nil {
		return models.Tag{}, classify(err)
	}
	keyed, keyArgs := pgKeyed(k, userID, "t", "t.id", "0", pgTagJSON("t", "0"))
	args := []any{userID, s.maxPerUser, s.maxPerUser,
		tag.ID, userID, tag.Name, nameKey(tag.Name), tag.Color, tag.CreatedAt, tag.CreatedAt,
		userID, string(models.EventTagCreated), storeTime(), userID}
	args = append(append(args, keyArgs...), userID, nameKey(tag.Name))
	var created, notified int64
	var nameTaken bool
	err = scanOne(s.db.WithContext(ctx), []any{&created, &notified, &nameTaken}, pgCreateTag+keyed+pgCreateTagResult, args...)
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
	if k != nil {
		k.Recorded = true
	}
	return tag, nil
}

// pgCreateTag creates a tag under the cap, with its event, in one
// statement. The counter upsert (s) admits it: its WHERE is evaluated
// against the latest committed version of the user's counter row, after
// waiting for any write holding it, so of concurrent creates at cap-1 only
// one passes (a count(*) in the statement would read the statement's
// snapshot and let several through). Nothing else is written without s's
// row. A duplicate name fails the tags insert and so the whole statement.
// The last column of its result (pgCreateTagResult) tells a refusal at
// the cap from a name already taken (read from the snapshot, only to pick
// the error).
var pgCreateTag = `WITH s AS (INSERT INTO event_counters (user_id, seq, tasks, tags) SELECT ?, 1, 0, 1 WHERE CAST(? AS bigint) > 0
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1, tags = event_counters.tags + 1
		WHERE event_counters.tags < ? RETURNING seq),
	t AS (INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ? FROM s RETURNING id, name, color, created_at),
	e AS (INSERT INTO events (user_id, seq, type, data, created_at)
		SELECT ?, s.seq, ?, ` + pgEventData("t.id", "tag", pgTagJSON("t", "0")) + `, ? FROM s CROSS JOIN t RETURNING seq),
	n AS (SELECT pg_notify('` + EventChannel + `', CAST(? AS text) || ' ' || seq) FROM e)`

const pgCreateTagResult = `
	SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM n),
		EXISTS (SELECT 1 FROM tags WHERE user_id = ? AND name_key = ?)`

// Update renames or recolours one of the user's tags and records
// tag.updated, in one statement: the update, its event and the tag read
// back with its task count (counted in the statement's snapshot). A patch
// that sends nothing changes nothing (and costs the read of Get).
func (s *PostgresTags) Update(ctx context.Context, userID, id string, p models.TagPatch, k *models.Keyed) (models.Tag, error) {
	update, args := tagUpdate(userID, id, p)
	if update == "" {
		return s.Get(ctx, userID, id)
	}
	keyed, keyArgs := pgKeyed(k, userID, "c", "c.id", "0", pgTagJSON("c", "c.task_count"))
	tags, err := queryTags(s.db.WithContext(ctx), `WITH u AS (`+update+` RETURNING id, name, color, created_at),
		c AS (SELECT u.id, u.name, u.color, u.created_at, (SELECT count(*) FROM task_tags tc WHERE tc.tag_id = u.id) AS task_count FROM u),
		s AS (INSERT INTO event_counters (user_id, seq) SELECT ?, 1 FROM u
			ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1 RETURNING seq),
		e AS (INSERT INTO events (user_id, seq, type, data, created_at)
			SELECT ?, s.seq, ?, `+pgEventData("c.id", "tag", pgTagJSON("c", "c.task_count"))+`, ? FROM s CROSS JOIN c RETURNING seq),
		n AS (SELECT pg_notify('`+EventChannel+`', CAST(? AS text) || ' ' || seq) FROM e)`+keyed+`
		SELECT c.id, c.name, c.color, c.created_at, c.task_count FROM c WHERE (SELECT count(*) FROM n) >= 0`,
		append(append(args, userID, userID, string(models.EventTagUpdated), storeTime(), userID), keyArgs...)...)
	if err != nil {
		return models.Tag{}, tagWriteError(err, patchedName(p))
	}
	if len(tags) == 0 {
		return models.Tag{}, errTagNotFound()
	}
	if k != nil {
		k.Recorded = true
	}
	return tags[0], nil
}

// Delete removes one of the user's tags and records tag.deleted, in one
// statement (the delete, the count and the event); the database removes
// it from its tasks (the links cascade) and leaves the tasks, which get no
// event of their own.
func (s *PostgresTags) Delete(ctx context.Context, userID, id string, k *models.Keyed) error {
	deleted, err := pgDelete(s.db.WithContext(ctx), userID, "tags", models.EventTagDeleted, deletedEventData(id), k,
		"DELETE FROM tags WHERE id = ? AND user_id = ? RETURNING id", id, userID)
	if err != nil {
		return classify(err)
	}
	if !deleted {
		return errTagNotFound()
	}
	return nil
}
