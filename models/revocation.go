package models

import "time"

// TokenClockSkew is how far ahead of this server's clock a token's iat may
// lie: its issuer's clock may run a little fast. The guard refuses a token
// stamped further ahead, and a cutoff gives the frontend's tokens this
// much leeway (see TokenCutoff).
const TokenClockSkew = 5 * time.Second

// TokenCutoff is when a user's access tokens stopped being honoured:
// tokens issued at or before NotBefore are refused (to the second, the
// precision of a token's iat). AccountDeleted says the cutoff is the
// account's deletion: a local account's tokens are then all refused (its
// id is never used again), while an external user's next token from the
// frontend, issued after the cutoff, is a new and empty account of the
// same user. The zero value refuses nothing.
//
// An external user's tokens are stamped by the frontend's clock, which the
// guard lets run up to TokenClockSkew ahead, so their cutoff refuses every
// iat up to NotBefore+TokenClockSkew. That is what makes it hold whatever
// a token's iat claims: any token the guard accepted at some instant V up
// to the cutoff had an iat of at most V+TokenClockSkew, so it is refused
// from the cutoff on, for good, even once its iat has passed. Without the
// leeway, a token minted a moment before the cutoff with its iat a few
// seconds ahead would come out after it. A token minted before the cutoff
// with an iat further ahead than that was never accepted before the
// cutoff, and from its iat on it cannot be told from a token minted then:
// only a signer that ignores the clock, that is one holding the frontend's
// key, makes it, and such a signer can mint after any cutoff as well (its
// remedy is rotating the key). The frontend's first tokens after a cutoff
// come out refused for TokenClockSkew, so logging out everywhere answers
// only once that has passed (see RefusedThrough).
//
// This API's own tokens carry iat from its own clock, never a client's:
// their cutoff takes no leeway, and a login right after it works at once.
type TokenCutoff struct {
	UserID         string
	NotBefore      time.Time
	AccountDeleted bool
}

// RefusedThrough is the latest iat the cutoff refuses: NotBefore for this
// API's own accounts, NotBefore+TokenClockSkew for an external user's,
// whose tokens the frontend stamps.
func (c TokenCutoff) RefusedThrough() time.Time {
	if IsExternalUserID(c.UserID) {
		return c.NotBefore.Add(TokenClockSkew)
	}
	return c.NotBefore
}

// Refuses reports whether a token issued at issuedAt (nil when the token
// carries no iat) is no longer honoured. A token without iat cannot be
// placed after a cutoff, so any cutoff refuses it.
func (c TokenCutoff) Refuses(issuedAt *time.Time) bool {
	if c.AccountDeleted && !IsExternalUserID(c.UserID) {
		return true
	}
	if c.NotBefore.IsZero() {
		return false
	}
	if issuedAt == nil {
		return true
	}
	return issuedAt.Unix() <= c.RefusedThrough().Unix()
}
