package database_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"taskflow/app/apptest"
	"taskflow/auth"
	"taskflow/database"
	"taskflow/models"
)

// TestCutoffsAreWrittenByTheirEvents: logging out everywhere, changing the
// password and deleting an account each leave the user's cutoff, the
// revocations cache sees it, and a deletion is never undone by a later
// cutoff of the same id.
func TestCutoffsAreWrittenByTheirEvents(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		ctx := context.Background()
		users, tokens, cutoffs := database.NewUsers(gdb), newTokens(gdb, time.Hour, 24*time.Hour), database.NewCutoffs(gdb)
		user := createUser(t, users, "cutoff@example.com", "a password")
		revocations := auth.NewRevocations(cutoffs, nil) // never trusted: every lookup reads the database

		requireCutoff := func(want models.TokenCutoff, after time.Time) {
			t.Helper()
			got, err := revocations.Cutoff(ctx, user.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.UserID != user.ID || got.AccountDeleted != want.AccountDeleted || got.NotBefore.Before(after) {
				t.Fatalf("cutoff = %+v, want %+v not before %v", got, want, after)
			}
		}
		requireCutoff(models.TokenCutoff{}, time.Time{})

		before := time.Now().Add(-time.Millisecond)
		if err := tokens.RevokeAll(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		requireCutoff(models.TokenCutoff{}, before)

		before = time.Now().Add(-time.Millisecond)
		requireCodeOf(t, users.ChangePassword(ctx, user.ID, "a wrong password", "a new password"), models.CodeUnauthorized)
		if err := users.ChangePassword(ctx, user.ID, "a password", "a new password"); err != nil {
			t.Fatal(err)
		}
		requireCutoff(models.TokenCutoff{}, before)

		if err := users.DeleteAccount(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		if err := tokens.RevokeAll(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		requireCutoff(models.TokenCutoff{AccountDeleted: true}, before)

		changed, err := cutoffs.ChangedSince(ctx, before)
		if err != nil || len(changed) != 1 || changed[0].UserID != user.ID {
			t.Fatalf("ChangedSince = %+v, %v; want the one user's cutoff", changed, err)
		}
	})
}

// TestRevocationsCheckChanges: a started cache that has a user cached
// learns of a cutoff written afterwards within the guard's bound, from
// the checks its own lookups drive.
func TestRevocationsCheckChanges(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		ctx := context.Background()
		revocations := auth.NewRevocations(database.NewCutoffs(gdb), nil)
		revocations.Start()
		if c, err := revocations.Cutoff(ctx, "external-user"); err != nil || !c.NotBefore.IsZero() {
			t.Fatalf("cutoff = %+v, %v; want none", c, err)
		}
		written := time.Now()
		if err := newTokens(gdb, time.Hour, 24*time.Hour).RevokeAll(ctx, "external-user"); err != nil {
			t.Fatal(err)
		}
		for {
			c, err := revocations.Cutoff(ctx, "external-user")
			if err != nil {
				t.Fatal(err)
			}
			if !c.NotBefore.IsZero() {
				break
			}
			if time.Since(written) > time.Second {
				t.Fatal("the cache still has no cutoff a second after it was written")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// countingCutoffs counts the reads of the changed cutoffs a cache makes.
type countingCutoffs struct {
	*database.Cutoffs
	changedSince atomic.Int64
}

func (c *countingCutoffs) ChangedSince(ctx context.Context, since time.Time) ([]models.TokenCutoff, error) {
	c.changedSince.Add(1)
	return c.Cutoffs.ChangedSince(ctx, since)
}

// TestRevocationChecksAreSharedAndDrivenByLookups: a started cache reads
// nothing while nobody looks up a cutoff, and concurrent lookups that find
// it stale share one read of the changed cutoffs.
func TestRevocationChecksAreSharedAndDrivenByLookups(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		store := &countingCutoffs{Cutoffs: database.NewCutoffs(gdb)}
		revocations := auth.NewRevocations(store, nil)
		revocations.Start()
		time.Sleep(time.Second)
		if n := store.changedSince.Load(); n != 0 {
			t.Fatalf("with no lookup for a second, the cache read the changed cutoffs %d times, want none", n)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if _, err := revocations.Cutoff(context.Background(), fmt.Sprintf("user-%d", i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := store.changedSince.Load(); n != 1 {
			t.Fatalf("20 concurrent lookups on a stale cache read the changed cutoffs %d times, want once", n)
		}
	})
}

// TestEveryCutoffWriteIsAnnounced: on PostgreSQL each statement that
// writes a cutoff (logging out everywhere, changing the password, deleting
// an account, each with its settling UPDATE) notifies database.CutoffChannel
// with the user's id at its commit, so that listening replicas hear it.
func TestEveryCutoffWriteIsAnnounced(t *testing.T) {
	db := apptest.Postgres(t)
	gdb := openAuthDB(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+database.CutoffChannel); err != nil {
		t.Fatal(err)
	}
	users, tokens := database.NewUsers(gdb), newTokens(gdb, time.Hour, 24*time.Hour)
	user := createUser(t, users, "announced@example.com", "a password")

	requireAnnounced := func(event string) {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		n, err := conn.WaitForNotification(waitCtx)
		if err != nil {
			t.Fatalf("%s: no notification on %s within a second: %v", event, database.CutoffChannel, err)
		}
		if n.Payload != user.ID {
			t.Fatalf("%s: notification %q, want the user id %q", event, n.Payload, user.ID)
		}
		// The settling UPDATE announces again: drain what followed.
		for {
			drainCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			_, err := conn.WaitForNotification(drainCtx)
			cancel()
			if err != nil {
				return
			}
		}
	}
	if err := tokens.RevokeAll(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	requireAnnounced("logout-all")
	if err := users.ChangePassword(ctx, user.ID, "a password", "a new password"); err != nil {
		t.Fatal(err)
	}
	requireAnnounced("password change")
	if err := users.DeleteAccount(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	requireAnnounced("account deletion")

	// A cutoff written by hand (a support script) is announced as well.
	if err := gdb.Exec("UPDATE token_cutoffs SET changed_at = changed_at WHERE user_id = ?", user.ID).Error; err != nil {
		t.Fatal(err)
	}
	requireAnnounced("an UPDATE outside the stores")
}

func TestTokenCutoffRefuses(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	sameSecond, before, after := at.Truncate(time.Second), at.Add(-time.Second), at.Truncate(time.Second).Add(time.Second)
	for _, tc := range []struct {
		name   string
		cutoff models.TokenCutoff
		issued *time.Time
		want   bool
	}{
		{"no cutoff", models.TokenCutoff{}, &before, false},
		{"no cutoff, no iat", models.TokenCutoff{}, nil, false},
		{"issued before", models.TokenCutoff{NotBefore: at}, &before, true},
		{"issued in the same second", models.TokenCutoff{NotBefore: at}, &sameSecond, true},
		{"issued the second after", models.TokenCutoff{NotBefore: at}, &after, false},
		{"no iat", models.TokenCutoff{NotBefore: at}, nil, true},
		{"deleted account", models.TokenCutoff{NotBefore: at, AccountDeleted: true}, &after, true},
	} {
		if got := tc.cutoff.Refuses(tc.issued); got != tc.want {
			t.Errorf("%s: Refuses = %v, want %v", tc.name, got, tc.want)
		}
	}
}
