package database

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"

	"taskflow/models"
)

// EventChannel is the PostgreSQL NOTIFY channel on which every write that
// recorded an event announces it, as "<user id> <seq>". The notification is
// sent by the write's own transaction, so it is delivered at its commit and
// never for a write rolled back; listeners read the event itself from the
// events table.
const EventChannel = "taskflow_events"

// eventRow is one change of a user's tasks or tags, written in the same
// transaction as the change. (user_id, seq) is its key: seq comes from the
// user's counter row, whose row lock orders one user's writes, so seq order
// is commit order. created_at is indexed for pruning.
type eventRow struct {
	UserID    string    `gorm:"primaryKey;size:255"`
	Seq       int64     `gorm:"primaryKey;autoIncrement:false"`
	Type      string    `gorm:"size:32;not null"`
	Data      string    `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index"`
}

func (eventRow) TableName() string { return "events" }

// eventCounterRow holds a user's last event id. It outlives pruned events
// (and a deleted account), so ids never go back. It also counts the user's
// tasks and tags, for the per-user caps: every write that adds or removes
// one bumps the counter row in the same statement (or transaction), and a
// create on PostgreSQL is refused by the upsert's WHERE, which sees the
// latest committed counts (see pgCreateTask and pgCreateTag). A deleted
// account's counts go back to zero with its data.
type eventCounterRow struct {
	UserID string `gorm:"primaryKey;size:255"`
	Seq    int64  `gorm:"not null"`
	Tasks  int64  `gorm:"not null;default:0"`
	Tags   int64  `gorm:"not null;default:0"`
	// PrunedThrough is the seq of the newest tombstone pruned: a sync from
	// a cursor before it cannot list every deletion since, and starts over.
	PrunedThrough int64 `gorm:"not null;default:0"`
	// Answers counts, roughly, the answers kept for the user: it triggers
	// the pruning of the oldest past the cap (see capAnswers).
	Answers int64 `gorm:"not null;default:0"`
}

func (eventCounterRow) TableName() string { return "event_counters" }

// eventTicketRow is a single-use ticket for the change feed, stored by its
// SHA-256 only. It carries the issue time and expiry of the token that
// asked for it: the stream it opens lives no longer than that token.
type eventTicketRow struct {
	TokenHash      string `gorm:"primaryKey;size:64"`
	UserID         string `gorm:"size:255;not null"`
	TokenIssuedAt  *time.Time
	TokenExpiresAt time.Time `gorm:"not null"`
	ExpiresAt      time.Time `gorm:"not null;index"`
}

func (eventTicketRow) TableName() string { return "event_tickets" }

// taskEventData is the data of a task.created or task.updated event: the
// task exactly as the write's answer shows it.
func taskEventData(t models.Task) []byte {
	b := append([]byte(`{"id":`), strconv.Quote(t.ID)...)
	b = append(b, `,"task":`...)
	b = t.AppendJSON(b)
	return append(b, '}')
}

// tagEventData is the data of a tag.created or tag.updated event.
func tagEventData(t models.Tag) []byte {
	b := append([]byte(`{"id":`), strconv.Quote(t.ID)...)
	b = append(b, `,"tag":`...)
	b = t.AppendJSON(b)
	return append(b, '}')
}

// projectEventData is the data of a project.created or project.updated
// event.
func projectEventData(p models.Project) []byte {
	b := append([]byte(`{"id":`), strconv.Quote(p.ID)...)
	b = append(b, `,"project":`...)
	b = p.AppendJSON(b)
	return append(b, '}')
}

// deletedEventData is the data of a task.deleted or tag.deleted event.
// Ids are UUIDs, which need no escaping.
func deletedEventData(id string) []byte {
	return append(append([]byte(`{"id":`), strconv.Quote(id)...), '}')
}

// Events reads users' change feeds and keeps the feed's tickets.
type Events struct{ db *gorm.DB }

// NewEvents returns the event store over db.
func NewEvents(db *gorm.DB) *Events { return &Events{db: db} }

// eventBatch is the most events After returns at once; a stream reads on
// until it has caught up.
const eventBatch = 200

