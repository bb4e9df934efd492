package database

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"taskflow/models"
)

// CutoffChannel is the PostgreSQL NOTIFY channel on which every change of
// a token cutoff is announced, with the user id as payload. A trigger on
// the table sends it (pgCutoffTrigger), so no statement that writes a
// cutoff can forget to, and it is delivered at that statement's commit.
const CutoffChannel = "taskflow_cutoffs"

// pgCutoffTrigger announces every written, moved or removed cutoff on
// CutoffChannel.
const pgCutoffTrigger = `CREATE OR REPLACE FUNCTION taskflow_cutoff_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('` + CutoffChannel + `', OLD.user_id);
	ELSE
		PERFORM pg_notify('` + CutoffChannel + `', NEW.user_id);
	END IF;
	RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS taskflow_cutoff_changed ON token_cutoffs;
CREATE TRIGGER taskflow_cutoff_changed AFTER INSERT OR UPDATE OR DELETE ON token_cutoffs
	FOR EACH ROW EXECUTE FUNCTION taskflow_cutoff_changed()`

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
// writer's clock). A replica that cannot hear cutoffs runs it up to
// about once a second while it serves requests, so it goes straight to
// database/sql: no GORM reflection, and no GORM callbacks, which are there for the statements of requests. The
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
// are refused from now on, and whether that is because the account is
// deleted (see models.TokenCutoff). A local account's deletion is never
// undone by a later cutoff of the same id; an external user's cutoff
// says what its latest one was, since the same user may come back with
// the frontend's next token and later log out everywhere.
func writeCutoff(tx *gorm.DB, userID string, accountDeleted bool) error {
	now := storeTime()
	row := tokenCutoffRow{UserID: userID, NotBefore: now, AccountDeleted: accountDeleted, ChangedAt: now}
	deleted := any(gorm.Expr("token_cutoffs.account_deleted OR ?", accountDeleted))
	if models.IsExternalUserID(userID) {
		deleted = accountDeleted
	}
	return tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "not_before"}, Value: now},
			{Column: clause.Column{Name: "changed_at"}, Value: now},
			{Column: clause.Column{Name: "account_deleted"}, Value: deleted},
		},
	}).Create(&row).Error
}

// settleCutoff moves userID's cutoff, which a transaction has just
// committed, to now: past that commit. The cutoff's instant is taken inside
// its transaction, so it precedes the commit, and a login that read the
// account in between (the old password still in place, the old sessions
// still live) began after it: its session would outlive the revocation.
// Once settled, every session begun on what the revocation replaced began
// before the cutoff (a login's start is taken before it reads the
// account), and the tokens the revocation's own UPDATE could not see (in
// flight as it ran) are refused from now on, wherever they are presented.
func settleCutoff(ctx context.Context, db *gorm.DB, userID string) error {
	now := storeTime()
	err := db.WithContext(ctx).Exec("UPDATE token_cutoffs SET not_before = ?, changed_at = ? WHERE user_id = ? AND not_before < ?",
		now, now, userID, now).Error
	return classify(err)
}

func (r tokenCutoffRow) cutoff() models.TokenCutoff {
	return models.TokenCutoff{UserID: r.UserID, NotBefore: r.NotBefore.UTC(), AccountDeleted: r.AccountDeleted}
}
