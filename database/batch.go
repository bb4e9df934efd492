package database

import (
	"context"
	"time"

	"gorm.io/gorm"

	"taskflow/models"
)

// A batch (POST /batch) runs commands, each as the request of its type
// would, each atomically on its own, and records each one's result under
// its uuid with the write itself (models.Keyed, keyed by models.CommandKey), so
// a resend applies nothing twice. What both engines share is here: the
// lookup before the commands run (results of uuids already applied, ids of
// temporary ids made by earlier batches) and the records after (the
// refusals, which wrote nothing, and the results another request recorded
// first). The commands themselves run per engine: in order, one
// transaction each, on SQLite; in one pipeline on PostgreSQL.

// commandKeyPattern matches the keys models.CommandKey makes (LIKE).
const commandKeyPattern = "cmd %"

// batchStore is what both engines' batches share.
type batchStore struct {
	db  *gorm.DB
	now func() time.Time
}

// Prepare reads, in one statement, the results kept under keys (each a
// models.CommandKey) for the last models.CommandResultTTL, and the ids that
// temporary ids among tempIDs were given by earlier batches.
func (s batchStore) Prepare(ctx context.Context, userID string, keys, tempIDs []string) (map[string]models.StoredAnswer, map[string]string, error) {
	since := s.now().Add(-models.CommandResultTTL)
	return readPrepared(s.db.WithContext(ctx), `SELECT 'k', idempotency_key, fingerprint, status, content_type, body FROM idempotency_keys
			WHERE user_id = ? AND idempotency_key IN ? AND created_at > ?
		UNION ALL SELECT 't', temp_id, object_id, 0, '', '' FROM temp_ids WHERE user_id = ? AND temp_id IN ? AND created_at > ?`,
		userID, nonEmpty(keys), since, userID, nonEmpty(tempIDs), since)
}

// readPrepared runs Prepare's query and reads its rows: the answers kept
// ("k") and the ids of the temporary ids known ("t").
func readPrepared(db *gorm.DB, query string, args ...any) (map[string]models.StoredAnswer, map[string]string, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, nil, classify(err)
	}
	defer rows.Close()
	stored, ids := map[string]models.StoredAnswer{}, map[string]string{}
	for rows.Next() {
		var kind string
		var a models.StoredAnswer
		if err := rows.Scan(&kind, &a.Key, &a.Fingerprint, &a.Answer.Status, &a.Answer.ContentType, &a.Answer.Body); err != nil {
			return nil, nil, classify(err)
		}
		if kind == "t" {
			ids[a.Key] = a.Fingerprint
			continue
		}
		stored[a.Key] = a
	}
	return stored, ids, classify(rows.Err())
}

// nonEmpty is ids, or a list no key can match: IN needs one item.
func nonEmpty(ids []string) []string {
	if len(ids) == 0 {
		return []string{""}
	}
	return ids
}

// saveAnswers keeps the answers no write recorded (refusals), each unless
// another request's answer got there first, and returns the keys of
// those: their answers are the ones that count. The answers it keeps
// count against the user's cap (capAnswers).
func saveAnswers(db *gorm.DB, userID string, answers []models.StoredAnswer, now time.Time) ([]string, error) {
	var taken []string
	for _, a := range answers {
		res := db.Exec(`INSERT INTO idempotency_keys
			(user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING`,
			userID, a.Key, a.Fingerprint, a.Answer.Status, a.Answer.ContentType, a.Answer.Location, a.Answer.ETag,
			bodyBytes(a.Answer.Body), now)
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 0 {
			taken = append(taken, a.Key)
		}
	}
	if kept := len(answers) - len(taken); kept > 0 {
		return taken, capAnswers(db, userID, kept)
	}
	return taken, nil
}

// readAnswers reads the answers kept under keys.
func readAnswers(db *gorm.DB, userID string, keys []string) (map[string]models.StoredAnswer, error) {
	stored := map[string]models.StoredAnswer{}
	if len(keys) == 0 {
		return stored, nil
	}
	rows, err := db.Raw(`SELECT idempotency_key, fingerprint, status, content_type, body FROM idempotency_keys
		WHERE user_id = ? AND idempotency_key IN ?`, userID, keys).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a models.StoredAnswer
		if err := rows.Scan(&a.Key, &a.Fingerprint, &a.Answer.Status, &a.Answer.ContentType, &a.Answer.Body); err != nil {
			return nil, err
		}
		stored[a.Key] = a
	}
	return stored, rows.Err()
}
