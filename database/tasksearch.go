package database

import (
	"gorm.io/gorm"

	"taskflow/database/search"
	"taskflow/models"
)

// searchClause is searchFor's search for q among userID's tasks (see
// package search); false when q holds no word, which searches nothing.
func searchClause(userID, q string, searchFor func(userID, q string) search.Clause) (search.Clause, bool) {
	if len(models.SearchWords(q)) == 0 {
		return search.Clause{}, false
	}
	return searchFor(userID, q), true
}

// listOrder is the ORDER BY of a list, with its arguments: the sort asked
// for, else newest first, behind the tasks whose title holds every word
// of a search.
func (s taskReads) listOrder(userID string, f models.TaskFilter) (string, []any) {
	if order, ok := taskOrders[f.Sort]; ok {
		return order, nil
	}
	newest := taskOrders[models.SortCreatedDesc]
	if search, ok := searchClause(userID, f.Query, s.searchFor); ok && search.Order != "" {
		return search.Order + ", " + newest, search.OrderArgs
	}
	return newest, nil
}

// migrateSearch creates what the search needs (see package search).
func migrateSearch(db *gorm.DB) error {
	if IsPostgres(db) {
		return search.MigratePostgres(db)
	}
	return search.MigrateSQLite(db)
}

// finishSearch fills the search's columns of the tasks stored before it,
// in batches of their own, and creates its index under the migrations'
// lock (see search.BackfillPostgres). SQLite's migration did all of it.
func finishSearch(db *gorm.DB) error {
	if !IsPostgres(db) {
		return nil
	}
	return search.BackfillPostgres(db, func(tx *gorm.DB) error {
		return tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(migrationLockID)).Error
	})
}
