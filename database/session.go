package database

import (
	"context"

	"gorm.io/gorm"
)

// txKey marks a context that carries an open transaction.
type txKey struct{}

// WithTx returns a context under which the task and tag stores run their
// statements in tx rather than on their own connection, so that a caller
// can make other rows (an idempotency record, say) part of the same
// transaction as the write. On PostgreSQL a store's write is one statement
// and opens no transaction of its own; a store's own transaction (SQLite's,
// or a write's retry under contention) becomes a savepoint inside tx.
func WithTx(ctx context.Context, tx *gorm.DB) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// session is db bound to ctx, or the transaction ctx carries.
func session(ctx context.Context, db *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return db.WithContext(ctx)
}
