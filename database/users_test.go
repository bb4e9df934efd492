package database_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"

	"taskflow/app/apptest"
	"taskflow/database"
	"taskflow/models"
)

// openAuthDB opens and migrates db for the account and token store tests.
func openAuthDB(t testing.TB, db apptest.Database) *gorm.DB {
	t.Helper()
	gdb, err := database.Open(context.Background(), database.Options{URL: db.URL, MaxOpenConns: 8, MaxIdleConns: 8})
	if err != nil {
		t.Fatalf("open %s: %v", db.Name, err)
	}
	t.Cleanup(func() { _ = database.Close(gdb) })
	if err := database.Migrate(context.Background(), gdb, database.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return gdb
}

func createUser(t testing.TB, users *database.Users, email, password string) models.User {
	t.Helper()
	user, err := users.Create(context.Background(), models.Registration{Email: email, Password: password})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return user
}

func storedHash(t testing.TB, gdb *gorm.DB, userID string) string {
	t.Helper()
	var hash string
	if err := gdb.Raw("SELECT password_hash FROM users WHERE id = ?", userID).Scan(&hash).Error; err != nil {
		t.Fatal(err)
	}
	return hash
}

func requireCodeOf(t testing.TB, err error, want models.Code) *models.Error {
	t.Helper()
	if code := models.ErrorCode(err); code != want {
		t.Fatalf("error %v has code %q, want %q", err, code, want)
	}
	var e *models.Error
	errors.As(err, &e)
	return e
}

func TestUsersCreateAndAuthenticate(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		users := database.NewUsers(gdb)
		ctx := context.Background()
		name := "Ada"
		created, err := users.Create(ctx, models.Registration{Email: "ada@example.com", Name: &name, Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		if id, err := uuid.Parse(created.ID); err != nil || id.Version() != 7 {
			t.Fatalf("id %q is not a UUID v7", created.ID)
		}
		if created.CreatedAt.Location() != time.UTC || !created.CreatedAt.Equal(created.CreatedAt.Truncate(time.Microsecond)) {
			t.Fatalf("created_at %v is not UTC to the microsecond", created.CreatedAt)
		}

		hash := storedHash(t, gdb, created.ID)
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=32768,t=2,p=2$") || strings.Contains(hash, "correct horse") {
			t.Fatalf("stored hash %q is not an argon2id hash with the current parameters", hash)
		}
		other := createUser(t, users, "twin@example.com", "correct horse")
		if storedHash(t, gdb, other.ID) == hash {
			t.Fatal("two accounts with one password have the same hash: no salt")
		}

		got, err := users.Authenticate(ctx, "ada@example.com", "correct horse")
		if err != nil || !sameUser(got, created) {
			t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, created)
		}
		reread, err := users.Get(ctx, created.ID)
		if err != nil || !sameUser(reread, created) {
			t.Fatalf("Get = %+v, %v; want %+v", reread, err, created)
		}
		wrong := requireCodeOf(t, mustFail(users.Authenticate(ctx, "ada@example.com", "wrong horse")), models.CodeUnauthorized)
		unknown := requireCodeOf(t, mustFail(users.Authenticate(ctx, "nobody@example.com", "wrong horse")), models.CodeUnauthorized)
		if wrong.Message != unknown.Message {
			t.Fatalf("wrong password says %q, unknown email %q: want the same", wrong.Message, unknown.Message)
		}

		_, err = users.Create(ctx, models.Registration{Email: "ada@example.com", Password: "another one"})
		requireCodeOf(t, err, models.CodeConflict)
		_, err = users.Get(ctx, uuid.NewString())
		requireCodeOf(t, err, models.CodeNotFound)
	})
}

func sameUser(a, b models.User) bool {
	return a.ID == b.ID && a.Email == b.Email && a.CreatedAt.Equal(b.CreatedAt) &&
		(a.Name == nil) == (b.Name == nil) && (a.Name == nil || *a.Name == *b.Name)
}

func mustFail(_ models.User, err error) error { return err }

