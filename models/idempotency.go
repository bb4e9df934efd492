package models

import "time"

// IdempotencyKeyTTL is how long an Idempotency-Key and its answer are kept:
// a retry within it gets the first answer again; after it the key is free.
const IdempotencyKeyTTL = 24 * time.Hour

// MaxIdempotencyKeyLength is the longest Idempotency-Key accepted.
const MaxIdempotencyKeyLength = 255

// Answer is a response as a client received it, kept with its
// Idempotency-Key so that a retry gets the same bytes again.
type Answer struct {
	Status      int
	ContentType string
	Location    string
	ETag        string
	Body        []byte
}

// ErrIdempotencyKeyReused is the error of a key sent again with another
// method, path or body than the request that first used it.
func ErrIdempotencyKeyReused() error {
	return Errorf(CodeIdempotencyKeyReused,
		"this Idempotency-Key was already used for another request (method, path or body): use a new key for a new request")
}

// ErrIdempotencyKeyInFlight is the error of a key whose first request is
// still running: the client retries shortly and then gets its answer.
func ErrIdempotencyKeyInFlight() error {
	return WithHeaders(Errorf(CodeIdempotencyKeyInFlight,
		"a request with this Idempotency-Key is still running: retry shortly to get its answer"),
		map[string]string{"Retry-After": "1"})
}
