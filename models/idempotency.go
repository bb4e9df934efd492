package models

import (
	"strconv"
	"time"
)

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

// Keyed is the Idempotency-Key a write was sent with, and the answer the
// write gets when it succeeds, less what only the write knows: the new
// object's id, its version and its JSON. The store records that answer
// together with the write (in the write's statement, or in its
// transaction), so that whatever fails in between, the write and its
// answer are both kept or neither is: no retry can apply it twice. An
// answer that is not a success is recorded apart, by the caller.
type Keyed struct {
	Key         string
	Fingerprint string // of the request: method, path and body
	Status      int    // of a success
	ContentType string // of the body; empty for an answer without one
	// Location, when set, is the collection a create adds to: the answer's
	// Location is it followed by the new object's id.
	Location string
	ETag     bool // the answer's ETag is the object's version, quoted
	Body     bool // the answer's body is the object as JSON
	// NewID, when set, is the id a create gives what it makes (a batch
	// makes it before the command runs); TempID the temporary id a batch
	// named it by, recorded with it.
	NewID  string
	TempID string
	// Recorded is set by the store once the answer is committed with the
	// write.
	Recorded bool
}

// Answer is the answer k describes for an object of this id and version,
// whose JSON is body.
func (k *Keyed) Answer(id string, version int64, body []byte) Answer {
	a := Answer{Status: k.Status, ContentType: k.ContentType}
	if k.Location != "" {
		a.Location = k.Location + id
	}
	if k.ETag {
		a.ETag = `"` + strconv.FormatInt(version, 10) + `"`
	}
	a.Body = []byte{}
	if k.Body {
		a.Body = body
	}
	return a
}

// IDOr is the id a create makes: k's NewID when it has one, else id.
func (k *Keyed) IDOr(id string) string {
	if k == nil || k.NewID == "" {
		return id
	}
	return k.NewID
}
