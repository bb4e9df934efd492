package pgpool_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"taskflow/database"
)

// open opens url's database for a test, closed when the test ends.
func open(t testing.TB, url string) *gorm.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := database.Open(ctx, database.Options{URL: url, MaxOpenConns: 4, MaxIdleConns: 4, ConnMaxLifetime: time.Hour})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = database.Close(db) })
	return db
}
