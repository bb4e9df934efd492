package database_test

import (
	"context"
	"testing"
	"time"

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
		revocations := auth.NewRevocations(cutoffs, nil) // never polled: every lookup reads the database

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

// TestRevocationsPollChanges: a started cache that has a user cached
// learns of a cutoff written afterwards within the guard's bound, without
// a lookup reading the database.
func TestRevocationsPollChanges(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		ctx := context.Background()
		revocations := auth.NewRevocations(database.NewCutoffs(gdb), nil)
		revocations.Start()
		t.Cleanup(revocations.Close)
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
