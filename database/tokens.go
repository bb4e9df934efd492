package database

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// refreshTokenBytes is the entropy of a refresh token: 256 bits.
const refreshTokenBytes = 32

// The refresh token stores: PostgresTokens (tokens_postgres.go), which
// issues and rotates in one statement each, and SQLiteTokens
// (tokens_sqlite.go), in transactions. Tokens are stored by their SHA-256
// only: a leaked table yields no usable token. Each token works once; the
// tokens issued from one login form a family so that replaying a spent one
// can revoke them all. What both engines do alike is here.
type tokenStore struct {
	db     *gorm.DB
	ttl    time.Duration
	maxAge time.Duration
	// reuseInterval is how long after its rotation a token still gets a
	// working pair (see WithReuseInterval); zero allows no reuse.
	reuseInterval time.Duration
}

func errInvalidRefreshToken() error {
	return models.Errorf(models.CodeUnauthorized, "the refresh token is invalid, expired or revoked")
}

// errSessionRevoked refuses to issue a token of a session that a token
// cutoff ended while it was being begun or refreshed.
func errSessionRevoked() error {
	return models.Errorf(models.CodeUnauthorized, "this sign-in began before the account's sessions were revoked: sign in again")
}

// sessionCutOff is SQL that is true when the token cutoff of userID ends a
// session begun at start (both SQL expressions): the account is deleted, or
// its tokens were revoked at or after that second. Issuing a token and
// spending one both test it in the statement that writes, so neither gets
// past a revocation committed before that statement began; and a token
// inserted while the revocation ran, which its UPDATE could not see to
// revoke, fails the same test when it is presented.
func sessionCutOff(userID, start string) string {
	return "EXISTS (SELECT 1 FROM token_cutoffs c WHERE c.user_id = " + userID +
		" AND (c.account_deleted OR c.not_before >= " + start + "))"
}

// rowSessionStart is, in SQL, when the session of a refresh_tokens row
// began; rows older than the column count from their own creation.
const rowSessionStart = "COALESCE(refresh_tokens.session_started_at, refresh_tokens.created_at)"

// familyRevoked is SQL that is true when a token of the family of a
// refresh_tokens row is revoked, and so the whole family. A revocation
// marks the rows it sees; one inserted beside it (a successor or a sibling
// being issued as reuse was detected) is ended by this test when it is
// presented.
const familyRevoked = "EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)"

// spendLiveSQL spends the live token of a hash (arguments: now, the hash,
// now): unspent, unrevoked, unexpired, its family not revoked and its
// session not cut off.
var spendLiveSQL = "UPDATE refresh_tokens SET used_at = ?" +
	" WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?" +
	" AND NOT " + familyRevoked +
	" AND NOT " + sessionCutOff("refresh_tokens.user_id", rowSessionStart)

// claimSiblingSQL records that a spent token (arguments: now, its id) gets
// its one sibling, if no other presentation has claimed it and its family
// is not revoked. Of concurrent presentations, one changes the row; the
// others see it claimed (PostgreSQL re-checks the row once the winner
// commits; SQLite runs one writer at a time) and are theft.
const claimSiblingSQL = "UPDATE refresh_tokens SET reused_at = ?" +
	" WHERE id = ? AND reused_at IS NULL AND revoked_at IS NULL AND NOT " + familyRevoked

// insertTokenSQL writes a token's row unless the user's cutoff ends its
// session (arguments: the row's columns, then the user id and the session
// start again); it writes no row when it refuses.
var insertTokenSQL = "INSERT INTO refresh_tokens" +
	" (id, user_id, family_id, token_hash, expires_at, session_ends_at, session_started_at, created_at)" +
	" SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT " + sessionCutOff("?", "?")

// insertArgs are the arguments of insertTokenSQL for row.
func insertArgs(row refreshTokenRow) []any {
	return []any{row.ID, row.UserID, row.FamilyID, row.TokenHash, row.ExpiresAt, row.SessionEndsAt, row.SessionStartedAt, row.CreatedAt,
		row.UserID, row.SessionStartedAt}
}

// rotation is what presenting a refresh token turned out to be.
type rotation int

