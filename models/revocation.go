package models

import "time"

// TokenCutoff is when a user's access tokens stopped being honoured:
// tokens issued at or before NotBefore are refused (to the second, the
// precision of a token's iat), and all of them once the account is
// deleted. The zero value refuses nothing.
type TokenCutoff struct {
	UserID         string
	NotBefore      time.Time
	AccountDeleted bool
}

// Refuses reports whether a token issued at issuedAt (nil when the token
// carries no iat) is no longer honoured. A token without iat cannot be
// placed after a cutoff, so any cutoff refuses it.
func (c TokenCutoff) Refuses(issuedAt *time.Time) bool {
	if c.AccountDeleted {
		return true
	}
	if c.NotBefore.IsZero() {
		return false
	}
	if issuedAt == nil {
		return true
	}
	return issuedAt.Unix() <= c.NotBefore.Unix()
}
