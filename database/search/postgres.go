package search

import (
	"fmt"

	"gorm.io/gorm"

	"taskflow/models"
)

// On PostgreSQL the lexemes live in two columns of tasks, kept by triggers:
// search_doc, those of title and description with the owner's key, behind
// a GIN index on (user_id, search_doc), and title_doc, those of the title
// alone, which ranks a page. A search is one tsquery of prefixes, 'key' ||
// word || ':*' for every word, matched by the index alone: a GIN index of
// tsvectors answers an AND of prefixes exactly, so no text and no tsvector
// is read to count the matches.
//
// The rules are SQL functions (below). They fold with the unaccent
// extension; btree_gin lets user_id share the GIN index, so that the
// planner sees how few of a user's rows a search keeps (an index on
// search_doc alone is estimated over every user's rows, and lost to the
// user's B-tree index with search_doc as a filter, which reads every one
// of the user's tsvectors).

// PostgresExtensions are the extensions search needs. Both ship with
// PostgreSQL (contrib) and are trusted: a role with CREATE on the database
// may create them, as Neon's roles may.
var PostgresExtensions = []string{"unaccent", "btree_gin"}

// PostgresClause is the search of q among userID's tasks. The tsquery is a
// sub-select, so that no plan knows the words: with them, a custom plan
// that estimates a word common would read the user's rows through another
// index and test each row's tsvector, the cost this index avoids.
func PostgresClause(userID, q string) Clause {
	return Clause{
		Where:     "search_doc @@ (SELECT taskflow_search_query(taskflow_search_key(?), ?))",
		WhereArgs: []any{userID, q},
		Order:     "title_doc @@ (SELECT taskflow_search_query('', ?)) DESC NULLS LAST",
		OrderArgs: []any{q},
	}
}

// postgresFunctions defines the rules in SQL; %[1]s is the schema of the
// unaccent extension, quoted, and %[5]s its dictionary's name as a
// literal. The functions are IMMUTABLE so that generated columns may call
// them. unaccent itself is only STABLE, because its rules file could be
// edited; the dictionary is named with its schema so the result does not
// depend on search_path. After editing unaccent.rules, recompute the
// columns: UPDATE tasks SET title = title.
//
//   - taskflow_search_fold: lower(unaccent(text)), with the no-break
//     spaces as spaces: Go counts them white space, glibc does not;
//   - taskflow_search_key: the user's key, as UserKey;
//   - taskflow_search_tokens: the tokens of a text of tokens separated by
//     one space, each cut to MaxWordLength characters and prefixed by
//     key (an empty token becomes key alone);
//   - taskflow_search_lexemes: the key, then each lexeme of doc, as
//     Lexemes. The folded text becomes tokens separated by one space
//     (most texts already are: the regular expression, which costs a
//     match per space, runs only when needed), and every token is a
//     lexeme. Then, among the tokens holding a character other than a
//     letter or a digit (the only ones where another word begins), each
//     round strips every token's first run (a run of letters and digits,
//     or one other character) and takes what is left, for at most
//     suffixesPerToken runs. array_to_tsvector drops the duplicates;
//   - taskflow_search_query: the tsquery of q's folded words, each cut to
//     MaxWordLength characters, quoted (a quote doubled, a backslash
//     escaped) and prefixed by key; NULL when q has no word, which matches
//     nothing.
const postgresFunctions = `
CREATE OR REPLACE FUNCTION taskflow_search_fold(doc text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT translate(lower(%[1]s.unaccent(%[5]s::regdictionary, doc)), E'\u00a0\u2007\u202f', '   ') $$;

CREATE OR REPLACE FUNCTION taskflow_search_key(user_id text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT left(encode(sha256(convert_to(user_id, 'UTF8')), 'hex'), %[2]d) $$;

CREATE OR REPLACE FUNCTION taskflow_search_tokens(key text, tokens text) RETURNS text[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT string_to_array(replace(' ' || CASE WHEN tokens ~ '[^ ]{%[6]d}'
		THEN regexp_replace(tokens, '([^ ]{%[4]d})[^ ]+', '\1', 'g') ELSE tokens END, ' ', ' ' || key), ' ') $$;

CREATE OR REPLACE FUNCTION taskflow_search_lexemes(key text, doc text) RETURNS tsvector
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	tokens text := taskflow_search_fold(doc);
	rest text;
	lexemes text[];
BEGIN
	IF translate(tokens, ' ', '') ~ '[[:space:][:cntrl:]]' OR position('  ' IN tokens) > 0
		OR left(tokens, 1) = ' ' OR right(tokens, 1) = ' ' THEN
		tokens := btrim(regexp_replace(tokens, '[[:space:][:cntrl:]]+', ' ', 'g'));
	END IF;
	lexemes := taskflow_search_tokens(key, tokens);
	rest := array_to_string(ARRAY(SELECT m[1] FROM regexp_matches(tokens, '([^ ]*[^[:alnum:] ][^ ]*)', 'g') AS m), ' ');
	FOR round IN 2..%[3]d LOOP
		rest := regexp_replace(rest, '(^| )([[:alnum:]]+|[^[:alnum:] ])', '\1', 'g');
		EXIT WHEN rest !~ '[^ ]';
		lexemes := lexemes || taskflow_search_tokens(key, rest);
	END LOOP;
	RETURN array_to_tsvector(array_remove(array_remove(lexemes, ''), key));
END $$;

CREATE OR REPLACE FUNCTION taskflow_search_query(key text, q text) RETURNS tsquery
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT CAST(string_agg('''' || replace(replace(key || left(w, %[4]d), '\', '\\'), '''', '''''') || ''':*', ' & ') AS tsquery)
		FROM regexp_split_to_table(taskflow_search_fold(q), '[[:space:][:cntrl:]]+') AS w WHERE w <> '' $$;
`