const (
	rotationDone     rotation = iota // the token was live: it is spent now and a new one issued
	rotationRefused                  // no such token, expired, its family revoked or its session cut off
	rotationReplayed                 // spent or revoked already: the family is now revoked
)

// rotate spends the token of this hash and returns its successor in the
// same family. The spend is one UPDATE guarded by "used_at IS NULL AND
// revoked_at IS NULL", by its family and by the user's token cutoff
// (spendLiveSQL): of two concurrent rotations of one token only the one
// whose UPDATE changed the row wins; the other sees a spent token.
// Presenting a spent or revoked token revokes its whole family (someone
// holds a copy), and both cases answer unauthorized; except that a token
// spent less than the reuse interval ago gets one sibling, once (the
// loser of two tabs' simultaneous refreshes), and nothing is revoked: a
// presentation after that one is theft. A token whose session a cutoff
// ended, or whose family is revoked, is refused and revokes nothing more.
//
// The UPDATE is the transaction's first statement on purpose: it takes the
// write lock before anything is read. A deferred SQLite transaction that
// reads first and writes second fails (SQLITE_BUSY_SNAPSHOT) rather than
// waits when another writer commits in between.
func (s *tokenStore) rotate(ctx context.Context, hash string) (models.RefreshToken, error) {
	var next models.RefreshToken
	outcome := rotationRefused
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := storeTime()
		spent := tx.Exec(spendLiveSQL, now, hash, now)
		if spent.Error != nil {
			return spent.Error
		}
		var row refreshTokenRow
		err := tx.Where("token_hash = ?", hash).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case spent.RowsAffected == 1:
			next, outcome, err = s.issueNext(tx, row, now)
			return err
		case s.withinReuseInterval(row, now):
			claimed := tx.Exec(claimSiblingSQL, now, row.ID)
			if claimed.Error != nil {
				return claimed.Error
			}
			if claimed.RowsAffected == 1 {
				next, outcome, err = s.issueNext(tx, row, now)
				return err
			}
			outcome = rotationReplayed // its one sibling is taken: a third presentation
			return revokeFamily(tx, row.FamilyID, now)
		case row.UsedAt == nil && row.RevokedAt == nil:
			return nil // live but not spent: expired, its family revoked, or its session cut off
		case !row.ExpiresAt.After(now):
			return nil // expired: refused, but not a sign of theft
		default:
			outcome = rotationReplayed
			return revokeFamily(tx, row.FamilyID, now)
		}
	})
	if err != nil && models.ErrorCode(err) != models.CodeUnauthorized {
		return models.RefreshToken{}, classify(err)
	}
	if outcome != rotationDone {
		return models.RefreshToken{}, errInvalidRefreshToken()
	}
	return next, nil
}

// issueNext issues, inside tx, the next token of row's family and
// session: the successor of a token just spent, or its sibling.
func (s *tokenStore) issueNext(tx *gorm.DB, row refreshTokenRow, now time.Time) (models.RefreshToken, rotation, error) {
	next, err := s.insert(tx, row.UserID, row.FamilyID, now, sessionStartOf(row), s.sessionEnd(row, now))
	if err != nil {
		return models.RefreshToken{}, rotationRefused, err
	}
	return next, rotationDone, nil
}

// withinReuseInterval reports whether row, spent by its rotation but not
// revoked or expired, and with no sibling yet, is presented again soon
// enough to be the session's other tab rather than a stolen copy.
func (s *tokenStore) withinReuseInterval(row refreshTokenRow, now time.Time) bool {
	return s.reuseInterval > 0 && row.UsedAt != nil && row.ReusedAt == nil && row.RevokedAt == nil &&
		row.ExpiresAt.After(now) && now.Sub(*row.UsedAt) <= s.reuseInterval
}

// Revoke ends the login token belongs to: its whole family stops working.
// An unknown token is not an error (logging out twice is fine).
func (s *tokenStore) Revoke(ctx context.Context, token string) error {
	now := storeTime()
	err := s.db.WithContext(ctx).Exec("UPDATE refresh_tokens SET revoked_at = ? WHERE revoked_at IS NULL"+
		" AND family_id IN (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)", now, hashRefreshToken(token)).Error
	return classify(err)
}

