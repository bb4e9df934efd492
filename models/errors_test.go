package models

import (
	"errors"
	"testing"
	"time"
)

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "1", 300 * time.Millisecond: "1", 1500 * time.Millisecond: "2", 15 * time.Minute: "900"} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	err := RateLimited(1500 * time.Millisecond)
	if code := ErrorCode(err); code != CodeRateLimited {
		t.Fatalf("code = %s, want %s", code, CodeRateLimited)
	}
	var withHeaders HeaderError
	if !errors.As(err, &withHeaders) {
		t.Fatal("RateLimited is not a HeaderError")
	}
	if got := withHeaders.ResponseHeaders()["Retry-After"]; got != "2" {
		t.Fatalf("Retry-After = %q, want 2", got)
	}
	var modelErr *Error
	if !errors.As(err, &modelErr) || modelErr.Message != "too many requests: try again in 2 seconds" {
		t.Fatalf("message = %v", err)
	}
}
