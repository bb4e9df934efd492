package database

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// streamLeaseRow is one open change-feed stream, on any replica: the
// per-user limit counts these. A replica refreshes SeenAt while the stream
// is open and deletes the row when it ends; a row whose replica died stops
// being refreshed and stops counting once it is stale.
type streamLeaseRow struct {
	ID      string    `gorm:"primaryKey;size:36"`
	UserID  string    `gorm:"size:255;not null;index"`
	Replica string    `gorm:"size:36;not null;index"`
	SeenAt  time.Time `gorm:"not null"`
}

func (streamLeaseRow) TableName() string { return "stream_leases" }

// StreamLeases keeps the change feed's per-user limit in the database, so
// that every replica on it counts the same streams.
type StreamLeases struct{ db *gorm.DB }

// NewStreamLeases returns the leases kept in db.
func NewStreamLeases(db *gorm.DB) *StreamLeases { return &StreamLeases{db: db} }

// Take records the lease id of replica for userID unless the user already
// holds limit leases seen after staleBefore, and reports whether it did.
// On PostgreSQL a transaction-scoped advisory lock on the user orders
// concurrent opens (from any replica), and the count runs in a statement
// of its own after the lock, so it sees every lease committed before;
// SQLite runs one write at a time anyway.
func (s *StreamLeases) Take(ctx context.Context, id, userID, replica string, limit int, now, staleBefore time.Time) (bool, error) {
	var taken bool
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if IsPostgres(tx) {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "stream_leases:"+userID).Error; err != nil {
				return err
			}
		}
		if err := tx.Exec("DELETE FROM stream_leases WHERE user_id = ? AND seen_at < ?", userID, staleBefore).Error; err != nil {
			return err
		}
		insert := tx.Exec(`INSERT INTO stream_leases (id, user_id, replica, seen_at)
			SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM stream_leases WHERE user_id = ?) < ?`,
			id, userID, replica, now, userID, limit)
		taken = insert.RowsAffected == 1
		return insert.Error
	})
	return taken, classify(err)
}

// Refresh marks every lease of replica as seen at now.
func (s *StreamLeases) Refresh(ctx context.Context, replica string, now time.Time) error {
	return classify(s.db.WithContext(ctx).Exec("UPDATE stream_leases SET seen_at = ? WHERE replica = ?", now, replica).Error)
}

// Release deletes the lease id.
func (s *StreamLeases) Release(ctx context.Context, id string) error {
	return classify(s.db.WithContext(ctx).Exec("DELETE FROM stream_leases WHERE id = ?", id).Error)
}
