package database

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"taskflow/models"
)

// Cutoffs reads the instants before which users' access tokens are
// refused. They are written by the events that cause them (account
// deletion, password change, logging out everywhere), each in that
// event's own transaction, through writeCutoff.
type Cutoffs struct{ db *gorm.DB }

// NewCutoffs returns the cutoff store over db.
func NewCutoffs(db *gorm.DB) *Cutoffs { return &Cutoffs{db: db} }

// Cutoff returns userID's cutoff; a user without one gets the zero
// cutoff (nothing refused), not an error.
func (s *Cutoffs) Cutoff(ctx context.Context, userID string) (models.TokenCutoff, error) {
	var row tokenCutoffRow
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.TokenCutoff{UserID: userID}, nil
	}
	if err != nil {
		return models.TokenCutoff{}, classify(err)
	}
	return row.cutoff(), nil
}

// ChangedSince returns every cutoff written at or after since (by the
// writer's clock). Every replica runs it ten times a second in the
// background, so it goes straight to database/sql: no GORM reflection, and
// no GORM callbacks, which are there for the statements of requests. The
// driver converts the time argument exactly as it does for GORM's writes.
func (s *Cutoffs) ChangedSince(ctx context.Context, since time.Time) ([]models.TokenCutoff, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, classify(err)
	}
	// $1 is PostgreSQL's placeholder, and SQLite's numbered parameter 1.
	rows, err := sqlDB.QueryContext(ctx,
		"SELECT user_id, not_before, account_deleted FROM token_cutoffs WHERE changed_at >= $1", since.UTC())
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var cutoffs []models.TokenCutoff
	for rows.Next() {
		var c models.TokenCutoff
		if err := rows.Scan(&c.UserID, &c.NotBefore, &c.AccountDeleted); err != nil {
			return nil, classify(err)
		}
		c.NotBefore = c.NotBefore.UTC()
		cutoffs = append(cutoffs, c)
	}
	return cutoffs, classify(rows.Err())
}

// writeCutoff records, inside tx, that userID's tokens issued up to now
// (or, for a deleted account, all of them) are refused from now on. A
// deletion is never undone by a later cutoff of the same id.
func writeCutoff(tx *gorm.DB, userID string, accountDeleted bool) error {
	now := storeTime()
	row := tokenCutoffRow{UserID: userID, NotBefore: now, AccountDeleted: accountDeleted, ChangedAt: now}
	return tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "not_before"}, Value: now},
			{Column: clause.Column{Name: "changed_at"}, Value: now},
			{Column: clause.Column{Name: "account_deleted"}, Value: gorm.Expr("token_cutoffs.account_deleted OR ?", accountDeleted)},
		},
	}).Create(&row).Error
}

func (r tokenCutoffRow) cutoff() models.TokenCutoff {
	return models.TokenCutoff{UserID: r.UserID, NotBefore: r.NotBefore.UTC(), AccountDeleted: r.AccountDeleted}
}
