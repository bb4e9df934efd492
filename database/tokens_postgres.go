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

// Issue creates the first token of a new family, for a login that began
// at sessionStart (before it read the account it checked), and sweeps the
// user's expired tokens, so the table stays bounded: one statement, since
// the sweep and the insert touch different rows. The insert refuses
// (errSessionRevoked) when the user's token cutoff is at or after the
// session's start: the login checked a password, or an account, that a
// revocation has replaced since.
func (s *PostgresTokens) Issue(ctx context.Context, userID string, sessionStart time.Time) (models.RefreshToken, error) {
	family, err := uuid.NewV7()
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	now := storeTime()
	start := models.SessionStart(sessionStart)
	row, issuedToken, err := s.newToken(userID, family.String(), now, start, start.Add(s.maxAge))
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	res := s.db.WithContext(ctx).Exec(`WITH swept AS (DELETE FROM refresh_tokens WHERE user_id = ? AND expires_at < ?) `+
		insertTokenSQL, append([]any{userID, now}, insertArgs(row)...)...)
	if err := issued(res); err != nil {
		return models.RefreshToken{}, classify(err)
	}
	return issuedToken, nil
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
// spendLiveSQL, the user's token cutoff included) and the INSERT writes
// its successor, of the same session, from the row spent. It reports
// false, writing nothing, when the token was not live or its session is
// cut off.
func (s *PostgresTokens) rotateLive(ctx context.Context, hash string) (models.RefreshToken, bool, error) {
	now := storeTime()
	row, next, err := s.newToken("", "", now, now, now.Add(s.maxAge))
	if err != nil {
		return models.RefreshToken{}, false, err
	}
	rows, err := s.db.WithContext(ctx).Raw(`WITH spent AS (`+spendLiveSQL+`
			RETURNING user_id, family_id, COALESCE(session_ends_at, ?) AS ends, `+rowSessionStart+` AS started)
		INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, session_ends_at, session_started_at, created_at)
		SELECT ?, user_id, family_id, ?, LEAST(CAST(? AS timestamptz), ends), ends, started, ? FROM spent
		RETURNING user_id, family_id, expires_at, session_started_at`,
		now, hash, now, now.Add(s.maxAge), row.ID, row.TokenHash, now.Add(s.ttl), now).Rows()
	if err != nil {
		return models.RefreshToken{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return models.RefreshToken{}, false, rows.Err()
	}
	if err := rows.Scan(&next.UserID, &next.FamilyID, &next.ExpiresAt, &next.SessionStartedAt); err != nil {
		return models.RefreshToken{}, false, err
	}
	next.ExpiresAt, next.SessionStartedAt = next.ExpiresAt.UTC(), next.SessionStartedAt.UTC()
	return next, true, rows.Close()
}
