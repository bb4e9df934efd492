package database

import (
	"context"
	"strings"
	"testing"
	"time"

	"taskflow/models"
)

// cheapArgon2 keeps these tests fast; the parameters are what they check,
// not the cost.
var cheapArgon2 = argon2Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := newPasswordHasher(cheapArgon2)
	ctx := context.Background()
	encoded, err := h.hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash = %q, want the PHC argon2id form with its parameters", encoded)
	}
	for password, want := range map[string]bool{"correct horse": true, "correct horse ": false, "": false} {
		match, outdated, err := h.verify(ctx, encoded, password)
		if err != nil || match != want || outdated {
			t.Errorf("verify(%q) = %v, %v, %v; want %v, not outdated", password, match, outdated, err, want)
		}
	}
	stronger := newPasswordHasher(argon2Params{MemoryKiB: 2048, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32})
	if match, outdated, err := stronger.verify(ctx, encoded, "correct horse"); err != nil || !match || !outdated {
		t.Fatalf("verify with newer parameters = %v, %v, %v; want a match that is outdated", match, outdated, err)
	}
}

func TestDecodeArgon2RejectsMalformedHashes(t *testing.T) {
	valid := newPasswordHasher(cheapArgon2).dummy
	parts := strings.Split(valid, "$")
	replace := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	for name, encoded := range map[string]string{
		"empty":            "",
		"bcrypt":           "$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"argon2i":          replace(1, "argon2i"),
		"other version":    replace(2, "v=16"),
		"no parameters":    replace(3, ""),
		"zero memory":      replace(3, "m=0,t=1,p=1"),
		"huge memory":      replace(3, "m=99999999,t=1,p=1"),
		"zero iterations":  replace(3, "m=1024,t=0,p=1"),
		"zero parallelism": replace(3, "m=1024,t=1,p=0"),
		"bad salt":         replace(4, "!!!"),
		"empty key":        replace(5, ""),
		"extra field":      valid + "$extra",
	} {
		if _, _, _, err := decodeArgon2(encoded); err == nil {
			t.Errorf("%s: decodeArgon2(%q) succeeded, want an error", name, encoded)
		}
	}
	if _, _, _, err := decodeArgon2(valid); err != nil {
		t.Fatalf("decodeArgon2(valid) = %v", err)
	}
}

// TestHashingSlotsRespectTheDeadline: with every hashing slot taken, a
// request gives up when its context ends, as unavailable.
func TestHashingSlotsRespectTheDeadline(t *testing.T) {
	h := newPasswordHasher(cheapArgon2)
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.hash(ctx, "a password")
	if code := models.ErrorCode(err); code != models.CodeUnavailable {
		t.Fatalf("hash with no free slot: %v (code %q), want unavailable", err, code)
	}
}
