package database

// The SQL that builds events' JSON on PostgreSQL, exposed to the package's
// external tests (which hold it to models' AppendJSON).
var (
	PgTagJSON  = pgTagJSON
	PgTaskJSON = pgTaskJSON
	PgTagsJSON = pgTagsJSON
)
