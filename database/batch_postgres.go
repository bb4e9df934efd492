package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"taskflow/models"
)

// PostgresBatch runs batches on PostgreSQL: every command is the call of
// the write function its request would make, built before any runs (the
// ids of what creates make are made here, so no call waits for another's
// answer), and all of them go in one pipeline, each call followed by a
// Sync, so each is a transaction of its own: one round trip for the whole
// batch, where the commands one request at a time would take one each.
type PostgresBatch struct {
	batchStore
	tasks    *PostgresTasks
	tags     *PostgresTags
	projects *PostgresProjects
}

// NewPostgresBatch returns the batch runner over the PostgreSQL stores
// given.
func NewPostgresBatch(db *gorm.DB, tasks *PostgresTasks, tags *PostgresTags, projects *PostgresProjects) *PostgresBatch {
	return &PostgresBatch{batchStore: batchStore{db: db, now: storeTime}, tasks: tasks, tags: tags, projects: projects}
}

// Run runs ops in order, in one pipeline, and returns what each came to.
func (s *PostgresBatch) Run(ctx context.Context, userID string, ops []models.BatchOp) ([]models.BatchOutcome, error) {
	out := make([]models.BatchOutcome, len(ops))
	var calls []pgCallSpec
	var at []int // the op of each call
	for i, op := range ops {
		call, err := s.call(userID, op)
		if err != nil {
			out[i].Err = classify(err)
			continue
		}
		calls, at = append(calls, call), append(at, i)
	}
	results, err := pgPipeline(ctx, s.db, calls)
	if err != nil {
		return nil, classify(err)
	}
	for j, r := range results {
		op := ops[at[j]]
		if r.err != nil {
			out[at[j]].Err = s.refusal(op, r.err)
			continue
		}
		if r.out != "" {
			out[at[j]].Body = []byte(r.out)
		}
		if op.Keyed != nil {
			op.Keyed.Recorded = true
		}
	}
	return out, nil
}

// refusal is the model error of a call's error, as the matching request's
// store method would report it.
func (s *PostgresBatch) refusal(op models.BatchOp, err error) error {
	err = pgRefusal(err)
	switch op.Type {
	case models.CommandTagCreate:
		return tagWriteError(err, op.Tag.Name)
	case models.CommandTagUpdate:
		return tagWriteError(err, patchedName(op.TagPatch))
	}
	return err
}

func (s *PostgresBatch) call(userID string, op models.BatchOp) (pgCallSpec, error) {
	k := op.Keyed
	switch op.Type {
	case models.CommandTaskCreate:
		return s.tasks.createCall(userID, op.Task, k)
	case models.CommandTaskUpdate:
		return s.tasks.modifyCall(userID, op.ID, op.Cond, patchChange(op.TaskPatch), k), nil
	case models.CommandTaskMove:
		return s.tasks.moveCall(userID, op.ID, op.TaskMove, op.Cond, k), nil
	case models.CommandTaskDelete:
		return s.tasks.deleteCall(userID, op.ID, op.Cond, k), nil
	case models.CommandTagCreate:
		return s.tags.createCall(userID, op.Tag, k)
	case models.CommandTagUpdate:
		return s.tags.updateCall(userID, op.ID, op.TagPatch, k), nil
	case models.CommandTagDelete:
		return s.tags.deleteCall(userID, op.ID, k), nil
	case models.CommandProjectCreate:
		return s.projects.createCall(userID, op.Project, k)
	case models.CommandProjectUpdate:
		return s.projects.updateCall(userID, op.ID, op.ProjectPatch, op.Cond, k), nil
	case models.CommandProjectMove:
		return s.projects.moveCall(userID, op.ID, op.AfterSet, op.AfterID, op.Cond, k), nil
	case models.CommandProjectDelete:
		return s.projects.deleteCall(userID, op.ID, op.Cond, k), nil
	}
	return pgCallSpec{}, models.Errorf(models.CodeInvalid, "unknown command type %q", op.Type)
}

