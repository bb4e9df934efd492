package database

import (
	"context"
	"database/sql"
	"errors"
	"hash/fnv"
	"time"

	"gorm.io/gorm"

	"taskflow/models"
)

// lockClassIdempotency is the advisory lock class (the first key of
// PostgreSQL's two-key advisory locks, a space that never overlaps the
// migration's one-key lock) of an Idempotency-Key while its request runs.
const lockClassIdempotency int32 = 3

// pruneBatch bounds the rows one prune statement deletes, so pruning never
// holds locks on a large part of the table at once.
const pruneBatch = 1000

// IdempotencyKeys runs writes at most once per (user, Idempotency-Key) and
// keeps their answers for ttl. The key row is written in the same
// transaction as the write it answers, so either both are there or neither
// is: a crash, a timeout or a 5xx leaves the key free for a retry.
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

// Do answers the request that fingerprint identifies (its method, path
// and body) under userID's key. The first time, it runs write with a
// context that carries Do's transaction (see WithTx), so the stores'
// statements and the key row commit or roll back together, and stores the
// answer unless it is a 5xx. Later, the same fingerprint gets the stored
// answer with replayed true; another fingerprint is
// ErrIdempotencyKeyReused.
//
// While the first request runs, another with the same key is refused with
// ErrIdempotencyKeyInFlight on PostgreSQL (a transaction-scoped advisory
// lock, tried without waiting, shared by every replica on the database).
// On SQLite every write transaction takes the write lock at BEGIN, so the
// second request waits for the first to commit and then gets its answer.
//
// An answer of 4xx is stored but its writes are undone (a savepoint around
// write): a refused request changed nothing, and on PostgreSQL a failed
// statement would otherwise have aborted the transaction the key row
// goes into.
func (s *IdempotencyKeys) Do(ctx context.Context, userID, key, fingerprint string,
	write func(ctx context.Context) models.Answer) (answer models.Answer, replayed bool, err error) {
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return models.Answer{}, false, classify(tx.Error)
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback() // also when write panics: the connection goes back to the pool
		}
	}()
	if err := claimKey(tx, userID, key); err != nil {
		return models.Answer{}, false, err
	}
	stored, found, err := s.lookup(tx, userID, key)
	if err != nil {
		return models.Answer{}, false, classify(err)
	}
	if found {
		if stored.fingerprint != fingerprint {
			return models.Answer{}, false, models.ErrIdempotencyKeyReused()
		}
		return stored.answer, true, nil
	}
	if err := tx.Exec("SAVEPOINT idempotent_write").Error; err != nil {
		return models.Answer{}, false, classify(err)
	}
	answer = write(WithTx(ctx, tx))
	switch {
	case answer.Status >= 500:
		return answer, false, nil // rolled back and not kept: the client may retry the key
	case answer.Status >= 400:
		if err := tx.Exec("ROLLBACK TO SAVEPOINT idempotent_write").Error; err != nil {
			return models.Answer{}, false, classify(err)
		}
	}
	if err := s.insert(tx, userID, key, fingerprint, answer); err != nil {
		return models.Answer{}, false, classify(err)
	}
	done = true
	if err := tx.Commit().Error; err != nil {
		return models.Answer{}, false, classify(err)
	}
	return answer, false, nil
}

// claimKey takes the key for this transaction on PostgreSQL, or reports it
// in flight. Two keys whose hashes collide share a lock: the rare cost is
// a 409 that a retry a second later gets past.
func claimKey(tx *gorm.DB, userID, key string) error {
	if !IsPostgres(tx) {
		return nil // BEGIN IMMEDIATE already holds SQLite's one write lock
	}
	var acquired bool
	if err := scanOne(tx, []any{&acquired}, "SELECT pg_try_advisory_xact_lock(?, ?)",
		lockClassIdempotency, idempotencyLockKey(userID, key)); err != nil {
		return classify(err)
	}
	if !acquired {
		return models.ErrIdempotencyKeyInFlight()
	}
	return nil
}

func idempotencyLockKey(userID, key string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	return int32(h.Sum32())
}

// storedKey is a key's row: the request it belongs to and its answer.
type storedKey struct {
	fingerprint string
	answer      models.Answer
}

// lookup reads the key's row. A row past the store's ttl is deleted here
// and reported as not found: the key is free again.
func (s *IdempotencyKeys) lookup(tx *gorm.DB, userID, key string) (storedKey, bool, error) {
	var k storedKey
	var createdAt time.Time
	err := scanOne(tx, []any{&k.fingerprint, &k.answer.Status, &k.answer.ContentType, &k.answer.Location, &k.answer.ETag, &k.answer.Body, &createdAt},
		`SELECT fingerprint, status, content_type, location, etag, body, created_at FROM idempotency_keys
		WHERE user_id = ? AND idempotency_key = ?`, userID, key)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storedKey{}, false, nil
	case err != nil:
		return storedKey{}, false, err
	case !createdAt.After(s.now().Add(-s.ttl)):
		err := tx.Exec("DELETE FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?", userID, key).Error
		return storedKey{}, false, err
	}
	if k.answer.Body == nil {
		k.answer.Body = []byte{}
	}
	return k, true, nil
}

func (s *IdempotencyKeys) insert(tx *gorm.DB, userID, key, fingerprint string, a models.Answer) error {
	body := a.Body
	if body == nil {
		body = []byte{}
	}
	return tx.Exec(`INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, userID, key, fingerprint, a.Status, a.ContentType, a.Location, a.ETag, body, s.now()).Error
}

// Prune deletes the keys past their ttl, in batches, and returns how many
// it deleted. Lookups ignore such keys already; pruning keeps the table
// to a day of writes.
func (s *IdempotencyKeys) Prune(ctx context.Context) (int64, error) {
	var total int64
	for {
		res := s.db.WithContext(ctx).Exec(`DELETE FROM idempotency_keys WHERE (user_id, idempotency_key) IN
			(SELECT user_id, idempotency_key FROM idempotency_keys WHERE created_at <= ? LIMIT ?)`, s.now().Add(-s.ttl), pruneBatch)
		if res.Error != nil {
			return total, classify(res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneBatch {
			return total, nil
		}
	}
}
