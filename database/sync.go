package database

import (
	"database/sql"
	"errors"
	"slices"

	"gorm.io/gorm"

	"taskflow/models"
)

// A sync (GET /sync) reads what changed in a user's data after a cursor,
// an id of the user's sequence: the objects whose seq is after it, in
// their current state, and the tombstones after it. Every write stamps
// what it changes with a new id of the sequence, taken under the user's
// counter row lock, so ids are committed in order and a page read at any
// moment holds every change up to its end: a change made meanwhile gets a
// later id and comes in a later page (an object may come twice, never be
// skipped). A page never reaches past the head read first, which is the
// cursor of the last page: a stream opened with Last-Event-ID at it goes
// on from there.

// syncHead is where a user's sequence stands: its latest id, and the id
// of the newest tombstone pruned.
type syncHead struct{ latest, prunedThrough int64 }

func readSyncHead(db *gorm.DB, userID string) (syncHead, error) {
	var h syncHead
	err := scanOne(db, []any{&h.latest, &h.prunedThrough}, "SELECT seq, pruned_through FROM event_counters WHERE user_id = ?", userID)
	if errors.Is(err, sql.ErrNoRows) {
		return syncHead{}, nil
	}
	return h, err
}

// syncFrom decides where a page starts: a sync without a cursor, or with
// one from before the last pruned tombstone, starts over, full; one ahead
// of the head is refused.
func syncFrom(cursor *int64, h syncHead) (from int64, full bool, err error) {
	switch {
	case cursor == nil || *cursor < h.prunedThrough:
		return 0, true, nil
	case *cursor > h.latest:
		return 0, false, models.Invalid(models.FieldError{Field: "cursor", Message: "is ahead of your newest change: use a cursor a sync gave you"})
	}
	return *cursor, false, nil
}

// syncPage cuts changes (each kind's first limit+1 after the start, in
// any order) to a page of at most limit, in the sequence's order.
func syncPage(changes []models.SyncChange, limit int, h syncHead, full bool) models.SyncPage {
	slices.SortFunc(changes, func(a, b models.SyncChange) int { return int(a.Seq - b.Seq) })
	page := models.SyncPage{Cursor: h.latest, Full: full, Changes: changes}
	if len(changes) > limit {
		page.Changes, page.HasMore = changes[:limit], true
		page.Cursor = changes[limit-1].Seq
	}
	return page
}
