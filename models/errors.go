// Package models holds TaskFlow's domain types and the one error type that
// every layer speaks. It imports neither Fiber nor GORM's drivers.
package models

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Code classifies an Error. The HTTP layer maps each code to one status.
type Code string

const (
	CodeInvalid            Code = "validation"          // well-formed input that fails validation
	CodeBadRequest         Code = "bad-request"         // malformed input (JSON syntax, parameter type)
	CodeUnauthorized       Code = "unauthorized"        // missing or unacceptable credentials
	CodeForbidden          Code = "forbidden"           // authenticated, but this caller may not do this
	CodeNotFound           Code = "not-found"           // no such resource for this user
	CodeConflict           Code = "conflict"            // a uniqueness rule would be broken
	CodePreconditionFailed Code = "precondition-failed" // If-Match does not match
	CodeRateLimited        Code = "rate-limited"        // too many requests
	CodeUnavailable        Code = "unavailable"         // the database cannot be reached
	CodeInternal           Code = "internal"            // a bug; never shown in detail

	// Codes that narrow another code's status to a problem type of their
	// own, so a client can tell them apart from the broader case.
	CodeIdempotencyKeyReused   Code = "idempotency-key-reused"    // 422: the key belongs to another request
	CodeIdempotencyKeyInFlight Code = "idempotency-key-in-flight" // 409: the key's first request is still running

	// Codes of requests refused before a handler could read them. Only
	// CodeUnsupportedMediaType is raised by this code (a body that is not
	// JSON); the others name what the HTTP server itself refuses.
	CodeUnsupportedMediaType Code = "unsupported-media-type" // a body that is not JSON where JSON is required
	CodeMethodNotAllowed     Code = "method-not-allowed"     // the path exists, but not with this method
	CodeRequestTimeout       Code = "request-timeout"        // the request did not arrive in time
	CodePayloadTooLarge      Code = "payload-too-large"      // the body is over the limit
	CodeHeadersTooLarge      Code = "headers-too-large"      // the headers are over the limit
)

// FieldError names one invalid input field and why it is invalid.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an application error with a code, a message safe to show to the
// client, and, for validation errors, the fields at fault. The wrapped cause
// is for logs only.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Cause   error
	// Current is, for a failed precondition where the store read it, the
	// object as it is now (JSON): a batch answers a stale version with it.
	Current []byte
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an Error with the given code and a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error listing the fields at fault.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: fields}
}

// Unavailable wraps a database failure the client can do nothing about but retry.
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "the database is unavailable, try again shortly", Cause: cause}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// HeaderError is an error that must reach the client with response
// headers, such as the challenge of a 401 or the Retry-After of a 429.
// The HTTP layer sets them; the error says which, so no handler sets
// headers for an error response itself.
type HeaderError interface {
	error
	ResponseHeaders() map[string]string
}

// WithHeaders returns err with response headers to send along with it.
func WithHeaders(err *Error, headers map[string]string) error {
	return &headerError{err: err, headers: headers}
}

type headerError struct {
	err     *Error
	headers map[string]string
}

func (e *headerError) Error() string                      { return e.err.Error() }
func (e *headerError) Unwrap() error                      { return e.err }
func (e *headerError) ResponseHeaders() map[string]string { return e.headers }

// RateLimited is the error of a limit that lets the client try again
// after retryAfter, which it is told in whole seconds, rounded up.
func RateLimited(retryAfter time.Duration) error {
	seconds := retryAfterSeconds(retryAfter)
	return WithHeaders(Errorf(CodeRateLimited, "too many requests: try again in %s seconds", seconds),
		map[string]string{"Retry-After": seconds})
}

// retryAfterSeconds formats d for a Retry-After header: whole seconds,
// rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
