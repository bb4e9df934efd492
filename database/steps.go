package database

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"taskflow/models"
	"taskflow/models/position"
)

// MigrateOptions is what the data steps of a migration need to know about
// the deployment.
type MigrateOptions struct {
	// ExternalIssuer is the issuer external users' ids are derived from
	// (models.ExternalUserID): BETTER_AUTH_URL, or empty when unset.
	ExternalIssuer string
	// Caps are what the server keeps about one user for replay; the
	// migration writes them where every write reads them (replayCapsRow).
	Caps models.ReplayCaps
}

// schemaStepRow records a one-time data step that has run, so that it runs
// once per database rather than scanning tables at every start.
type schemaStepRow struct {
	Name      string    `gorm:"primaryKey;size:100"`
	AppliedAt time.Time `gorm:"not null"`
}

func (schemaStepRow) TableName() string { return "schema_steps" }

// dataStep rewrites rows written before a change of their meaning.
type dataStep struct {
	name string
	run  func(tx *gorm.DB, opts MigrateOptions) error
}

// dataSteps run in order, each once, after the schema is up to date.
var dataSteps = []dataStep{
	{"nfkc-emails", normalizeStoredEmails},
	{"external-user-ids", deriveExternalUserIDs},
	{"event-counter-counts", countTasksAndTags},
	{"task-positions", positionExistingTasks},
	{"sync-stamps", stampUnsyncedRows},
}

// runDataSteps runs the steps this database has not run yet, each in a
// transaction with its record (on PostgreSQL, inside the migration's).
func runDataSteps(db *gorm.DB, opts MigrateOptions) error {
	for _, step := range dataSteps {
		err := db.Transaction(func(tx *gorm.DB) error {
			var done int64
			if err := tx.Model(&schemaStepRow{}).Where("name = ?", step.name).Count(&done).Error; err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			if err := step.run(tx, opts); err != nil {
				return err
			}
			return tx.Create(&schemaStepRow{Name: step.name, AppliedAt: storeTime()}).Error
		})
		if err != nil {
			return fmt.Errorf("data step %s: %w", step.name, err)
		}
	}
	return nil
}

// normalizeStoredEmails rewrites emails stored before NFKC normalization.
// Where two accounts would end up with one email (look-alikes registered
// twice), both are left as they are: merging accounts is not a migration's
// call, and the one already in normal form is the one login finds.
func normalizeStoredEmails(tx *gorm.DB, _ MigrateOptions) error {
	var users []userRow
	if err := tx.Select("id", "email").Find(&users).Error; err != nil {
		return err
	}
	taken := make(map[string]bool, len(users))
	for _, u := range users {
		taken[u.Email] = true
	}
	for _, u := range users {
		normal := models.NormalizeEmail(u.Email)
		if normal == u.Email || taken[normal] {
			continue
		}
		if err := tx.Model(&userRow{}).Where("id = ?", u.ID).Update("email", normal).Error; err != nil {
			return err
		}
		taken[normal] = true
	}
	return nil
}

// deriveExternalUserIDs moves the tasks and tags of external users, stored
// under their bare sub, to the id models.ExternalUserID derives. A user_id
// that is a local account's stays: it cannot be told from data a frontend
// token wrote into that account before ids were derived, and the account's
// owner is the one who may see it.
func deriveExternalUserIDs(tx *gorm.DB, opts MigrateOptions) error {
	var subs []string
	err := tx.Raw("SELECT user_id FROM tasks WHERE user_id NOT IN (SELECT id FROM users)" +
		" UNION SELECT user_id FROM tags WHERE user_id NOT IN (SELECT id FROM users)").Scan(&subs).Error
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if models.IsExternalUserID(sub) {
			continue
		}
		derived := models.ExternalUserID(opts.ExternalIssuer, sub)
		for _, table := range []string{"tasks", "tags"} {
			if err := tx.Exec("UPDATE "+table+" SET user_id = ? WHERE user_id = ?", derived, sub).Error; err != nil {
				return err
			}
		}
	}
	return nil
}

// countTasksAndTags fills in the task and tag counts of the users' counter
// rows (see eventCounterRow), creating the rows of users who have tasks or
// tags and no event yet (their seq stays 0: no event id is used up). It
// runs inside the migration's transaction; on PostgreSQL, servers still
// running the code from before the counts (a rolling deploy) keep writing
// meanwhile, and a task they create or delete after this step is not
// counted (the cap then admits one task more, or less, for that user).
func countTasksAndTags(tx *gorm.DB, _ MigrateOptions) error {
	// WHERE true: SQLite needs it to parse ON CONFLICT after a SELECT.
	return tx.Exec(`INSERT INTO event_counters (user_id, seq, tasks, tags)
		SELECT o.user_id, 0, (SELECT count(*) FROM tasks t WHERE t.user_id = o.user_id),
			(SELECT count(*) FROM tags g WHERE g.user_id = o.user_id)
		FROM (SELECT user_id FROM tasks UNION SELECT user_id FROM tags) o WHERE true
		ON CONFLICT (user_id) DO UPDATE SET tasks = excluded.tasks, tags = excluded.tags`).Error
}

// positionExistingTasks gives the tasks written before projects and manual
// order a position: each user's, in the inbox at the top level (where
// every such task is), oldest first, evenly spaced (position.Spread).
// Tasks are read and written a user at a time.
func positionExistingTasks(tx *gorm.DB, _ MigrateOptions) error {
	var users []string
	if err := tx.Raw("SELECT DISTINCT user_id FROM tasks WHERE position = ''").Scan(&users).Error; err != nil {
		return err
	}
	for _, userID := range users {
		var ids []string
		err := tx.Raw("SELECT id FROM tasks WHERE user_id = ? ORDER BY created_at, id", userID).Scan(&ids).Error
		if err != nil {
			return err
		}
		for i, key := range position.Spread(len(ids)) {
			if err := tx.Exec("UPDATE tasks SET position = ? WHERE id = ?", key, ids[i]).Error; err != nil {
				return err
			}
		}
	}
	return nil
}
