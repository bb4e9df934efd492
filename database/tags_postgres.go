package database

import (
	"context"
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresTags is the tag store on PostgreSQL: every write is one call of
// a function of the database (see PostgresTasks).
type PostgresTags struct {
	tagReads
	maxPerUser int
}

// NewPostgresTags returns the tag store over db, a PostgreSQL database; a
// user may own at most maxPerUser tags.
func NewPostgresTags(db *gorm.DB, maxPerUser int) *PostgresTags {
	return &PostgresTags{tagReads: tagReads{db: db}, maxPerUser: maxPerUser}
}

// Create adds a tag for the user (taskflow_tag_create): a name the user
// already has, ignoring case, is a conflict; a user at the cap is refused.
func (s *PostgresTags) Create(ctx context.Context, userID string, in models.TagInput, k *models.Keyed) (models.Tag, error) {
	call, err := s.createCall(userID, in, k)
	if err != nil {
		return models.Tag{}, classify(err)
	}
	out, err := pgTag(s.db.WithContext(ctx), k, call)
	if err != nil {
		return models.Tag{}, tagWriteError(err, in.Name)
	}
	return out, nil
}

func (s *PostgresTags) createCall(userID string, in models.TagInput, k *models.Keyed) (pgCallSpec, error) {
	tag, err := newTag(in)
	if err != nil {
		return pgCallSpec{}, err
	}
	return pgCallSpec{"taskflow_tag_create", append([]any{userID, k.IDOr(tag.ID), tag.Name, nameKey(tag.Name), tag.Color,
		tag.CreatedAt, s.maxPerUser, storeTime()}, pgKeyArgs(k)...)}, nil
}

// Update renames or recolours one of the user's tags and records
// tag.updated (taskflow_tag_update). A patch that sends nothing changes
// nothing (and costs the read of Get).
func (s *PostgresTags) Update(ctx context.Context, userID, id string, p models.TagPatch, k *models.Keyed) (models.Tag, error) {
	if p.Name == nil && !p.ColorSet {
		return s.Get(ctx, userID, id)
	}
	out, err := pgTag(s.db.WithContext(ctx), k, s.updateCall(userID, id, p, k))
	if err != nil {
		return models.Tag{}, tagWriteError(err, patchedName(p))
	}
	return out, nil
}

func (s *PostgresTags) updateCall(userID, id string, p models.TagPatch, k *models.Keyed) pgCallSpec {
	name := patchedName(p)
	return pgCallSpec{"taskflow_tag_update", append([]any{userID, id, p.Name != nil, name, nameKey(name),
		p.ColorSet, p.Color, timestamp(), storeTime()}, pgKeyArgs(k)...)}
}

// Delete removes one of the user's tags and records tag.deleted
// (taskflow_tag_delete); its tasks stay, without it.
func (s *PostgresTags) Delete(ctx context.Context, userID, id string, k *models.Keyed) error {
	_, err := pgCall(s.db.WithContext(ctx), k, s.deleteCall(userID, id, k))
	return err
}

func (s *PostgresTags) deleteCall(userID, id string, k *models.Keyed) pgCallSpec {
	return pgCallSpec{"taskflow_tag_delete", append([]any{userID, id, storeTime()}, pgKeyArgs(k)...)}
}

// pgTag calls a tag write and reads the tag it returns.
func pgTag(db *gorm.DB, k *models.Keyed, call pgCallSpec) (models.Tag, error) {
	out, err := pgCall(db, k, call)
	if err != nil {
		return models.Tag{}, err
	}
	var tag models.Tag
	if err := json.Unmarshal([]byte(out), &tag); err != nil {
		return models.Tag{}, classify(fmt.Errorf("%s returned a tag that does not decode: %w", call.fn, err))
	}
	return tag, nil
}
