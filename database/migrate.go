package database

import (
	"context"
	"fmt"
	"taskflow/models"
	"taskflow/models/position"

	"gorm.io/gorm"
)

// migrationLockID is the advisory lock that serializes migrations when
// several replicas start at once ("taskflow" in ASCII, as a number).
const migrationLockID = 0x7461736b666c6f77

// Migrate creates or updates every table and index. On PostgreSQL it runs in
// one transaction holding a transaction-scoped advisory lock, so replicas
// starting together migrate one after the other (session-level locks do not
// survive a transaction pooler such as PgBouncer or Neon's); then it fills
// the search's columns of older tasks and builds its index, outside that
// transaction (finishSearch).
func Migrate(ctx context.Context, db *gorm.DB, opts MigrateOptions) error {
	db = db.WithContext(ctx)
	if !IsPostgres(db) {
		if err := migrateSchema(db, opts, nil); err != nil {
			return fmt.Errorf("migrate: %w", classify(err))
		}
		return nil
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(migrationLockID)).Error; err != nil {
			return err
		}
		return migrateSchema(tx, opts, postgresSchema)
	})
	if err == nil {
		err = finishSearch(db)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", classify(err))
	}
	return nil
}

// migrateSchema creates or updates the tables and their indexes, drops the
// indexes that newer ones replaced, runs what the engine needs beyond the
// tables (engine, nil for none), adds the search's columns or tables, then
// runs the data steps not run yet, and last the indexes that hold only
// once the data steps have run.
func migrateSchema(db *gorm.DB, opts MigrateOptions, engine func(*gorm.DB) error) error {
	if err := db.AutoMigrate(schema()...); err != nil {
		return err
	}
	for _, name := range supersededIndexes {
		if err := db.Exec("DROP INDEX IF EXISTS " + name).Error; err != nil {
			return err
		}
	}
	if engine != nil {
		if err := engine(db); err != nil {
			return err
		}
	}
	if err := migrateSearch(db); err != nil {
		return err
	}
	if err := runDataSteps(db, opts); err != nil {
		return err
	}
	if err := writeReplayCaps(db, opts.Caps.OrDefault()); err != nil {
		return err
	}
	return db.Exec(siblingIndex).Error
}

func writeReplayCaps(db *gorm.DB, c models.ReplayCaps) error {
	return db.Exec(`INSERT INTO replay_caps (id, events, answers, tombstones) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET events = excluded.events, answers = excluded.answers, tombstones = excluded.tombstones`,
		c.Events, c.Answers, c.Tombstones).Error
}

// pgLegacyPositionTrigger gives a task inserted without a position (by a
// server of the release before manual order, still running beside this
// one during a rolling deploy) the last place among its siblings, so the
// unique index of positions does not refuse that server's second task.
const pgLegacyPositionTrigger = `CREATE OR REPLACE FUNCTION taskflow_legacy_task_position() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.position = '' THEN
		NEW.position := taskflow_position_between((SELECT max(t.position) FROM tasks t WHERE t.user_id = NEW.user_id
			AND COALESCE(t.project_id, '') = COALESCE(NEW.project_id, '') AND COALESCE(t.parent_id, '') = COALESCE(NEW.parent_id, '')),
			NULL, random());
	END IF;
	RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS taskflow_legacy_task_position ON tasks;
CREATE TRIGGER taskflow_legacy_task_position BEFORE INSERT ON tasks
	FOR EACH ROW WHEN (NEW.position = '') EXECUTE FUNCTION taskflow_legacy_task_position()`

// bytewisePositions gives table's position the collation "C", unless it
// has it already: altering it rebuilds its indexes.
func bytewisePositions(table string) string {
	return `DO $$ BEGIN
	IF (SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = '` + table + `' AND column_name = 'position') IS DISTINCT FROM 'C' THEN
		DROP TRIGGER IF EXISTS taskflow_legacy_task_position ON ` + table + `;
		ALTER TABLE ` + table + ` ALTER COLUMN position TYPE varchar(64) COLLATE "C";
	END IF;
END $$`
}

// postgresSchema is what PostgreSQL needs beyond GORM's tables: positions
// compared byte by byte whatever the database's collation (GORM's migrator
// does not compare collations, so it leaves them be afterwards), and the
// functions the one-statement writes call.
func postgresSchema(db *gorm.DB) error {
	statements := []string{
		bytewisePositions("tasks"),
		bytewisePositions("projects"),
		position.PostgresFunctions,
		pgLegacyPositionTrigger,
		pgCutoffTrigger,
	}
	for _, stmt := range append(statements, postgresFunctions()...) {
		if err := db.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}
