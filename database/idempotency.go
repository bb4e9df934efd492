package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"gorm.io/gorm"

	"taskflow/models"
)

// pruneBatch bounds the rows one prune statement deletes, so pruning never
// holds locks on a large part of the table at once.
const pruneBatch = 1000

// IdempotencyKeys keeps, for ttl, the answers of writes sent with an
// Idempotency-Key. A write's success is recorded by the store that makes
// the write, with the write itself (see models.Keyed): in its one
// statement on PostgreSQL, in its transaction on SQLite. The primary key
// (user, key) is the lock: of two requests with one key, the second's
// write fails on it whole, and nothing is applied twice, whichever replica
// runs it. Answers that are not successes are recorded apart (Save).
type IdempotencyKeys struct {
	db  *gorm.DB
	ttl time.Duration
	now func() time.Time
}

// NewIdempotencyKeys returns the store over db; a key is kept ttl after
// its first request.
func NewIdempotencyKeys(db *gorm.DB, ttl time.Duration) *IdempotencyKeys {
	return &IdempotencyKeys{db: db, ttl: ttl, now: storeTime}
}

// WithClock returns a copy of the store that reads the time from now, so
// that a test can step past the keys' lifetime.
func (s *IdempotencyKeys) WithClock(now func() time.Time) *IdempotencyKeys {
	c := *s
	c.now = now
	return &c
}

// Lookup returns the answer kept under userID's key and the fingerprint of
// the request it answered, in one statement. A key past the store's ttl is
// deleted and reported as not found: the key is free again.
func (s *IdempotencyKeys) Lookup(ctx context.Context, userID, key string) (string, models.Answer, bool, error) {
	var fingerprint string
	var a models.Answer
	var createdAt time.Time
	db := s.db.WithContext(ctx)
	err := scanOne(db, []any{&fingerprint, &a.Status, &a.ContentType, &a.Location, &a.ETag, &a.Body, &createdAt},
		`SELECT fingerprint, status, content_type, location, etag, body, created_at FROM idempotency_keys
		WHERE user_id = ? AND idempotency_key = ?`, userID, key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", models.Answer{}, false, nil
	case err != nil:
		return "", models.Answer{}, false, classify(err)
	case !createdAt.After(s.now().Add(-s.ttl)):
		err := db.Exec("DELETE FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ? AND created_at <= ?",
			userID, key, s.now().Add(-s.ttl)).Error
		return "", models.Answer{}, false, classify(err)
	}
	if a.Body == nil {
		a.Body = []byte{}
	}
	return fingerprint, a, true, nil
}

// Save keeps an answer that no store recorded (a refusal, which wrote
// nothing) under userID's key. If another request's answer got there
// first, that one stays.
func (s *IdempotencyKeys) Save(ctx context.Context, userID, key, fingerprint string, a models.Answer) error {
	db := s.db.WithContext(ctx)
	res := db.Exec(`INSERT INTO idempotency_keys
		(user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, idempotency_key) DO NOTHING`,
		userID, key, fingerprint, a.Status, a.ContentType, a.Location, a.ETag, bodyBytes(a.Body), s.now())
	if res.Error != nil || res.RowsAffected == 0 {
		return classify(res.Error)
	}
	return classify(capAnswers(db, userID, 1))
}

// Prune deletes, in batches, the keys past their ttl, the batch
// commands' results and the temporary ids past models.CommandResultTTL,
// and returns how many rows it deleted. Lookups ignore such rows already;
// pruning keeps the tables to their days of writes.
func (s *IdempotencyKeys) Prune(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	for _, p := range []struct {
		query string
		args  []any
	}{
		{`DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN (SELECT user_id, idempotency_key FROM idempotency_keys
			WHERE created_at <= ? AND idempotency_key NOT LIKE ? LIMIT ?)`, []any{now.Add(-s.ttl), commandKeyPattern, pruneBatch}},
		{`DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN (SELECT user_id, idempotency_key FROM idempotency_keys
			WHERE created_at <= ? AND idempotency_key LIKE ? LIMIT ?)`, []any{now.Add(-models.CommandResultTTL), commandKeyPattern, pruneBatch}},
		{`DELETE FROM temp_ids WHERE (user_id, temp_id) IN (SELECT user_id, temp_id FROM temp_ids WHERE created_at <= ? LIMIT ?)`,
			[]any{now.Add(-models.CommandResultTTL), pruneBatch}},
	} {
		n, err := pruneInBatches(s.db.WithContext(ctx), p.query, p.args...)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneInBatches runs a DELETE of at most pruneBatch rows until it deletes
// fewer.
func pruneInBatches(db *gorm.DB, query string, args ...any) (int64, error) {
	var total int64
	for {
		res := db.Exec(query, args...)
		if res.Error != nil {
			return total, classify(res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneBatch {
			return total, nil
		}
	}
}

// recordKeyed records, in tx, the answer k describes for the object a
// write made or changed (id): the SQLite side of models.Keyed (PostgreSQL's
// write functions record it themselves, see taskflow_answer), with the
// temporary id a batch named a new object by. k.Recorded is set once tx
// has committed.
func recordKeyed(tx *Tx, userID string, k *models.Keyed, id string, a models.Answer) error {
	err := tx.Exec(`INSERT INTO idempotency_keys
		(user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		userID, k.Key, k.Fingerprint, a.Status, a.ContentType, a.Location, a.ETag, bodyBytes(a.Body), storeTime()).Error
	if err != nil {
		return err
	}
	if k.TempID != "" {
		err := tx.Exec(`INSERT INTO temp_ids (user_id, temp_id, object_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (user_id, temp_id) DO UPDATE SET object_id = excluded.object_id, created_at = excluded.created_at`,
			userID, k.TempID, id, storeTime()).Error
		if err != nil {
			return err
		}
	}
	tx.AfterCommit(func() { k.Recorded = true })
	return capAnswers(tx.DB, userID, 1)
}

// recordDeleted records, in tx, k's answer for the deletion of id, if there
// is a k: a deletion's answer has no body.
func recordDeleted(tx *Tx, userID string, k *models.Keyed, id string) error {
	if k == nil {
		return nil
	}
	return recordKeyed(tx, userID, k, id, k.Answer(id, 0, nil))
}

func bodyBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