// RevokeAll logs userID out everywhere: in one transaction every refresh
// token family of the user is revoked and its access tokens issued up to
// now are refused; then the cutoff is settled past that commit (see
// settleCutoff), so that no session begun before it survives.
func (s *tokenStore) RevokeAll(ctx context.Context, userID string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return revokeEverything(tx, userID)
	})
	if err != nil {
		return classify(err)
	}
	return settleCutoff(ctx, s.db, userID)
}

// revokeEverything revokes, inside tx, all of userID's refresh tokens and
// the access tokens issued up to now.
func revokeEverything(tx *gorm.DB, userID string) error {
	err := tx.Model(&refreshTokenRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", storeTime()).Error
	if err != nil {
		return err
	}
	return writeCutoff(tx, userID, false)
}

func revokeFamily(tx *gorm.DB, familyID string, now time.Time) error {
	return tx.Model(&refreshTokenRow{}).Where("family_id = ? AND revoked_at IS NULL", familyID).Update("revoked_at", now).Error
}

// sessionStartOf is when the family of row began; rows older than that
// record count from their own creation.
func sessionStartOf(row refreshTokenRow) time.Time {
	if row.SessionStartedAt != nil {
		return *row.SessionStartedAt
	}
	return row.CreatedAt
}

// sessionEnd is when the family of row ends. Families begun before session
// ends were recorded count from their first rotation since.
func (s *tokenStore) sessionEnd(row refreshTokenRow, now time.Time) time.Time {
	if row.SessionEndsAt != nil {
		return *row.SessionEndsAt
	}
	return now.Add(s.maxAge)
}

// insert stores a new token of familyID, of the session begun at
// sessionStart, unless the user's token cutoff ends that session
// (errSessionRevoked); it expires after the store's ttl or at sessionEnd,
// whichever is first.
func (s *tokenStore) insert(tx *gorm.DB, userID, familyID string, now, sessionStart, sessionEnd time.Time) (models.RefreshToken, error) {
	row, token, err := s.newToken(userID, familyID, now, sessionStart, sessionEnd)
	if err != nil {
		return models.RefreshToken{}, err
	}
	res := tx.Exec(insertTokenSQL, insertArgs(row)...)
	if err := issued(res); err != nil {
		return models.RefreshToken{}, err
	}
	return token, nil
}

// issued tells what writing a token row with insertTokenSQL came to: no
// row is a session the cutoff ended, and so is a user the row cannot
// refer to any more (the account was deleted meanwhile).
func issued(res *gorm.DB) error {
	switch {
	case res.Error != nil && isForeignKeyViolation(res.Error):
		return errSessionRevoked()
	case res.Error != nil:
		return res.Error
	case res.RowsAffected == 0:
		return errSessionRevoked()
	}
	return nil
}

// newToken makes a new random token of familyID, of the session begun at
// sessionStart, and the row that stores it, not yet written.
func (s *tokenStore) newToken(userID, familyID string, now, sessionStart, sessionEnd time.Time) (refreshTokenRow, models.RefreshToken, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return refreshTokenRow{}, models.RefreshToken{}, err
	}
	raw := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return refreshTokenRow{}, models.RefreshToken{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	sessionStart = sessionStart.UTC()
	row := refreshTokenRow{
		ID: id.String(), UserID: userID, FamilyID: familyID, TokenHash: hashRefreshToken(token),
		ExpiresAt: earliest(now.Add(s.ttl), sessionEnd), SessionEndsAt: &sessionEnd, SessionStartedAt: &sessionStart, CreatedAt: now,
	}
	return row, models.RefreshToken{
		Token: token, UserID: userID, FamilyID: familyID, ExpiresAt: row.ExpiresAt, SessionStartedAt: sessionStart,
	}, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// storeTime is the time the account and token stores write: UTC, to the microsecond PostgreSQL keeps,
// so a value returned at creation equals the one read back later.
func storeTime() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// hashRefreshToken is the stored form of a token: its SHA-256 in hex. A
// plain hash suffices (no salt, no stretching): the token has 256 random
// bits, so there is nothing to guess.
func hashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
