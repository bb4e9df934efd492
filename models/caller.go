package models

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Provider says where a caller's identity comes from.
type Provider string

const (
	// ProviderLocal is an account registered with this API.
	ProviderLocal Provider = "local"
	// ProviderExternal is a user of the frontend's Better Auth, known only by its token.
	ProviderExternal Provider = "external"
)

// Caller is the authenticated user of a request, taken from a verified token
// and never from the request body. UserID scopes every task and tag query.
type Caller struct {
	UserID   string
	Provider Provider
	Email    string
	Name     string
}

// externalIDPrefix starts every external user's id. Local ids are UUIDs,
// which never contain a colon, so the two can never be equal.
const externalIDPrefix = "ext:"

// ExternalUserID is the user_id of a frontend user: derived from the
// issuer that vouches for it and its sub, so that no token of the frontend,
// whatever sub it carries, can name a local account (or a user of another
// issuer). It is a fixed-length hash, whatever the length of sub.
func ExternalUserID(issuer, sub string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + sub))
	return externalIDPrefix + hex.EncodeToString(sum[:])
}

// IsExternalUserID reports whether id has the form ExternalUserID gives.
func IsExternalUserID(id string) bool {
	return len(id) == len(externalIDPrefix)+2*sha256.Size && strings.HasPrefix(id, externalIDPrefix)
}
