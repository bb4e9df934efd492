package database_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

func TestTokensRotation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "rotating@example.com", "a password")
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()

		first, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if first.UserID != user.ID || len(first.Token) != 43 || first.ExpiresAt.Before(time.Now().Add(59*time.Minute)) {
			t.Fatalf("issued %+v, want a 43-character token of the user for an hour", first)
		}
		var stored []string
		if err := gdb.Raw("SELECT token_hash FROM refresh_tokens").Scan(&stored).Error; err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(first.Token))
		if len(stored) != 1 || stored[0] != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored %v, want only the SHA-256 of the token", stored)
		}

		second, err := tokens.Rotate(ctx, first.Token)
		if err != nil {
			t.Fatal(err)
		}
		if second.FamilyID != first.FamilyID || second.Token == first.Token || second.UserID != user.ID {
			t.Fatalf("rotated to %+v, want a new token of the same family and user", second)
		}
		_, err = tokens.Rotate(ctx, first.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)
		_, err = tokens.Rotate(ctx, second.Token) // the replay revoked the family
		requireCodeOf(t, err, models.CodeUnauthorized)

		// Another login's family is not touched by that replay.
		other, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Rotate(ctx, other.Token); err != nil {
			t.Fatalf("a token of another family: %v", err)
		}
		_, err = tokens.Rotate(ctx, "never-issued")
		requireCodeOf(t, err, models.CodeUnauthorized)
	})
}

func TestTokensRevoke(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "leaving@example.com", "a password")
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()
		issued, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		current, err := tokens.Rotate(ctx, issued.Token)
		if err != nil {
			t.Fatal(err)
		}
		for _, token := range []string{current.Token, current.Token, "never-issued"} {
			if err := tokens.Revoke(ctx, token); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
		}
		_, err = tokens.Rotate(ctx, current.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)
	})
}

func TestTokensExpire(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "expiring@example.com", "a password")
		ctx := context.Background()
		expired, err := newTokens(gdb, -time.Minute, 24*time.Hour).Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		_, err = tokens.Rotate(ctx, expired.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)

		// A new login sweeps the user's expired tokens.
		if _, err := tokens.Issue(ctx, user.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := gdb.Raw("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ?", user.ID).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d refresh tokens after the sweep, want 1", n)
		}
	})
}

// TestTokensConcurrentRotation rotates one token from many goroutines at
// once: exactly one wins, the others see a replay (never a database
// error), and the replay revokes the winner's new token too.
func TestTokensConcurrentRotation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "racing@example.com", "a password")
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()
		issued, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		const racers = 10
		results := make([]models.RefreshToken, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() { results[i], errs[i] = tokens.Rotate(ctx, issued.Token) })
		}
		wg.Wait()
		var winner string
		for i, err := range errs {
			switch {
			case err == nil && winner != "":
				t.Fatal("two concurrent rotations of one token both succeeded")
			case err == nil:
				winner = results[i].Token
			case models.ErrorCode(err) != models.CodeUnauthorized:
				t.Fatalf("rotation %d failed: %v", i, err)
			}
		}
		if winner == "" {
			t.Fatal("no concurrent rotation succeeded")
		}
		_, err = tokens.Rotate(ctx, winner)
		requireCodeOf(t, err, models.CodeUnauthorized)
	})
}

// TestTokensSessionMaxAge: rotation keeps a family going, but no token of
// it outlives the session that its login began.
func TestTokensSessionMaxAge(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "bounded@example.com", "a password")
		const maxAge = 2 * time.Second
		tokens := newTokens(gdb, time.Hour, maxAge)
		ctx := context.Background()
		loggedIn := time.Now()
		issued, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		current := issued
		for range 2 {
			time.Sleep(maxAge / 4)
			if current, err = tokens.Rotate(ctx, current.Token); err != nil {
				t.Fatalf("Rotate within the session: %v", err)
			}
			if end := loggedIn.Add(maxAge + time.Second); current.ExpiresAt.After(end) {
				t.Fatalf("a rotated token expires at %v, after the session's end %v", current.ExpiresAt, end)
			}
		}
		time.Sleep(time.Until(loggedIn.Add(maxAge + 100*time.Millisecond)))
		_, err = tokens.Rotate(ctx, current.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)
	})
}

