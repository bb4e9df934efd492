package database

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresTokens is the refresh token store on PostgreSQL: a login's token
// and a live token's rotation are one statement each, one round trip and
// no transaction.
type PostgresTokens struct{ tokenStore }

// NewPostgresTokens returns the refresh token store over db, a PostgreSQL
// database. A token lives for ttl after it is issued, and never past
// maxAge after the login that began its family: refreshing keeps a
// session going, but not forever.
func NewPostgresTokens(db *gorm.DB, ttl, maxAge time.Duration) *PostgresTokens {
	return &PostgresTokens{tokenStore{db: db, ttl: ttl, maxAge: maxAge}}
}

// WithReuseInterval returns the store with a grace period (see
// tokenStore.reuseInterval and history/adr/0007-refresh-reuse-interval.md).
func (s *PostgresTokens) WithReuseInterval(interval time.Duration) *PostgresTokens {
	c := *s
	c.reuseInterval = max(interval, 0)
	return &c
}

// Issue creates the first token of a new family, for a login, and sweeps
// the user's expired tokens, so the table stays bounded: one statement,
// since the sweep and the insert touch different rows.
func (s *PostgresTokens) Issue(ctx context.Context, userID string) (models.RefreshToken, error) {
	family, err := uuid.NewV7()
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	now := storeTime()
	row, issued, err := s.newToken(userID, family.String(), now, now.Add(s.maxAge))
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	err = s.db.WithContext(ctx).Exec(`WITH swept AS (DELETE FROM refresh_tokens WHERE user_id = ? AND expires_at < ?)
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, session_ends_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, userID, now,
		row.ID, row.UserID, row.FamilyID, row.TokenHash, row.ExpiresAt, row.SessionEndsAt, row.CreatedAt).Error
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	return issued, nil
}

// Rotate spends token and returns its successor in the same family. A live
// token is rotated in one statement (rotateLive); anything else goes
// through the transaction that tells reuse within the interval, a replay,
// an expired and an unknown token apart (see tokenStore.rotate).
func (s *PostgresTokens) Rotate(ctx context.Context, token string) (models.RefreshToken, error) {
	hash := hashRefreshToken(token)
	next, rotated, err := s.rotateLive(ctx, hash)
	if err != nil || rotated {
		return next, classify(err)
	}
	return s.rotate(ctx, hash)
}

// rotateLive rotates a live token on PostgreSQL in one statement, so one
// round trip and no transaction: the UPDATE spends it (guarded as in
// Rotate) and the INSERT writes its successor from the row spent. It
// reports false, writing nothing, when the token was not live.
func (s *PostgresTokens) rotateLive(ctx context.Context, hash string) (models.RefreshToken, bool, error) {
	now := storeTime()
	row, next, err := s.newToken("", "", now, now.Add(s.maxAge))
	if err != nil {
		return models.RefreshToken{}, false, err
	}
	rows, err := s.db.WithContext(ctx).Raw(`WITH spent AS (
			UPDATE refresh_tokens SET used_at = ?
			WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?
			RETURNING user_id, family_id, COALESCE(session_ends_at, ?) AS ends)
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, session_ends_at, created_at)
		SELECT ?, user_id, family_id, ?, LEAST(CAST(? AS timestamptz), ends), ends, ? FROM spent
		RETURNING user_id, family_id, expires_at`,
		now, hash, now, now.Add(s.maxAge), row.ID, row.TokenHash, now.Add(s.ttl), now).Rows()
	if err != nil {
		return models.RefreshToken{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return models.RefreshToken{}, false, rows.Err()
	}
	if err := rows.Scan(&next.UserID, &next.FamilyID, &next.ExpiresAt); err != nil {
		return models.RefreshToken{}, false, err
	}
	next.ExpiresAt = next.ExpiresAt.UTC()
	return next, true, rows.Close()
}
