package database

import (
	"context"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"taskflow/database/pgpool"
	"taskflow/models"
)

// PostgresSync reads syncs on PostgreSQL: a page is one statement, one
// round trip (pgSyncQuery), read through pgx itself as the list is.
type PostgresSync struct{ db *gorm.DB }

// NewPostgresSync returns the sync reader over db, a PostgreSQL database.
func NewPostgresSync(db *gorm.DB) *PostgresSync { return &PostgresSync{db: db} }

// pgSyncQuery reads the head ($1 the user, $2 the cursor or NULL, $3 the
// page's limit) and each kind's first $3 + 1 changes after the start it
// decides (see syncFrom) and up to the head; of those, the first $3 + 1
// in all (the page, and whether more follow) are encoded by the SQL the
// writes' events use, the others not at all. Its first row is the head.
const pgSyncQuery = `WITH h AS (SELECT COALESCE((SELECT seq FROM event_counters WHERE user_id = $1), 0) AS latest,
		COALESCE((SELECT pruned_through FROM event_counters WHERE user_id = $1), 0) AS pruned),
	f AS (SELECT h.latest, h.pruned, CASE WHEN CAST($2 AS bigint) IS NULL OR $2 < h.pruned THEN 0 ELSE $2 END AS start,
		(CAST($2 AS bigint) IS NULL OR $2 < h.pruned) AS full FROM h),
	c AS ((SELECT 'task' AS kind, false AS gone, t.seq, t.id FROM tasks t, f WHERE t.user_id = $1 AND t.seq > f.start AND t.seq <= f.latest
			ORDER BY t.seq LIMIT $3 + 1)
		UNION ALL (SELECT 'tag', false, g.seq, g.id FROM tags g, f WHERE g.user_id = $1 AND g.seq > f.start AND g.seq <= f.latest
			ORDER BY g.seq LIMIT $3 + 1)
		UNION ALL (SELECT 'project', false, p.seq, p.id FROM projects p, f WHERE p.user_id = $1 AND p.seq > f.start AND p.seq <= f.latest
			ORDER BY p.seq LIMIT $3 + 1)
		UNION ALL (SELECT d.kind, true, d.seq, d.object_id FROM tombstones d, f WHERE d.user_id = $1 AND NOT f.full
			AND d.seq > f.start AND d.seq <= f.latest ORDER BY d.seq LIMIT $3 + 1))
	SELECT 'head', f.full, f.latest, CAST(f.pruned AS text) FROM f
	UNION ALL SELECT c.kind, c.gone, c.seq, CASE WHEN c.gone THEN c.id WHEN c.kind = 'task' THEN taskflow_task_json(c.id)
		WHEN c.kind = 'tag' THEN taskflow_tag_json(c.id) ELSE taskflow_project_json(c.id) END
	FROM (SELECT * FROM c ORDER BY c.seq LIMIT $3 + 1) c`

// AppendSyncJSON appends the page of userID's changes after cursor (nil:
// from the start, full) to dst, at most limit of them.
func (s *PostgresSync) AppendSyncJSON(ctx context.Context, dst []byte, userID string, cursor *int64, limit int) ([]byte, error) {
	var h syncHead
	var full bool
	var changes []models.SyncChange
	err := pgpool.QueryRows(ctx, s.db, pgSyncQuery, []any{userID, cursor, limit}, func(rows pgx.Rows) error {
		h, full, changes = syncHead{}, false, nil
		for rows.Next() {
			var c models.SyncChange
			var text string
			if err := rows.Scan(&c.Kind, &c.Deleted, &c.Seq, &text); err != nil {
				return err
			}
			switch {
			case c.Kind == "head":
				h.latest, full = c.Seq, c.Deleted
				continue
			case c.Deleted:
				c.ID = text
			default:
				c.JSON = []byte(text)
			}
			changes = append(changes, c)
		}
		return rows.Err()
	})
	if err != nil {
		return dst, classify(err)
	}
	if cursor != nil && !full && *cursor > h.latest {
		_, _, err := syncFrom(cursor, h)
		return dst, err
	}
	return syncPage(changes, limit, h, full).AppendJSON(dst), nil
}