// After returns userID's events with ids above after, in order, at most
// eventBatch of them.
func (s *Events) After(ctx context.Context, userID string, after int64) ([]models.Event, error) {
	rows, err := s.db.WithContext(ctx).Raw(`SELECT seq, type, data FROM events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
		userID, after, eventBatch).Rows()
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var events []models.Event
	for rows.Next() {
		var e models.Event
		var typ, data string
		if err := rows.Scan(&e.Seq, &typ, &data); err != nil {
			return nil, classify(err)
		}
		e.Type, e.Data = models.EventType(typ), []byte(data)
		events = append(events, e)
	}
	return events, classify(rows.Err())
}

// Head returns where userID's feed stands, in one statement.
func (s *Events) Head(ctx context.Context, userID string) (models.EventHead, error) {
	var head models.EventHead
	var oldest sql.NullInt64
	err := scanOne(s.db.WithContext(ctx), []any{&head.Latest, &oldest},
		`SELECT c.seq, (SELECT min(seq) FROM events e WHERE e.user_id = c.user_id) FROM event_counters c WHERE c.user_id = ?`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return models.EventHead{}, nil
	}
	if err != nil {
		return models.EventHead{}, classify(err)
	}
	head.Oldest = oldest.Int64
	return head, nil
}

// ticketBytes is a ticket's randomness: 256 bits, nothing to guess.
const ticketBytes = 32

// CreateTicket stores a new single-use ticket for userID's feed, valid for
// ttl, and returns it. tokenIssuedAt and tokenExpiresAt are those of the
// token that asked for it.
func (s *Events) CreateTicket(ctx context.Context, userID string, tokenIssuedAt *time.Time, tokenExpiresAt time.Time, ttl time.Duration) (string, error) {
	raw := make([]byte, ticketBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", classify(err)
	}
	ticket := base64.RawURLEncoding.EncodeToString(raw)
	row := eventTicketRow{
		TokenHash: hashTicket(ticket), UserID: userID, TokenIssuedAt: utcPtr(tokenIssuedAt),
		TokenExpiresAt: tokenExpiresAt.UTC(), ExpiresAt: storeTime().Add(ttl),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", classify(err)
	}
	return ticket, nil
}

// RedeemTicket spends ticket: one statement deletes it and returns what it
// was for, so of two requests presenting it, only one gets it. A used,
// expired or unknown ticket is unauthorized.
func (s *Events) RedeemTicket(ctx context.Context, ticket string) (models.EventTicket, error) {
	var t models.EventTicket
	var issued sql.NullTime
	err := scanOne(s.db.WithContext(ctx), []any{&t.UserID, &issued, &t.TokenExpiresAt},
		`DELETE FROM event_tickets WHERE token_hash = ? AND expires_at > ? RETURNING user_id, token_issued_at, token_expires_at`,
		hashTicket(ticket), storeTime())
	if errors.Is(err, sql.ErrNoRows) {
		return models.EventTicket{}, models.Errorf(models.CodeUnauthorized, "the ticket is used, expired or unknown: ask for a new one")
	}
	if err != nil {
		return models.EventTicket{}, classify(err)
	}
	t.TokenIssuedAt, t.TokenExpiresAt = nullTime(issued), t.TokenExpiresAt.UTC()
	return t, nil
}

// Prune deletes the events recorded before keepSince, the tickets that
// have expired and the tombstones older than models.TombstoneTTL, and
// returns how many events and tombstones went.
func (s *Events) Prune(ctx context.Context, keepSince time.Time) (int64, error) {
	db := s.db.WithContext(ctx)
	res := db.Exec(`DELETE FROM events WHERE created_at < ?`, keepSince.UTC())
	if res.Error != nil {
		return 0, classify(res.Error)
	}
	if err := db.Exec(`DELETE FROM event_tickets WHERE expires_at < ?`, storeTime()).Error; err != nil {
		return res.RowsAffected, classify(err)
	}
	gone, err := pruneTombstones(ctx, s.db, storeTime().Add(-models.TombstoneTTL))
	return res.RowsAffected + gone, err
}

// pruneTombstones deletes the tombstones older than before that are also
// older than every object of their user (see prunableTombstone), first
// moving each user's PrunedThrough to the newest of theirs it deletes: a
// sync from a cursor before that starts over, full. The DELETE takes no
// tombstone past the PrunedThrough the UPDATE set, which holds the
// users' counter rows: a write that makes more of them prunable
// meanwhile waits, and they wait for the next prune.
func pruneTombstones(ctx context.Context, db *gorm.DB, before time.Time) (int64, error) {
	var gone int64
	err := inTx(ctx, db, func(tx *Tx) error {
		err := tx.Exec(`UPDATE event_counters SET pruned_through =
				(SELECT max(t.seq) FROM tombstones t WHERE t.user_id = event_counters.user_id AND `+prunableTombstone+`)
			WHERE user_id IN (SELECT t.user_id FROM tombstones t WHERE `+prunableTombstone+`)`, before, before).Error
		if err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM tombstones AS t WHERE t.deleted_at < ?
			AND t.seq <= (SELECT c.pruned_through FROM event_counters c WHERE c.user_id = t.user_id)`, before)
		gone = res.RowsAffected
		return res.Error
	})
	return gone, classify(err)
}

// prunableTombstone is SQL saying that tombstone t (its one argument:
// the time before which deletions may go) is old enough, and older than
// every task, tag and project of its user. A full copy pages through the
// user's objects from the oldest change on, each page's cursor the id of
// its last change: were a deletion newer than one of those objects
// pruned, such a cursor would be older than the deletion pruned, the page
// after it a full copy again, and the copy would never end.
const prunableTombstone = `t.deleted_at < ?
	AND t.seq < COALESCE((SELECT min(o.seq) FROM tasks o WHERE o.user_id = t.user_id), t.seq + 1)
	AND t.seq < COALESCE((SELECT min(o.seq) FROM tags o WHERE o.user_id = t.user_id), t.seq + 1)
	AND t.seq < COALESCE((SELECT min(o.seq) FROM projects o WHERE o.user_id = t.user_id), t.seq + 1)`

// eraseFeed deletes, inside tx, what userID's change feed keeps: its
// events, whose data holds the user's tasks and tags as they were, and its
// tickets. It is part of deleting an account. The user's counter row
// stays, so that event ids never go back (a resume from an id of before
// gets reset).
func eraseFeed(tx *gorm.DB, userID string) error {
	if err := tx.Exec("DELETE FROM events WHERE user_id = ?", userID).Error; err != nil {
		return err
	}
	return tx.Exec("DELETE FROM event_tickets WHERE user_id = ?", userID).Error
}

func hashTicket(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return hex.EncodeToString(sum[:])
}
