package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"taskflow/app/apptest"
)

// rowsOf counts userID's rows of table and their bytes in column.
func rowsOf(t *testing.T, db *gorm.DB, table, column, userID string) (rows, bytes int64) {
	t.Helper()
	err := db.Raw("SELECT count(*), COALESCE(sum(length("+column+")), 0) FROM "+table+" WHERE user_id = ?", userID).
		Row().Scan(&rows, &bytes)
	if err != nil {
		t.Fatal(err)
	}
	return rows, bytes
}

// The storage-amplification attack, scaled down: a user who owns one task
// sends PATCH after PATCH, each with a long description and a fresh
// Idempotency-Key, and creates and deletes tasks. Without caps every one
// of them kept an event, an answer and a tombstone for a day or more;
// with them, what is kept about the user stays under its caps.
func TestReplayDataIsCappedPerUser(t *testing.T) {
	const events, answers, tombstones, patches = 40, 30, 20, 150
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		s := apptest.Start(t, db, map[string]string{
			"MAX_EVENTS_PER_USER": fmt.Sprint(events), "MAX_ANSWERS_PER_USER": fmt.Sprint(answers),
			"MAX_TOMBSTONES_PER_USER": fmt.Sprint(tombstones),
		})
		userID := "replay-hog"
		token := apptest.Token(t, userID)
		created := s.Do(t, apptest.Request{Method: http.MethodPost, Path: tasksPath, Token: token, Body: map[string]any{"title": "the one"}})
		apptest.RequireStatus(t, created, http.StatusCreated)
		path := created.Header.Get("Location")
		long := strings.Repeat("x", 4990)
		for i := range patches {
			r := s.Do(t, keyed(http.MethodPatch, path, token, fmt.Sprint("fresh-", i), map[string]any{"description": fmt.Sprint(long, i)}))
			apptest.RequireStatus(t, r, http.StatusOK)
		}
		for i := range 3 * tombstones {
			r := s.Do(t, apptest.Request{Method: http.MethodPost, Path: tasksPath, Token: token, Body: map[string]any{"title": fmt.Sprint("gone ", i)}})
			apptest.RequireStatus(t, r, http.StatusCreated)
			apptest.RequireStatus(t, s.Do(t, apptest.Request{Method: http.MethodDelete, Path: r.Header.Get("Location"), Token: token}), http.StatusNoContent)
		}
		if n, size := rowsOf(t, s.DB, "events", "data", userID); n > events {
			t.Errorf("%d events kept (%d bytes), want at most %d", n, size, events)
		}
		if n, size := rowsOf(t, s.DB, "idempotency_keys", "body", userID); n > answers+answers/10 {
			t.Errorf("%d answers kept (%d bytes), want at most %d", n, size, answers+answers/10)
		}
		if n, _ := rowsOf(t, s.DB, "tombstones", "object_id", userID); n > tombstones {
			t.Errorf("%d tombstones kept, want at most %d", n, tombstones)
		}
		// A sync from before the tombstones pruned starts over, full.
		r := s.Do(t, apptest.Request{Method: http.MethodGet, Path: "/api/v1/sync?cursor=1", Token: token})
		apptest.RequireStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.Body), `"full":true`) {
			t.Errorf("a sync from a pruned cursor: %.200s, want a full copy", r.Body)
		}
	})
}
