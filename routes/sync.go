package routes

import (
	"context"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// SyncStore reads what changed in a user's data after a cursor (see
// database.SQLiteSync and database.PostgresSync).
type SyncStore interface {
	// AppendSyncJSON appends the page of userID's changes after cursor
	// (nil: a full copy from the start) to dst, at most limit of them.
	AppendSyncJSON(ctx context.Context, dst []byte, userID string, cursor *int64, limit int) ([]byte, error)
}

// Sync registers GET /sync on r, a group behind the auth guard.
func Sync(r fiber.Router, store SyncStore) {
	r.Get("/", syncChanges(store))
}

func syncChanges(store SyncStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		q := queryParams{c: c}
		cursor := syncCursor(&q)
		limit := int(q.integer("limit", models.DefaultSyncLimit, 1, models.MaxSyncLimit))
		if err := q.err(); err != nil {
			return err
		}
		resp := c.Response()
		resp.AppendBody(nil) // takes a buffer from the pool, as the list does
		body, err := store.AppendSyncJSON(c.UserContext(), resp.Body()[:0], userID, cursor, limit)
		if err != nil {
			resp.ResetBody()
			return err
		}
		resp.SetBody(body)
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return nil
	}
}

// syncCursor reads the cursor: absent, or a decimal string of digits
// alone, as a sync gives it (no sign). The contract makes a malformed one
// a 422.
func syncCursor(q *queryParams) *int64 {
	raw := q.c.Query("cursor")
	if raw == "" {
		return nil
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || strings.Trim(raw, "0123456789") != "" {
		q.outOfRange("cursor", "must be a cursor a sync gave you (a decimal number)")
		return nil
	}
	return &v
}