// TestTokensCutoffEndsSessions: a token cutoff ends every session begun at
// or before its second, in the statement that would issue or rotate, even
// for tokens its own revocation did not mark (they were being inserted as
// it ran); sessions begun after it are untouched.
func TestTokensCutoffEndsSessions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "cut-off@example.com", "a password")
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()
		began := time.Now().Add(-2 * time.Second)
		issued, err := tokens.Issue(ctx, user.ID, began)
		if err != nil {
			t.Fatal(err)
		}
		if want := began.UTC().Truncate(time.Second); !issued.SessionStartedAt.Equal(want) {
			t.Fatalf("session started at %v, want %v (the login's start, to the second)", issued.SessionStartedAt, want)
		}
		current, err := tokens.Rotate(ctx, issued.Token)
		if err != nil {
			t.Fatal(err)
		}
		if !current.SessionStartedAt.Equal(issued.SessionStartedAt) {
			t.Fatalf("the successor's session started at %v, want the family's %v", current.SessionStartedAt, issued.SessionStartedAt)
		}
		if err := tokens.RevokeAll(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		// As if the revocation had not seen the family's rows.
		if err := gdb.Exec("UPDATE refresh_tokens SET revoked_at = NULL WHERE user_id = ?", user.ID).Error; err != nil {
			t.Fatal(err)
		}
		_, err = tokens.Rotate(ctx, current.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)
		var spent int64
		if err := gdb.Raw("SELECT COUNT(*) FROM refresh_tokens WHERE user_id = ? AND used_at IS NOT NULL", user.ID).Scan(&spent).Error; err != nil {
			t.Fatal(err)
		}
		if spent != 1 {
			t.Fatalf("%d spent tokens, want 1: a refused rotation spends nothing", spent)
		}

		var cutoff time.Time
		if err := gdb.Raw("SELECT not_before FROM token_cutoffs WHERE user_id = ?", user.ID).Row().Scan(&cutoff); err != nil {
			t.Fatal(err)
		}
		for _, start := range []time.Time{began, cutoff, cutoff.Truncate(time.Second)} {
			_, err = tokens.Issue(ctx, user.ID, start)
			requireCodeOf(t, err, models.CodeUnauthorized)
		}
		after, err := tokens.Issue(ctx, user.ID, cutoff.Truncate(time.Second).Add(time.Second))
		if err != nil {
			t.Fatalf("a login begun in the second after the cutoff: %v", err)
		}
		if _, err := tokens.Rotate(ctx, after.Token); err != nil {
			t.Fatalf("rotating a session begun after the cutoff: %v", err)
		}
	})
}

// TestTokensRevokedFamilyRefusesLateRows: a family with a revoked token is
// revoked as a whole, so a token of it that the revocation did not mark
// (it was being inserted as the revocation ran) is refused, and does not
// count as a replay.
func TestTokensRevokedFamilyRefusesLateRows(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		user := createUser(t, database.NewUsers(gdb), "late-row@example.com", "a password")
		tokens := newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()
		issued, err := tokens.Issue(ctx, user.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		current, err := tokens.Rotate(ctx, issued.Token)
		if err != nil {
			t.Fatal(err)
		}
		if err := tokens.Revoke(ctx, current.Token); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(current.Token))
		if err := gdb.Exec("UPDATE refresh_tokens SET revoked_at = NULL WHERE token_hash = ?", hex.EncodeToString(sum[:])).Error; err != nil {
			t.Fatal(err)
		}
		_, err = tokens.Rotate(ctx, current.Token)
		requireCodeOf(t, err, models.CodeUnauthorized)
	})
}
