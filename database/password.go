package database

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"

	"taskflow/models"
)

// argon2Params are the cost settings of one argon2id hash. They are written
// into every stored hash (PHC string format), so raising them later only
// changes new hashes; old ones still verify and are upgraded at the next
// successful login.
type argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// defaultArgon2 costs about 25-40 ms on one core of a small cloud VM and
// 32 MiB of memory per hash: above OWASP's minimum for argon2id (19 MiB,
// t=2, p=1) while small enough that a 512 MiB container survives the
// hashing slots below running at once.
var defaultArgon2 = argon2Params{MemoryKiB: 32 * 1024, Iterations: 2, Parallelism: 2, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash, so a corrupt row
// cannot make verification allocate gigabytes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
)

var errMalformedHash = errors.New("malformed password hash")

// passwordHasher hashes and verifies passwords with argon2id. At most
// slots hashes run at once: each takes MemoryKiB of memory, so a burst of
// logins waits its turn instead of exhausting the container's memory.
type passwordHasher struct {
	params argon2Params
	slots  chan struct{}
	// dummy has the form of a hash made with the current parameters but
	// random salt and key. Logging in with an unknown email verifies
	// against it, so it costs the same as a wrong password and the two
	// cannot be told apart by their timing. Building it computes no hash:
	// start-up stays fast and never holds argon2's memory.
	dummy string
}

func newPasswordHasher(params argon2Params) *passwordHasher {
	h := &passwordHasher{params: params, slots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	h.dummy = formatArgon2(params, randomBytes(int(params.SaltLen)), randomBytes(int(params.KeyLen)))
	return h
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

// hash returns the PHC-encoded argon2id hash of password with a new salt.
func (h *passwordHasher) hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.encode(h.params, []byte(password)), nil
}

// verify reports whether password matches the encoded hash, and whether
// that hash was made with other parameters than the current ones (so the
// caller can store a fresh hash).
func (h *passwordHasher) verify(ctx context.Context, encoded, password string) (match, outdated bool, err error) {
	params, salt, want, err := decodeArgon2(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, params.Iterations, params.MemoryKiB, params.Parallelism, uint32(len(want)))
	match = subtle.ConstantTimeCompare(got, want) == 1
	return match, params != h.params, nil
}

// burnDummy does the work of a failed verification, for unknown emails.
func (h *passwordHasher) burnDummy(ctx context.Context, password string) error {
	_, _, err := h.verify(ctx, h.dummy, password)
	return err
}

func (h *passwordHasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return &models.Error{Code: models.CodeUnavailable, Message: "the server is busy, try again shortly", Cause: ctx.Err()}
	}
}

func (h *passwordHasher) release() { <-h.slots }

func (h *passwordHasher) encode(p argon2Params, password []byte) string {
	salt := randomBytes(int(p.SaltLen))
	return formatArgon2(p, salt, argon2.IDKey(password, salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen))
}

// formatArgon2 writes the PHC string format that decodeArgon2 reads.
func formatArgon2(p argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodeArgon2 parses "$argon2id$v=19$m=32768,t=2,p=2$<salt>$<key>".
func decodeArgon2(encoded string) (argon2Params, []byte, []byte, error) {
	var p argon2Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, errMalformedHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return p, nil, nil, errMalformedHash
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > maxMemoryKiB || p.Iterations == 0 || p.Iterations > maxIterations || p.Parallelism == 0 {
		return p, nil, nil, errMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) == 0 {
		return p, nil, nil, errMalformedHash
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return p, nil, nil, errMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
