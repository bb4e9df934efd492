package database

import (
	"context"
	"database/sql"
	"errors"

	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresTasks is the task store on PostgreSQL. Every write is one
// statement, one round trip on a warm connection, with no transaction
// around it: the cap, the tags' ownership, the version precondition, the
// tag links, the change's event and its NOTIFY, and, for a request with an
// Idempotency-Key, its answer (pgKeyed) are all parts of it. What that
// costs, and when to undo it, is history/adr/0008-one-statement-writes.md.
// The list is read through pgx itself (list_postgres.go).
type PostgresTasks struct {
	taskReads
	maxPerUser int
}

// NewPostgresTasks returns the task store over db, a PostgreSQL database;
// a user may own at most maxPerUser tasks.
func NewPostgresTasks(db *gorm.DB, maxPerUser int) *PostgresTasks {
	return &PostgresTasks{taskReads: taskReads{db: db, match: likeMatch("ILIKE")}, maxPerUser: maxPerUser}
}

// Create adds a task for the user in one statement (pgCreateTask): the
// insert, the cap check, the tag links and the task.created event go
// together, and a tag id that is not the user's, or a user already at the
// cap, writes nothing.
func (s *PostgresTasks) Create(ctx context.Context, userID string, in models.TaskInput, k *models.Keyed) (models.Task, error) {
	task, err := newTask(in)
	if err != nil {
		return models.Task{}, classify(err)
	}
	if task.Tags, err = s.insert(s.db.WithContext(ctx), userID, task, uniqueSorted(in.TagIDs), k); err != nil {
		return models.Task{}, classify(err)
	}
	if k != nil {
		k.Recorded = true
	}
	return task, nil
}

// insert runs pgCreateTask for task, linked to tagIDs (unique), recording
// k's answer with it, and returns the task's tags with their counts.
func (s *PostgresTasks) insert(db *gorm.DB, userID string, task models.Task, tagIDs []string, k *models.Keyed) ([]models.Tag, error) {
	keyed, keyArgs := pgKeyed(k, userID, "t", "t.id", "t.version", pgTaskJSON("t", pgTagsJSON("want")))
	args := []any{task.ID,
		userID, pgTextArray(tagIDs), len(tagIDs),
		userID, s.maxPerUser, s.maxPerUser,
		userID, task.Title, task.Description, task.Completed, priorityCodes[task.Priority],
		task.DueDate, task.CompletedAt, task.CreatedAt, task.UpdatedAt,
		userID, string(models.EventTaskCreated), storeTime(), userID}
	rows, err := db.Raw(pgCreateTask+keyed+pgCreateTaskResult, append(append(args, keyArgs...), userID)...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := []models.Tag{}
	var tagsOK bool
	var created, notified, count int64
	for rows.Next() {
		var tag nullableTag
		if err := rows.Scan(append([]any{&tagsOK, &created, &notified, &count}, tag.dest()...)...); err != nil {
			return nil, err
		}
		if tag.ID.Valid {
			tags = append(tags, tag.tag())
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch {
	case created == 1:
		return tags, nil
	case tagsOK || count >= int64(s.maxPerUser):
		// The cap is checked first, as on SQLite.
		return nil, capError(int64(s.maxPerUser)+1, s.maxPerUser, "tasks")
	}
	return nil, errForeignTags()
}

// pgCreateTask creates a task under the cap, with its tag links and its
// event, in one statement (its first argument is the new task's id):
//   - want: the listed tags that are the user's, each with its task count
//     once this task carries it (the statement's snapshot cannot see the
//     link it inserts, and a new task has none yet, hence the + 1);
//   - ok: whether every listed id is one of them;
//   - s: the counter upsert that admits the task. Its WHERE is evaluated
//     against the latest committed version of the user's counter row,
//     after waiting for any write holding it, so of concurrent creates at
//     cap-1 only one passes (a count(*) in the statement would read the
//     statement's snapshot and let several through). It runs only if ok;
//   - t, l, e, n: the task, its links, its event (data built from the
//     inserted row and want, see pgTaskJSON) and the notification, each
//     only from s's row.
//
// It returns a row per tag (one without tag columns for no tag) with
// whether the tags were the user's, whether the task was created, and the
// user's task count in the snapshot, which picks the error when both the
// tags and the cap are wrong.
var pgCreateTask = `WITH new AS (SELECT CAST(? AS text) AS id),
	want AS (SELECT tg.id, tg.name, tg.color, tg.created_at, tg.name_key, ` + tagTaskCount + ` + 1 AS task_count
		FROM tags tg WHERE tg.user_id = ? AND tg.id = ANY(CAST(? AS text[]))),
	ok AS (SELECT count(*) = CAST(? AS bigint) AS tags_ok FROM want),
	s AS (INSERT INTO event_counters (user_id, seq, tasks, tags) SELECT ?, 1, 1, 0 FROM ok WHERE ok.tags_ok AND CAST(? AS bigint) > 0
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1, tasks = event_counters.tasks + 1
		WHERE event_counters.tasks < ? RETURNING seq),
	t AS (INSERT INTO tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at)
		SELECT new.id, ?, ?, ?, ?, ?, ?, ?, 1, ?, ? FROM s CROSS JOIN new RETURNING ` + taskColumns + `),
	l AS (INSERT INTO task_tags (task_id, tag_id) SELECT t.id, want.id FROM t CROSS JOIN want),
	e AS (INSERT INTO events (user_id, seq, type, data, created_at)
		SELECT ?, s.seq, ?, ` + pgEventData("t.id", "task", pgTaskJSON("t", pgTagsJSON("want"))) + `, ? FROM s CROSS JOIN t RETURNING seq),
	n AS (SELECT pg_notify('` + EventChannel + `', CAST(? AS text) || ' ' || seq) FROM e)`

// pgCreateTaskResult ends pgCreateTask, after the CTE that records a key's
// answer, if any.
const pgCreateTaskResult = `
	SELECT ok.tags_ok, (SELECT count(*) FROM t), (SELECT count(*) FROM n),
		COALESCE((SELECT c.tasks FROM event_counters c WHERE c.user_id = ?), 0),
		w.id, w.name, w.color, w.created_at, w.task_count
	FROM ok LEFT JOIN want w ON true ORDER BY w.name_key, w.id`

// Replace sets every settable field of the user's task (and its whole tag
// set) if cond matches, in one statement (see modify).
func (s *PostgresTasks) Replace(ctx context.Context, userID, id string, in models.TaskInput, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return s.modify(ctx, userID, id, cond, replaceChange(in), k)
}

// Update changes the fields p carries on the user's task if cond matches,
// in one statement (see modify).
func (s *PostgresTasks) Update(ctx context.Context, userID, id string, p models.TaskPatch, cond *models.Precondition, k *models.Keyed) (models.Task, error) {
	return s.modify(ctx, userID, id, cond, patchChange(p), k)
}

// modify is the read-change-write of Replace and Update: it checks cond
// against the task's version, applies the change and writes only if
// something differs. A write that changes nothing keeps the version and
// updated_at, and records no event; a change records task.updated with the
// task as the answer shows it.
//
// On PostgreSQL it is one statement, one round trip (pgModifyTask), with
// no lock taken before it: the statement decides from its snapshot, and
// its UPDATE applies only if the row still has the version that snapshot
// read. When a concurrent write to the same task committed in between, the
// UPDATE (re-checked against the newest row) changes nothing, and so does
// the rest of the statement: the decision it made, the tag links to add
// and remove above all, was about an older task. Then, and only then, the
// write runs again in a transaction that first locks the task row (BEGIN,
// SELECT FOR UPDATE, the statement, COMMIT): a statement's snapshot cannot
// see what committed after it began, so only a lock taken by an earlier
// statement makes the read and the write agree.
//
// With k, the answer k describes is recorded in the same statement, for a
// write that changed nothing too (its answer is the task as it is).
func (s *PostgresTasks) modify(ctx context.Context, userID, id string, cond *models.Precondition, c taskChange, k *models.Keyed) (models.Task, error) {
	db := s.db.WithContext(ctx)
	task, err := modifyPostgres(db, userID, id, cond, c, k)
	if errors.Is(err, errRaced) {
		err = inTx(ctx, s.db, func(tx *Tx) error {
			var one int
			err := scanOne(tx.DB, []any{&one}, "SELECT 1 FROM tasks WHERE id = ? AND user_id = ? FOR UPDATE", id, userID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			task, err = modifyPostgres(tx.DB, userID, id, cond, c, k)
			return err
		})
	}
	if err != nil {
		return models.Task{}, classify(err)
	}
	if k != nil {
		k.Recorded = true
	}
	return task, nil
}

// errRaced is modifyPostgres's report that a concurrent write changed the
// task after the statement's snapshot was taken, so nothing was written.
var errRaced = errors.New("the task changed while the statement ran")

// modifyPostgres runs pgModifyTask once, recording k's answer with it, and
// returns the task as it now is.
func modifyPostgres(db *gorm.DB, userID, id string, cond *models.Precondition, c taskChange, k *models.Keyed) (models.Task, error) {
	tagIDs := uniqueSorted(c.tagIDs)
	anyVersion, versions := cond == nil || cond.Any, []int64{}
	if cond != nil {
		versions = append(versions, cond.Versions...)
	}
	keyed, keyArgs := pgKeyed(k, userID, `nxt nx WHERE nx.cond_ok AND nx.tags_ok AND (NOT nx.changed OR EXISTS (SELECT 1 FROM u))`,
		"nx.id", "nx.version", pgTaskJSON("nx", pgTagsJSON("fin")))
	args := []any{id, userID, userID, pgTextArray(tagIDs), id,
		c.setTitle, c.title, c.setDescription, c.description, c.setCompleted, c.completed,
		c.setPriority, priorityCodes[c.priority], c.setDue, c.due, c.setTags, len(tagIDs),
		anyVersion, pgInt8Array(versions), timestamp(),
		userID, userID, userID, userID, string(models.EventTaskUpdated), storeTime(), userID}
	rows, err := db.Raw(pgModifyTask+keyed+pgModifyTaskResult, append(args, keyArgs...)...).Rows()
	if err != nil {
		return models.Task{}, err
	}
	defer rows.Close()
	var task models.Task
	found := false
	var condOK, tagsOK, changed bool
	var updated, notified int64
	for rows.Next() {
		var tag nullableTag
		t, err := scanTask(rows, append([]any{&condOK, &tagsOK, &changed, &updated, &notified}, tag.dest()...)...)
		if err != nil {
			return models.Task{}, err
		}
		if !found {
			task, found = t, true
		}
		if tag.ID.Valid {
			task.Tags = append(task.Tags, tag.tag())
		}
	}
	if err := rows.Err(); err != nil {
		return models.Task{}, err
	}
	switch {
	case !found:
		return models.Task{}, errTaskNotFound()
	case !condOK:
		return models.Task{}, errTaskChanged()
	case !tagsOK:
		return models.Task{}, errForeignTags()
	case changed && updated == 0:
		return models.Task{}, errRaced
	}
	return task, nil
}

// pgModifyTask is a replace or update of a task in one statement:
//   - cur, have: the task and its tag ids, as the statement's snapshot
//     has them; want: the listed tags that are the user's; arg: the
//     change;
//   - nv, nxt: the task as the change leaves it, whether the version
//     condition holds (cond_ok), whether every listed tag is the user's
//     (tags_ok), and whether anything differs (changed), which alone bumps
//     version and updated_at;
//   - u: the UPDATE, only if changed, cond_ok and tags_ok, and only if the
//     row's version is still the one cur read (see modify);
//   - del, ins: the tag links removed and added, only after u;
//   - fin: the task's tags afterwards, each counted with this task's link
//     (the snapshot has the links before the write: a tag newly linked
//     counts one more);
//   - s, e, n: the event, only after u, with data built from nxt and fin.
//
// It returns a row per tag of the task (one without tag columns for none),
// each with the flags, the number of rows u updated and the task; no row
// for no such task.
var pgModifyTask = `WITH cur AS (SELECT ` + taskColumns + ` FROM tasks WHERE id = ? AND user_id = ?),
	want AS (SELECT tg.id FROM tags tg WHERE tg.user_id = ? AND tg.id = ANY(CAST(? AS text[]))),
	have AS (SELECT tt.tag_id FROM task_tags tt WHERE tt.task_id = ?),
	arg AS (SELECT CAST(? AS boolean) AS set_title, CAST(? AS text) AS title,
		CAST(? AS boolean) AS set_description, CAST(? AS text) AS description,
		CAST(? AS boolean) AS set_completed, CAST(? AS boolean) AS completed,
		CAST(? AS boolean) AS set_priority, CAST(? AS smallint) AS priority,
		CAST(? AS boolean) AS set_due, CAST(? AS timestamptz) AS due_date,
		CAST(? AS boolean) AS set_tags, CAST(? AS bigint) AS tag_count,
		CAST(? AS boolean) AS any_version, CAST(? AS bigint[]) AS versions, CAST(? AS timestamptz) AS now),
	nv AS (SELECT cur.id, cur.created_at, cur.version AS read_version, cur.updated_at AS read_updated_at, a.now, a.set_tags,
			CASE WHEN a.set_title THEN a.title ELSE cur.title END AS title,
			CASE WHEN a.set_description THEN a.description ELSE cur.description END AS description,
			CASE WHEN a.set_completed THEN a.completed ELSE cur.completed END AS completed,
			CASE WHEN a.set_priority THEN a.priority ELSE cur.priority END AS priority,
			CASE WHEN a.set_due THEN a.due_date ELSE cur.due_date END AS due_date,
			CASE WHEN NOT a.set_completed THEN cur.completed_at WHEN NOT a.completed THEN NULL
				WHEN NOT cur.completed THEN a.now ELSE cur.completed_at END AS completed_at,
			(a.any_version OR cur.version = ANY(a.versions)) AS cond_ok,
			(NOT a.set_tags OR (SELECT count(*) FROM want) = a.tag_count) AS tags_ok,
			(a.set_tags AND (EXISTS (SELECT 1 FROM have WHERE have.tag_id NOT IN (SELECT id FROM want))
				OR EXISTS (SELECT 1 FROM want WHERE want.id NOT IN (SELECT tag_id FROM have)))) AS retagged,
			ROW(cur.title, cur.description, cur.completed, cur.priority, cur.due_date, cur.completed_at) AS old
		FROM cur CROSS JOIN arg a),
	nxt AS (SELECT v.*, CASE WHEN v.changed THEN v.read_version + 1 ELSE v.read_version END AS version,
			CASE WHEN v.changed THEN v.now ELSE v.read_updated_at END AS updated_at
		FROM (SELECT nv.*, (nv.retagged OR ROW(nv.title, nv.description, nv.completed, nv.priority, nv.due_date, nv.completed_at)
			IS DISTINCT FROM nv.old) AS changed FROM nv) v),
	u AS (UPDATE tasks t SET title = nx.title, description = nx.description, completed = nx.completed, priority = nx.priority,
			due_date = nx.due_date, completed_at = nx.completed_at, version = nx.version, updated_at = nx.updated_at
		FROM nxt nx WHERE t.id = nx.id AND t.user_id = ? AND t.version = nx.read_version AND nx.changed AND nx.cond_ok AND nx.tags_ok
		RETURNING t.id),
	del AS (DELETE FROM task_tags tt USING u, nxt nx WHERE tt.task_id = u.id AND nx.set_tags AND tt.tag_id NOT IN (SELECT id FROM want)),
	ins AS (INSERT INTO task_tags (task_id, tag_id) SELECT u.id, w.id FROM u CROSS JOIN nxt nx CROSS JOIN want w
		WHERE nx.set_tags AND w.id NOT IN (SELECT tag_id FROM have)),
	fin AS (SELECT tg.id, tg.name, tg.color, tg.created_at, tg.name_key,
			` + tagTaskCount + ` + CASE WHEN tg.id IN (SELECT tag_id FROM have) THEN 0 ELSE 1 END AS task_count
		FROM tags tg CROSS JOIN nxt nx WHERE tg.user_id = ?
			AND CASE WHEN nx.set_tags THEN tg.id IN (SELECT id FROM want) ELSE tg.id IN (SELECT tag_id FROM have) END),
	s AS (INSERT INTO event_counters (user_id, seq) SELECT ?, 1 FROM u
		ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq + 1 RETURNING seq),
	e AS (INSERT INTO events (user_id, seq, type, data, created_at)
		SELECT ?, s.seq, ?, ` + pgEventData("nx.id", "task", pgTaskJSON("nx", pgTagsJSON("fin"))) + `, ? FROM s CROSS JOIN nxt nx RETURNING seq),
	n AS (SELECT pg_notify('` + EventChannel + `', CAST(? AS text) || ' ' || seq) FROM e)`

// pgModifyTaskResult ends pgModifyTask, after the CTE that records a key's
// answer, if any.
var pgModifyTaskResult = `
	SELECT nx.cond_ok, nx.tags_ok, nx.changed, (SELECT count(*) FROM u), (SELECT count(*) FROM n),
		f.id, f.name, f.color, f.created_at, f.task_count, ` + qualified("nx", taskColumns) + `
	FROM nxt nx LEFT JOIN fin f ON true ORDER BY f.name_key, f.id`

// Delete removes the user's task (and its tag links, by cascade) if cond
// matches, and records task.deleted: the version check, the event and the
// user's task count are part of the DELETE's one statement (pgDelete). A
// refusal costs a second, to tell a missing task from a version that did
// not match.
func (s *PostgresTasks) Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error {
	db := s.db.WithContext(ctx)
	query, args := "DELETE FROM tasks WHERE id = ? AND user_id = ?", []any{id, userID}
	if cond != nil && !cond.Any {
		// One prepared statement whatever the number of versions.
		query += " AND version = ANY(CAST(? AS bigint[]))"
		args = append(args, pgInt8Array(cond.Versions))
	}
	deleted, err := pgDelete(db, userID, "tasks", models.EventTaskDeleted, deletedEventData(id), k, query+" RETURNING id", args...)
	if err != nil {
		return classify(err)
	}
	if deleted {
		return nil
	}
	return missingOrChanged(db, userID, id)
}