// postgresColumns adds the columns and the triggers that keep them. The
// columns are added empty, which changes no row and takes an instant;
// the tasks already there are filled by BackfillPostgres. (Generated
// columns would be simpler, but adding one rewrites the table under an
// exclusive lock: 55 s for 100,000 short tasks on the bench's loaded
// machine, with every list and write of the running deployment waiting
// behind it.) An update computes the lexemes again only when a text or the
// owner changed: the list's writes set every column.
const postgresColumns = `
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS search_doc tsvector, ADD COLUMN IF NOT EXISTS title_doc tsvector;

CREATE OR REPLACE FUNCTION taskflow_search_index() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	NEW.search_doc := taskflow_search_lexemes(taskflow_search_key(NEW.user_id), NEW.title || ' ' || NEW.description);
	NEW.title_doc := taskflow_search_lexemes('', NEW.title);
	RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS taskflow_search_insert ON tasks;
CREATE TRIGGER taskflow_search_insert BEFORE INSERT ON tasks
	FOR EACH ROW EXECUTE FUNCTION taskflow_search_index();
DROP TRIGGER IF EXISTS taskflow_search_update ON tasks;
CREATE TRIGGER taskflow_search_update BEFORE UPDATE OF user_id, title, description ON tasks
	FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.title IS DISTINCT FROM NEW.title
		OR OLD.description IS DISTINCT FROM NEW.description OR OLD.search_doc IS NULL)
	EXECUTE FUNCTION taskflow_search_index();
`

// MigratePostgres creates what search needs in tx, the migration's
// transaction: the extensions, the functions, the columns and their
// triggers. Where the role may not create an extension, it says which one
// and what to do. The migration then runs BackfillPostgres.
func MigratePostgres(tx *gorm.DB) error {
	for _, name := range PostgresExtensions {
		if err := createExtension(tx, name); err != nil {
			return err
		}
	}
	var unaccent struct{ Schema, Dictionary string }
	if err := tx.Raw(`SELECT quote_ident(n.nspname) AS schema, quote_literal(quote_ident(n.nspname) || '.unaccent') AS dictionary
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'`).Scan(&unaccent).Error; err != nil {
		return err
	}
	functions := fmt.Sprintf(postgresFunctions, unaccent.Schema, keyLength, suffixesPerToken, MaxWordLength,
		unaccent.Dictionary, MaxWordLength+1)
	if err := tx.Exec(functions).Error; err != nil {
		return fmt.Errorf("search functions: %w", err)
	}
	if err := tx.Exec(postgresColumns).Error; err != nil {
		return fmt.Errorf("search columns: %w", err)
	}
	return nil
}

// backfillBatch fills the lexemes of up to backfillRows tasks that have
// none, skipping rows another migration is filling. It does not touch the
// texts, so the update trigger does not run.
const (
	backfillRows  = 500
	backfillBatch = `UPDATE tasks SET search_doc = taskflow_search_lexemes(taskflow_search_key(user_id), title || ' ' || description),
		title_doc = taskflow_search_lexemes('', title)
	WHERE id IN (SELECT id FROM tasks WHERE search_doc IS NULL LIMIT ? FOR UPDATE SKIP LOCKED)`
	searchIndex = `CREATE INDEX IF NOT EXISTS idx_tasks_search ON tasks USING gin (user_id, search_doc)`
)

// BackfillPostgres fills the lexemes of the tasks stored before the
// search, in batches of backfillRows, each its own transaction: a batch
// locks its rows for a moment, and lists go on reading throughout. Then
// it creates the index, in a transaction that first takes lock (the
// migrations' advisory lock), which holds writes (not reads) of tasks
// while it builds. Both are no-ops once done, so every start runs them.
func BackfillPostgres(db *gorm.DB, lock func(tx *gorm.DB) error) error {
	for {
		res := db.Exec(backfillBatch, backfillRows)
		if res.Error != nil {
			return fmt.Errorf("search backfill: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			break
		}
	}
	return db.Transaction(func(tx *gorm.DB) error {
		if err := lock(tx); err != nil {
			return err
		}
		if err := tx.Exec(searchIndex).Error; err != nil {
			return fmt.Errorf("search index: %w", err)
		}
		return nil
	})
}

// createExtension creates extension name unless it exists.
func createExtension(tx *gorm.DB, name string) error {
	var present int64
	if err := tx.Raw("SELECT count(*) FROM pg_extension WHERE extname = ?", name).Scan(&present).Error; err != nil {
		return err
	}
	if present > 0 {
		return nil
	}
	if err := tx.Exec("CREATE EXTENSION IF NOT EXISTS " + name).Error; err != nil {
		return extensionError(name, err)
	}
	return nil
}

// extensionError explains a failed CREATE EXTENSION: what needs it, and
// the statement an owner of the database runs so that the next migration
// finds the extension in place. Its cause, PostgreSQL's error, follows.
func extensionError(name string, cause error) error {
	return &models.Error{Code: models.CodeInternal, Cause: cause, Message: "task search needs the PostgreSQL extension " + name +
		", which this role may not create: have the database's owner run `CREATE EXTENSION IF NOT EXISTS " + name +
		";` in this database (or grant this role CREATE on the database: " + name +
		" ships with PostgreSQL, in its contrib package, and is trusted), then migrate again"}
}