// Prepare is the shared Prepare with its lists sent as arrays: the
// statement's text is then the same whatever the batch, and each
// connection prepares it once (with IN lists, every length of them was
// a statement of its own, described anew: a round trip more).
func (s *PostgresBatch) Prepare(ctx context.Context, userID string, keys, tempIDs []string) (map[string]models.StoredAnswer, map[string]string, error) {
	since := s.now().Add(-models.CommandResultTTL)
	return readPrepared(s.db.WithContext(ctx), `SELECT 'k', idempotency_key, fingerprint, status, content_type, body FROM idempotency_keys
			WHERE user_id = ? AND idempotency_key = ANY(CAST(? AS text[])) AND created_at > ?
		UNION ALL SELECT 't', temp_id, object_id, 0, '', CAST('' AS bytea) FROM temp_ids
			WHERE user_id = ? AND temp_id = ANY(CAST(? AS text[])) AND created_at > ?`,
		userID, pgTextArray(keys), since, userID, pgTextArray(tempIDs), since)
}

// pgFinishQuery keeps the answers of refused commands and reads those
// other requests recorded first, in one statement of one text whatever
// the batch (its arguments: see Finish): its INSERT returns the keys it
// kept, which count against the user's cap (taskflow_cap_answers, run
// once, when it kept any: its row joins theirs), its SELECT the answers
// committed before it began under the others.
const pgFinishQuery = `WITH saved AS (INSERT INTO idempotency_keys
		(user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
		SELECT ?, a.key, a.fingerprint, a.status, a.content_type, '', '', convert_to(a.body, 'UTF8'), CAST(? AS timestamptz)
		FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS bigint[]), CAST(? AS text[]), CAST(? AS text[]))
			AS a(key, fingerprint, status, content_type, body)
		ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING idempotency_key),
	capped AS (SELECT taskflow_cap_answers(?, CAST((SELECT count(*) FROM saved) AS int)))
	SELECT false, idempotency_key, fingerprint, status, content_type, body FROM idempotency_keys
		WHERE user_id = ? AND idempotency_key = ANY(CAST(? AS text[]))
	UNION ALL SELECT true, saved.idempotency_key, '', 0, '', CAST('' AS bytea) FROM saved CROSS JOIN capped`

// Finish keeps the refusals' answers and reads the answers other
// requests recorded first, under the keys of save that held one already
// and under inflight, in one statement (pgFinishQuery). A key of save
// neither kept nor read was recorded by a request that committed while
// it ran: a second statement reads those.
func (s *PostgresBatch) Finish(ctx context.Context, userID string, save []models.StoredAnswer, inflight []string) (map[string]models.StoredAnswer, error) {
	if len(save) == 0 && len(inflight) == 0 {
		return map[string]models.StoredAnswer{}, nil
	}
	var keys, fingerprints, contentTypes, bodies pgTextArray
	var statuses pgInt8Array
	for _, a := range save {
		keys, fingerprints = append(keys, a.Key), append(fingerprints, a.Fingerprint)
		statuses, contentTypes = append(statuses, int64(a.Answer.Status)), append(contentTypes, a.Answer.ContentType)
		bodies = append(bodies, string(a.Answer.Body))
	}
	db := s.db.WithContext(ctx)
	asked := append(slices.Clone(keys), inflight...)
	rows, err := db.Raw(pgFinishQuery, userID, s.now(), keys, fingerprints, statuses, contentTypes, bodies, userID, userID, asked).Rows()
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	stored := map[string]models.StoredAnswer{}
	kept := map[string]bool{}
	for rows.Next() {
		var ours bool
		var a models.StoredAnswer
		if err := rows.Scan(&ours, &a.Key, &a.Fingerprint, &a.Answer.Status, &a.Answer.ContentType, &a.Answer.Body); err != nil {
			return nil, classify(err)
		}
		if ours {
			kept[a.Key] = true
			continue
		}
		stored[a.Key] = a
	}
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	var late []string
	for _, key := range keys {
		if _, theirs := stored[key]; !theirs && !kept[key] {
			late = append(late, key)
		}
	}
	if len(late) > 0 {
		more, err := readAnswers(db, userID, late)
		if err != nil {
			return nil, classify(err)
		}
		maps.Copy(stored, more)
	}
	return stored, nil
}

// pipelineResult is one call's answer: its JSON, or its error.
type pipelineResult struct {
	out string
	err error
}

// pgPipeline sends every call at once on one connection, each a query of
// the unnamed statement followed by a Sync (its own transaction, its own
// error), and reads their answers in order: one round trip, and nothing a
// transaction pooler could not route, since each call carries all it
// needs. Each call has the request's time budget (pgBudget).
func pgPipeline(ctx context.Context, db *gorm.DB, calls []pgCallSpec) ([]pipelineResult, error) {
	if len(calls) == 0 {
		return nil, nil
	}
	pool, ok := db.ConnPool.(*sql.DB)
	if !ok {
		return nil, fmt.Errorf("database: a pool of connections was expected, not %T", db.ConnPool)
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	budget := pgBudget(ctx)
	var results []pipelineResult
	err = conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("database: a pgx connection was expected, not %T", driverConn)
		}
		var err error
		results, err = runPipeline(ctx, pc.Conn().PgConn(), calls, budget)
		if err != nil && pc.Conn().PgConn().IsClosed() {
			return driver.ErrBadConn
		}
		return err
	})
	return results, err
}

