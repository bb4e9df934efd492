package database

import (
	"context"

	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteTags is the tag store on SQLite: every write is a transaction,
// announced to the change feed once committed (see SQLiteTasks).
type SQLiteTags struct {
	tagReads
	maxPerUser int
	announce   func(userID string)
}

// NewSQLiteTags returns the tag store over db, an SQLite database; a user
// may own at most maxPerUser tags. announce (may be nil) is told the user
// of every committed write that recorded an event.
func NewSQLiteTags(db *gorm.DB, maxPerUser int, announce func(userID string)) *SQLiteTags {
	return &SQLiteTags{tagReads: tagReads{db: db}, maxPerUser: maxPerUser, announce: announce}
}

func (s *SQLiteTags) announceAfter(tx *Tx, userID string) {
	if s.announce != nil {
		tx.AfterCommit(func() { s.announce(userID) })
	}
}

// recordTag records, in tx, k's answer for tag, if there is a k.
func recordTag(tx *Tx, userID string, k *models.Keyed, tag models.Tag) error {
	if k == nil {
		return nil
	}
	return recordKeyed(tx, userID, k, tag.ID, k.Answer(tag.ID, 0, tag.AppendJSON(nil)))
}

// Create adds a tag for the user: insert, cap check and event in one
// transaction (its write transactions run one at a time, so counting the
// user's tags after the insert is safe). A name the user already has,
// ignoring case, is a conflict; a user at the cap is refused.
func (s *SQLiteTags) Create(ctx context.Context, userID string, in models.TagInput, k *models.Keyed) (models.Tag, error) {
	tag, err := newTag(in)
	if err != nil {
		return models.Tag{}, classify(err)
	}
	tag.ID = k.IDOr(tag.ID)
	err = inTx(ctx, s.db, func(tx *Tx) error {
		err := tx.Exec(`INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			tag.ID, userID, tag.Name, nameKey(tag.Name), tag.Color, tag.CreatedAt, tag.CreatedAt).Error
		if err != nil {
			return err
		}
		if err := checkCap(tx, "tags", userID, s.maxPerUser); err != nil {
			return err
		}
		if err := recordChange(tx, userID, tagObject(tag.ID), models.EventTagCreated, tagEventData(tag), 0, 1); err != nil {
			return err
		}
		s.announceAfter(tx, userID)
		return recordTag(tx, userID, k, tag)
	})
	if err != nil {
		return models.Tag{}, tagWriteError(err, in.Name)
	}
	return tag, nil
}

// Update renames or recolours one of the user's tags and records
// tag.updated, in one transaction: update, read back, event. A patch that
// sends nothing changes nothing (and costs the read of Get).
func (s *SQLiteTags) Update(ctx context.Context, userID, id string, p models.TagPatch, k *models.Keyed) (models.Tag, error) {
	update, args := tagUpdate(userID, id, p)
	if update == "" {
		return s.Get(ctx, userID, id)
	}
	var tag models.Tag
	err := inTx(ctx, s.db, func(tx *Tx) error {
		res := tx.Exec(update, args...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errTagNotFound()
		}
		tags, err := queryTags(tx.DB, `SELECT `+tagColumns+` FROM tags tg WHERE tg.id = ? AND tg.user_id = ?`, id, userID)
		if err != nil {
			return err
		}
		if len(tags) == 0 {
			return errTagNotFound()
		}
		tag = tags[0]
		if err := recordChange(tx, userID, tagObject(id), models.EventTagUpdated, tagEventData(tag), 0, 0); err != nil {
			return err
		}
		s.announceAfter(tx, userID)
		return recordTag(tx, userID, k, tag)
	})
	if err != nil {
		return models.Tag{}, tagWriteError(err, patchedName(p))
	}
	return tag, nil
}

// Delete removes one of the user's tags and records tag.deleted, in one
// transaction; the database removes it from its tasks (the links cascade)
// and leaves the tasks, which get no event of their own.
func (s *SQLiteTags) Delete(ctx context.Context, userID, id string, k *models.Keyed) error {
	deleted := false
	err := inTx(ctx, s.db, func(tx *Tx) error {
		res := tx.Exec("DELETE FROM tags WHERE id = ? AND user_id = ?", id, userID)
		if deleted = res.RowsAffected > 0; res.Error != nil || !deleted {
			return res.Error
		}
		if err := recordGone(tx, userID, tagObject(id), models.EventTagDeleted, 0, 1); err != nil {
			return err
		}
		s.announceAfter(tx, userID)
		return recordDeleted(tx, userID, k, id)
	})
	if err != nil {
		return classify(err)
	}
	if !deleted {
		return errTagNotFound()
	}
	return nil
}
