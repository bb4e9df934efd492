// Package search finds a user's tasks by the words of a query, behind an
// index on each engine, so that a search costs about the same whatever the
// words and however long the texts.
//
// What matches: the query is split on white space (and control
// characters) into words. Every word must begin a word of the task's title
// or description, ignoring case and accents: "apfel" finds "Äpfel", "writ
// rep" finds "Write the quarterly report". Texts are split the same way into
// tokens, and a word may begin where a token begins, where a run of letters
// and digits begins inside it, or at any other character of it: "mail"
// finds "e-mail", "%" finds "100%", "\temp" finds "C:\temp". Every character
// is itself: %, _ and \ are no wildcards. A word is compared on its first
// MaxWordLength characters once folded (case and accents removed).
//
// How: each task keeps its lexemes, every suffix of a token that starts
// where a word may begin (at most suffixesPerToken per token, each cut to
// MaxWordLength characters), prefixed with a short key of its owner's id.
// A word then matches by prefix: one look-up in an index of lexemes, never
// a scan of the texts. The owner's key keeps one user's lexemes, however
// many, out of every other user's look-ups. PostgreSQL keeps them in a
// tsvector column of tasks (postgres.go), SQLite in an FTS5 table
// (sqlite.go).
package search

import "unicode"

const (
	// MaxWordLength is how many folded characters of a word are compared,
	// and how long an indexed lexeme may be.
	MaxWordLength = 200
	// suffixesPerToken bounds the lexemes of one token: a token of
	// thousands of punctuation characters would otherwise make thousands.
	suffixesPerToken = 32
	// keyLength is how many hex digits of SHA-256 of the user id prefix
	// each lexeme.
	keyLength = 8
)

// Clause is what a task list adds to its statement for a search: a
// condition on tasks and its arguments, and the ORDER BY terms that put the
// tasks whose title holds every word first, with theirs. Both use ?
// placeholders.
type Clause struct {
	Where     string
	WhereArgs []any
	Order     string
	OrderArgs []any
}

// isWordRune reports whether r belongs to a run of letters and digits.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
