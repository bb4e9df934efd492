package database

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// SQLiteTokens is the refresh token store on SQLite, whose issuing and
// rotation are transactions.
type SQLiteTokens struct{ tokenStore }

// NewSQLiteTokens returns the refresh token store over db, an SQLite
// database (see NewPostgresTokens for ttl and maxAge).
func NewSQLiteTokens(db *gorm.DB, ttl, maxAge time.Duration) *SQLiteTokens {
	return &SQLiteTokens{tokenStore{db: db, ttl: ttl, maxAge: maxAge}}
}

// WithReuseInterval returns the store with a grace period (see
// tokenStore.reuseInterval and history/adr/0007-refresh-reuse-interval.md).
func (s *SQLiteTokens) WithReuseInterval(interval time.Duration) *SQLiteTokens {
	c := *s
	c.reuseInterval = max(interval, 0)
	return &c
}

// Issue creates the first token of a new family, for a login that began
// at sessionStart, and sweeps the user's expired tokens, so the table
// stays bounded. The insert refuses (errSessionRevoked) when the user's
// token cutoff is at or after the session's start (see
// PostgresTokens.Issue).
func (s *SQLiteTokens) Issue(ctx context.Context, userID string, sessionStart time.Time) (models.RefreshToken, error) {
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
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ? AND expires_at < ?", userID, now).Delete(&refreshTokenRow{}).Error; err != nil {
			return err
		}
		return issued(tx.Exec(insertTokenSQL, insertArgs(row)...))
	})
	if err != nil {
		return models.RefreshToken{}, classify(err)
	}
	return issuedToken, nil
}

// Rotate spends token and returns its successor in the same family (see
// tokenStore.rotate).
func (s *SQLiteTokens) Rotate(ctx context.Context, token string) (models.RefreshToken, error) {
	return s.rotate(ctx, hashRefreshToken(token))
}