func runPipeline(ctx context.Context, conn *pgconn.PgConn, calls []pgCallSpec, budget any) ([]pipelineResult, error) {
	pipeline := conn.StartPipeline(ctx)
	for _, call := range calls {
		args := append(append([]any{}, call.args...), budget)
		params := make([][]byte, len(args))
		for i, a := range args {
			p, err := pgTextParam(a)
			if err != nil {
				_ = pipeline.Close()
				return nil, err
			}
			params[i] = p
		}
		placeholders := make([]string, len(args))
		for i := range placeholders {
			placeholders[i] = "$" + strconv.Itoa(i+1)
		}
		pipeline.SendQueryParams(asyncCommit, nil, nil, nil, nil)
		pipeline.SendQueryParams("SELECT "+call.fn+"("+strings.Join(placeholders, ", ")+")", params, nil, nil, nil)
		pipeline.SendPipelineSync()
	}
	pipeline.SendQueryParams(durableCommit, nil, nil, nil, nil)
	pipeline.SendPipelineSync()
	if err := pipeline.Flush(); err != nil {
		_ = pipeline.Close()
		return nil, err
	}
	results := make([]pipelineResult, len(calls))
	for i := range calls {
		if err := skipResult(pipeline); err != nil { // asyncCommit's
			_ = pipeline.Close()
			return nil, err
		}
		results[i] = readCallResult(pipeline)
		if _, err := pipeline.GetResults(); err != nil { // its Sync
			_ = pipeline.Close()
			return nil, err
		}
	}
	if err := skipResult(pipeline); err != nil { // durableCommit's
		_ = pipeline.Close()
		return nil, err
	}
	if _, err := pipeline.GetResults(); err != nil {
		_ = pipeline.Close()
		return nil, err
	}
	return results, pipeline.Close()
}

// A batch's commands commit without waiting for the write-ahead log to
// reach the disk (each would wait a flush, a replicated one on Neon), and
// the batch ends with a transaction that has an id, so that its commit
// waits for the log up to itself: every command's commit is before it in
// the log, so all are durable before the batch answers.
const (
	asyncCommit   = "SELECT set_config('synchronous_commit', 'off', true)"
	durableCommit = "SELECT pg_current_xact_id()"
)

// skipResult reads a result whose rows do not matter.
func skipResult(pipeline *pgconn.Pipeline) error {
	res, err := pipeline.GetResults()
	if err != nil {
		return err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return fmt.Errorf("database: a pipeline answered %T where a result was due", res)
	}
	_, err = rr.Close()
	return err
}

// readCallResult reads one call's result from the pipeline.
func readCallResult(pipeline *pgconn.Pipeline) pipelineResult {
	res, err := pipeline.GetResults()
	if err != nil {
		return pipelineResult{err: err}
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return pipelineResult{err: fmt.Errorf("database: a pipeline answered %T where a result was due", res)}
	}
	var out string
	for rr.NextRow() {
		if v := rr.Values(); len(v) > 0 {
			out = string(v[0])
		}
	}
	if _, err := rr.Close(); err != nil {
		return pipelineResult{err: err}
	}
	return pipelineResult{out: out}
}

// pgTextParam is a call's argument in PostgreSQL's text format; nil is
// NULL. The server reads each as the type of the function's parameter.
func pgTextParam(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case *string:
		if x == nil {
			return nil, nil
		}
		return []byte(*x), nil
	case bool:
		if x {
			return []byte("t"), nil
		}
		return []byte("f"), nil
	case int:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(nil, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case float64:
		return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
	case time.Time:
		return []byte(x.UTC().Format("2006-01-02 15:04:05.999999Z07:00")), nil
	case *time.Time:
		if x == nil {
			return nil, nil
		}
		return pgTextParam(*x)
	case driver.Valuer:
		value, err := x.Value()
		if err != nil {
			return nil, err
		}
		return pgTextParam(value)
	}
	return nil, fmt.Errorf("database: no text form for a call's argument of type %T", v)
}
