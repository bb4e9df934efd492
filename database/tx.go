package database

import (
	"context"

	"gorm.io/gorm"
)

// Tx is an open transaction, passed by value to the functions that write
// in it (a store method opens it; nothing finds it in a context). Work
// that must wait for the commit, such as telling the change feed that a
// user has new events, is registered with AfterCommit: it runs only once
// the transaction has committed, never for one rolled back.
type Tx struct {
	*gorm.DB
	afterCommit []func()
}

// AfterCommit registers fn to run once tx has committed.
func (tx *Tx) AfterCommit(fn func()) { tx.afterCommit = append(tx.afterCommit, fn) }

// inTx runs fn in a new transaction of db and commits it unless fn fails;
// after the commit it runs the hooks fn registered, in order.
func inTx(ctx context.Context, db *gorm.DB, fn func(tx *Tx) error) error {
	var hooks []func()
	err := db.WithContext(ctx).Transaction(func(gtx *gorm.DB) error {
		tx := &Tx{DB: gtx}
		if err := fn(tx); err != nil {
			return err
		}
		hooks = tx.afterCommit
		return nil
	})
	if err != nil {
		return err
	}
	for _, hook := range hooks {
		hook()
	}
	return nil
}
