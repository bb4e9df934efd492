package models

import (
	"strings"
	"time"
)

// User is a local account: someone who registered with this API. Its
// password hash is not part of it; the hash never leaves the database
// package.
type User struct {
	ID        string
	Email     string  // trimmed and lower-cased
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
// one login share a family.
type RefreshToken struct {
	Token     string
	UserID    string
	FamilyID  string
	ExpiresAt time.Time
}

// NormalizeEmail is the one form an email is stored and looked up in:
// trimmed and lower-cased, so addresses differing only in case are the
// same account.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}
