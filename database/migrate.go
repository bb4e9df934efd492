package database

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// migrationLockID is the advisory lock that serializes migrations when
// several replicas start at once ("taskflow" in ASCII, as a number).
const migrationLockID = 0x7461736b666c6f77

// Migrate creates or updates every table and index. On PostgreSQL it runs in
// one transaction holding a transaction-scoped advisory lock, so replicas
// starting together migrate one after the other (session-level locks do not
// survive a transaction pooler such as PgBouncer or Neon's).
func Migrate(ctx context.Context, db *gorm.DB, opts MigrateOptions) error {
	db = db.WithContext(ctx)
	if !IsPostgres(db) {
		if err := migrateSchema(db, opts); err != nil {
			return fmt.Errorf("migrate: %w", classify(err))
		}
		return nil
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(migrationLockID)).Error; err != nil {
			return err
		}
		return migrateSchema(tx, opts)
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	return nil
}

// migrateSchema creates or updates the tables and their indexes, drops the
// indexes that newer ones replaced, then runs the data steps not run yet.
func migrateSchema(db *gorm.DB, opts MigrateOptions) error {
	if err := db.AutoMigrate(schema()...); err != nil {
		return err
	}
	for _, name := range supersededIndexes {
		if err := db.Exec("DROP INDEX IF EXISTS " + name).Error; err != nil {
			return err
		}
	}
	return runDataSteps(db, opts)
}
