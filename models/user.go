package models

import (
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// User is a local account: someone who registered with this API. Its
// password hash is not part of it; the hash never leaves the database
// package.
type User struct {
	ID        string
	Email     string  // NormalizeEmail's form
	Name      *string // nil when not given
	CreatedAt time.Time
}

// Registration is what creating an account takes. Password is the plain
// password; the database package hashes it and forgets it.
type Registration struct {
	Email    string
	Name     *string
	Password string
}

// RefreshToken is a newly issued refresh token. Token is the opaque value
// the client receives, once; only its SHA-256 is stored. Tokens issued from
// one login share a family. SessionStartedAt is when that login began, to
// the second (see SessionStart): a token cutoff at or after it ends the
// session, and the access tokens issued with the family's tokens carry it.
type RefreshToken struct {
	Token            string
	UserID           string
	FamilyID         string
	ExpiresAt        time.Time
	SessionStartedAt time.Time
}

// SessionStart is the start of a session begun at t, as sessions and
// cutoffs are compared: to the whole second, in UTC, the precision of a
// token's time claims. A cutoff in the same second as a login's start ends
// that session (see TokenCutoff.Refuses); the answer to a revocation waits
// for the next second, so a login after it is not caught.
func SessionStart(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// NormalizeEmail is the one form an email is stored and looked up in:
// trimmed, lower-cased and in Unicode NFKC, so addresses that differ only
// in case, in how an accented letter is encoded (NFC or NFD) or in
// compatibility forms (fullwidth letters) are the same account. NFKC runs
// on both sides of lower-casing because each can undo the other's form.
func NormalizeEmail(email string) string {
	return norm.NFKC.String(strings.ToLower(norm.NFKC.String(strings.TrimSpace(email))))
}

// HasInvisibleRunes reports whether s holds a character beyond ASCII that
// shows as nothing or as a space (zero-width spaces and joiners, the soft
// hyphen, a byte order mark, controls, separators, variation selectors):
// two emails that differ only by one look the same to a person. ASCII
// spaces and controls are left to the email syntax check, which refuses
// them already.
func HasInvisibleRunes(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Z, unicode.Variation_Selector) {
			return true
		}
	}
	return false
}