// TestUsersUpgradeOutdatedHash stores a hash made with weaker parameters:
// it still verifies, and the login replaces it with a current one.
func TestUsersUpgradeOutdatedHash(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		users := database.NewUsers(gdb)
		user := createUser(t, users, "old@example.com", "placeholder")
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		key := argon2.IDKey([]byte("an old password"), salt, 1, 8*1024, 1, 32)
		b64 := base64.RawStdEncoding.EncodeToString
		old := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s", b64(salt), b64(key))
		if err := gdb.Exec("UPDATE users SET password_hash = ? WHERE id = ?", old, user.ID).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := users.Authenticate(context.Background(), "old@example.com", "an old password"); err != nil {
			t.Fatalf("an old-parameter hash does not verify: %v", err)
		}
		if hash := storedHash(t, gdb, user.ID); !strings.HasPrefix(hash, "$argon2id$v=19$m=32768,t=2,p=2$") {
			t.Fatalf("hash after login = %q, want it upgraded to the current parameters", hash)
		}
		if _, err := users.Authenticate(context.Background(), "old@example.com", "an old password"); err != nil {
			t.Fatalf("the upgraded hash does not verify: %v", err)
		}
	})
}

func TestUsersDeleteAccount(t *testing.T) {
	apptest.Each(t, func(t *testing.T, db apptest.Database) {
		gdb := openAuthDB(t, db)
		users, tokens := database.NewUsers(gdb), newTokens(gdb, time.Hour, 24*time.Hour)
		ctx := context.Background()
		gone := createUser(t, users, "gone@example.com", "a password")
		kept := createUser(t, users, "kept@example.com", "a password")
		for _, id := range []string{gone.ID, kept.ID} {
			if _, err := tokens.Issue(ctx, id, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if err := users.DeleteAccount(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		requireCodeOf(t, users.DeleteAccount(ctx, gone.ID), models.CodeNotFound)
		_, err := users.Get(ctx, gone.ID)
		requireCodeOf(t, err, models.CodeNotFound)
		var left []string
		if err := gdb.Raw("SELECT user_id FROM refresh_tokens").Scan(&left).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(left, []string{kept.ID}) {
			t.Fatalf("refresh tokens left belong to %v, want only %s", left, kept.ID)
		}
		if err := users.DeleteData(ctx, "never-seen"); err != nil {
			t.Fatalf("DeleteData of a user without data: %v", err)
		}
	})
}

// TestUsersAuthenticateTiming checks that an unknown email costs about as
// much as a wrong password: the medians of interleaved runs are within a
// factor of 2 of each other. Skipping the hash would make an unknown email
// a hundred times faster, so the loose bound still catches that, and it
// holds on a busy machine.
func TestUsersAuthenticateTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	gdb := openAuthDB(t, apptest.SQLite(t))
	users := database.NewUsers(gdb)
	createUser(t, users, "timed@example.com", "the right password")
	ctx := context.Background()
	measure := func(email string) time.Duration {
		start := time.Now()
		_, _ = users.Authenticate(ctx, email, "the wrong password")
		return time.Since(start)
	}
	var wrongPassword, unknownEmail []time.Duration
	for range 21 {
		wrongPassword = append(wrongPassword, measure("timed@example.com"))
		unknownEmail = append(unknownEmail, measure("unknown@example.com"))
	}
	a, b := median(wrongPassword), median(unknownEmail)
	t.Logf("median Authenticate: wrong password %v, unknown email %v", a, b)
	if ratio := float64(a) / float64(b); ratio < 0.5 || ratio > 2 {
		t.Fatalf("wrong password takes %v, unknown email %v: want them within a factor of 2", a, b)
	}
}

func median(d []time.Duration) time.Duration {
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// BenchmarkUsersAuthenticate measures a login's cost in the store: one
// query and one argon2id verification.
func BenchmarkUsersAuthenticate(b *testing.B) {
	gdb := openAuthDB(b, apptest.SQLite(b))
	users := database.NewUsers(gdb)
	createUser(b, users, "bench@example.com", "the right password")
	ctx := context.Background()
	for _, bc := range []struct{ name, email, password string }{
		{"right password", "bench@example.com", "the right password"},
		{"wrong password", "bench@example.com", "the wrong password"},
		{"unknown email", "unknown@example.com", "the wrong password"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = users.Authenticate(ctx, bc.email, bc.password)
			}
		})
	}
}
