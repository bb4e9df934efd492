package database

// The writes of tasks and projects on PostgreSQL are functions of the
// database, created by the migration (postgresFunctions): a call is one
// statement, one round trip, whatever the write needs between its steps
// (a subtask's project checked, a tree's depth counted, the siblings
// around a new position read, the subtasks a cascade reaches). Each
// function first locks the user's counter row; every write of the user
// does, so one user's writes run one after the other. A function is
// VOLATILE: each statement in it reads what has committed before that
// statement began, so once it holds the lock, what it reads stays true
// until it commits. Two requests that would close a cycle (A under B, B
// under A) or overfill a project therefore see each other.
//
// A refusal is an exception whose SQLSTATE says which (pgRefusal), its
// message the problem's detail, and, for an invalid request, its DETAIL
// the fields at fault as JSON. Nothing a refused call did stays. A call
// that succeeds returns the task or project as the API encodes it (JSON
// built by the SQL of json_postgres.go, which tests hold to models'
// AppendJSON), and records the answer of its Idempotency-Key, if any.

// SQLSTATEs of the functions' refusals: a class of their own, "TF".
const (
	pgRefusedNotFound = "TF404"
	pgRefusedChanged  = "TF412"
	pgRefusedInvalid  = "TF422"
)

// pgTaskJSONOf is SQL encoding task row t (of table tasks) with its tags.
var pgTaskJSONOf = pgTaskJSON("t", pgTagsJSON(`(SELECT tg.id, tg.name, tg.color, tg.created_at, tg.name_key, `+tagTaskCount+` AS task_count
	FROM task_tags tt JOIN tags tg ON tg.id = tt.tag_id AND tg.user_id = t.user_id WHERE tt.task_id = t.id)`))

// pgProjectJSON is SQL encoding project row p (of table projects) with
// its counts, as models.Project's AppendJSON does.
var pgProjectJSON = `'{"id":' || ` + pgJSONString(`p.id`) +
	` || ',"name":' || ` + pgJSONString(`p.name`) +
	` || ',"color":' || ` + pgJSONOrNull(pgJSONString(`p.color`)) +
	` || ',"position":' || ` + pgJSONString(`p.position`) +
	` || ',"archived":' || CASE WHEN p.archived THEN 'true' ELSE 'false' END` +
	` || ',"task_count":' || CAST((SELECT count(*) FROM tasks t WHERE t.user_id = p.user_id AND t.project_id = p.id) AS text)` +
	` || ',"open_task_count":' || CAST((SELECT count(*) FROM tasks t WHERE t.user_id = p.user_id AND t.project_id = p.id AND NOT t.completed) AS text)` +
	` || ',"created_at":' || ` + pgJSONTime(`p.created_at`) +
	` || ',"updated_at":' || ` + pgJSONTime(`p.updated_at`) +
	` || ',"version":' || CAST(p.version AS text) || '}'`

// pgHelpers are the functions the writes share. Those that read or write
// tables are PL/pgSQL even where one SQL statement would do: PostgreSQL
// (before 18) plans a SQL function it cannot inline on every call, about
// 0.4 ms for a task's JSON, where PL/pgSQL keeps its statements' plans for
// the connection's life.
var pgHelpers = `
CREATE OR REPLACE FUNCTION taskflow_task_json(p_id text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT ` + pgTaskJSONOf + ` FROM tasks t WHERE t.id = p_id);
END $$;

CREATE OR REPLACE FUNCTION taskflow_project_json(p_id text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT ` + pgProjectJSON + ` FROM projects p WHERE p.id = p_id);
END $$;

CREATE OR REPLACE FUNCTION taskflow_tag_json(p_id text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT ` + pgTagJSON("tg", tagTaskCount) + ` FROM tags tg WHERE tg.id = p_id);
END $$;

-- The data of a created or updated event: {"id":..., "<kind>":<json>}.
CREATE OR REPLACE FUNCTION taskflow_event_data(p_id text, p_kind text, p_json text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"id":' || ` + pgJSONString("p_id") + ` || ',"' || p_kind || '":' || p_json || '}'
$$;

-- Locks the user's counter row (making it if need be) and returns it: the
-- first statement of every write function.
CREATE OR REPLACE FUNCTION taskflow_lock_user(p_user text) RETURNS event_counters LANGUAGE plpgsql AS $$
DECLARE
	v_counter event_counters;
BEGIN
	INSERT INTO event_counters (user_id, seq, tasks, tags) VALUES (p_user, 0, 0, 0)
	ON CONFLICT (user_id) DO UPDATE SET seq = event_counters.seq RETURNING * INTO v_counter;
	RETURN v_counter;
END $$;

-- Takes the next id of the locked user's sequence, and adds p_tasks and
-- p_tags (-1, 0 or 1) to the user's counts, never below zero.
CREATE OR REPLACE FUNCTION taskflow_next_seq(p_user text, p_tasks int, p_tags int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_seq bigint;
BEGIN
	UPDATE event_counters SET seq = seq + 1, tasks = GREATEST(tasks + p_tasks, 0), tags = GREATEST(tags + p_tags, 0)
	WHERE user_id = p_user RETURNING seq INTO v_seq;
	RETURN v_seq;
END $$;

-- Records an event of the locked user with the next id of the sequence,
-- and returns that id.
CREATE OR REPLACE FUNCTION taskflow_event(p_user text, p_type text, p_data text, p_time timestamptz, p_tasks int, p_tags int)
	RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_seq bigint;
BEGIN
	v_seq := taskflow_next_seq(p_user, p_tasks, p_tags);
	INSERT INTO events (user_id, seq, type, data, created_at) VALUES (p_user, v_seq, p_type, p_data, p_time);
	PERFORM taskflow_cap_events(p_user, v_seq);
	RETURN v_seq;
END $$;

-- Records the deletion of an object (its row already gone): an event of
-- p_type when it is not NULL, and a tombstone with the same id of the
-- sequence, where a sync finds the deletion.
CREATE OR REPLACE FUNCTION taskflow_gone(p_user text, p_kind text, p_id text, p_type text, p_time timestamptz, p_tasks int, p_tags int)
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_seq bigint;
BEGIN
	IF p_type IS NULL THEN
		v_seq := taskflow_next_seq(p_user, p_tasks, p_tags);
	ELSE
		v_seq := taskflow_event(p_user, p_type, '{"id":' || ` + pgJSONString("p_id") + ` || '}', p_time, p_tasks, p_tags);
	END IF;
	INSERT INTO tombstones (user_id, seq, kind, object_id, deleted_at) VALUES (p_user, v_seq, p_kind, p_id, p_time);
	PERFORM taskflow_cap_tombstones(p_user, v_seq);
END $$;

-- Records the deletion of every object of p_ids (rows already gone), with
-- no event: their tombstones take the next ids of the sequence at once, in
-- three statements whatever their number (a project's 10,000 tasks), and
-- come off the user's task count when they are tasks.
CREATE OR REPLACE FUNCTION taskflow_gone_many(p_user text, p_kind text, p_ids text[], p_time timestamptz)
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_n int := COALESCE(cardinality(p_ids), 0);
	v_last bigint;
BEGIN
	IF v_n = 0 THEN
		RETURN;
	END IF;
	UPDATE event_counters SET seq = seq + v_n,
		tasks = CASE WHEN p_kind = 'task' THEN GREATEST(tasks - v_n, 0) ELSE tasks END
	WHERE user_id = p_user RETURNING seq INTO v_last;
	INSERT INTO tombstones (user_id, seq, kind, object_id, deleted_at)
	SELECT p_user, v_last - v_n + g.i, p_kind, p_ids[g.i], p_time FROM generate_series(1, v_n) AS g(i);
	PERFORM taskflow_cap_tombstones(p_user, v_last);
END $$;

-- Records a created or updated object's event with its JSON, stamps its
-- row with the event's id (where a sync finds the change), and returns
-- the JSON.
CREATE OR REPLACE FUNCTION taskflow_task_changed(p_user text, p_id text, p_type text, p_time timestamptz, p_tasks int)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_json text := taskflow_task_json(p_id);
BEGIN
	UPDATE tasks SET seq = taskflow_event(p_user, p_type, taskflow_event_data(p_id, 'task', v_json), p_time, p_tasks, 0)
	WHERE id = p_id AND user_id = p_user;
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_tag_changed(p_user text, p_id text, p_type text, p_time timestamptz, p_tags int)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_json text := taskflow_tag_json(p_id);
BEGIN
	UPDATE tags SET seq = taskflow_event(p_user, p_type, taskflow_event_data(p_id, 'tag', v_json), p_time, 0, p_tags)
	WHERE id = p_id AND user_id = p_user;
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_project_changed(p_user text, p_id text, p_type text, p_time timestamptz)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_json text := taskflow_project_json(p_id);
BEGIN
	UPDATE projects SET seq = taskflow_event(p_user, p_type, taskflow_event_data(p_id, 'project', v_json), p_time, 0, 0)
	WHERE id = p_id AND user_id = p_user;
	RETURN v_json;
END $$;

-- Locks the user and returns the task a write changes: refused when it
-- is not the user's, or when the precondition names other versions (with
-- the task as it is now). Every write of a task begins with it.
CREATE OR REPLACE FUNCTION taskflow_task_to_write(p_user text, p_id text, p_any_version boolean, p_versions bigint[])
	RETURNS tasks LANGUAGE plpgsql AS $$
DECLARE
	v_cur tasks;
BEGIN
	PERFORM taskflow_lock_user(p_user);
	SELECT * INTO v_cur FROM tasks WHERE id = p_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM taskflow_refuse('` + pgRefusedNotFound + `', 'task not found', NULL);
	END IF;
	IF NOT p_any_version AND NOT v_cur.version = ANY(p_versions) THEN
		PERFORM taskflow_stale('the task has changed since that ETag was issued: fetch it again', taskflow_task_json(p_id));
	END IF;
	RETURN v_cur;
END $$;

-- taskflow_task_to_write's twin for a project.
CREATE OR REPLACE FUNCTION taskflow_project_to_write(p_user text, p_id text, p_any_version boolean, p_versions bigint[])
	RETURNS projects LANGUAGE plpgsql AS $$
DECLARE
	v_cur projects;
BEGIN
	PERFORM taskflow_lock_user(p_user);
	SELECT * INTO v_cur FROM projects WHERE id = p_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM taskflow_refuse('` + pgRefusedNotFound + `', 'project not found', NULL);
	END IF;
	IF NOT p_any_version AND NOT v_cur.version = ANY(p_versions) THEN
		PERFORM taskflow_stale('the project has changed since that ETag was issued: fetch it again', taskflow_project_json(p_id));
	END IF;
	RETURN v_cur;
END $$;

-- Tells every replica's change feed that the user has new events, up to
-- p_seq (delivered at commit, never for a write rolled back).
CREATE OR REPLACE FUNCTION taskflow_notify(p_user text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('` + EventChannel + `', p_user || ' ' || seq) FROM event_counters WHERE user_id = p_user;
END $$;

-- Records the answer of a request's Idempotency-Key (nothing when p_key is
-- NULL). A key recorded already fails the whole write on its primary key.
CREATE OR REPLACE FUNCTION taskflow_record_answer(p_user text, p_key text, p_fingerprint text, p_status int,
	p_content_type text, p_location text, p_etag text, p_body text, p_time timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF p_key IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
	VALUES (p_user, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, convert_to(p_body, 'UTF8'), p_time);
	PERFORM taskflow_cap_answers(p_user, 1);
END $$;

-- Fails the write, undoing it, when it ran past p_budget seconds: its
-- client has given up by then (a 503), and a write applied behind its
-- back would make a retry with the same Idempotency-Key a replay of an
-- answer it never got, where the contract lets it run the write. The
-- budget is the client's deadline less a margin for the answer's way back.
CREATE OR REPLACE FUNCTION taskflow_within_budget(p_budget double precision) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF p_budget IS NOT NULL AND clock_timestamp() > statement_timestamp() + make_interval(secs => p_budget) THEN
		RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = 'the write ran past its deadline';
	END IF;
END $$;

-- Refuses a write whose precondition failed, with the object as it is now.
CREATE OR REPLACE FUNCTION taskflow_stale(p_message text, p_current text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = '` + pgRefusedChanged + `', MESSAGE = p_message, DETAIL = p_current;
END $$;

CREATE OR REPLACE FUNCTION taskflow_refuse(p_code text, p_message text, p_problems jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, DETAIL = COALESCE(p_problems, '[]')::text;
END $$;

CREATE OR REPLACE FUNCTION taskflow_problem(p_field text, p_message text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_array(jsonb_build_object('field', p_field, 'message', p_message))
$$;

-- The problem of tag ids that are not all the user's tags, or NULL.
CREATE OR REPLACE FUNCTION taskflow_tag_problems(p_user text, p_tag_ids text[]) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN CASE WHEN (SELECT count(*) FROM tags WHERE user_id = p_user AND id = ANY(p_tag_ids)) <> cardinality(p_tag_ids)
		THEN taskflow_problem('tag_ids', 'must list only ids of your own tags') END;
END $$;

-- n evenly spaced positions over the whole range, in order: a rebalance's.
CREATE OR REPLACE FUNCTION taskflow_position_spread(p_n int) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	v_digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
	v_width int := 2;
	v_total numeric;
	v_value numeric;
	v_key text;
	v_keys text[] := '{}';
BEGIN
	WHILE power(62::numeric, v_width - 1) <= p_n + 1 LOOP
		v_width := v_width + 1;
	END LOOP;
	v_total := power(62::numeric, v_width);
	FOR i IN 1..p_n LOOP
		v_value := div(v_total * i, p_n + 1);
		v_key := '';
		FOR d IN 1..v_width LOOP
			v_key := substr(v_digits, (mod(v_value, 62))::int + 1, 1) || v_key;
			v_value := div(v_value, 62);
		END LOOP;
		v_keys := v_keys || rtrim(v_key, '0');
	END LOOP;
	RETURN v_keys;
END $$;
`

// pgTaskPlace resolves and checks where a task goes (see placeFor, its
// SQLite twin, for the rules); it refuses with every problem at once.
var pgTaskPlace = `
CREATE OR REPLACE FUNCTION taskflow_task_place(p_user text, p_task text, p_project text, p_parent text,
	p_project_set boolean, p_new_project text, p_parent_set boolean, p_new_parent text, p_problems jsonb,
	OUT place_project text, OUT place_parent text) LANGUAGE plpgsql AS $$
DECLARE
	v_problems jsonb := COALESCE(p_problems, '[]');
	v_parent tasks;
	v_chain text[];
	v_height int := 1;
BEGIN
	place_project := CASE WHEN p_project_set THEN p_new_project ELSE p_project END;
	place_parent := CASE WHEN p_parent_set THEN p_new_parent ELSE p_parent END;
	IF place_project IS NOT NULL AND (p_project_set OR p_task IS NULL)
		AND NOT EXISTS (SELECT 1 FROM projects WHERE id = place_project AND user_id = p_user) THEN
		v_problems := v_problems || taskflow_problem('project_id', 'must be the id of one of your projects, or null');
	END IF;
	IF place_parent IS NOT NULL AND p_parent_set THEN
		SELECT * INTO v_parent FROM tasks WHERE id = place_parent AND user_id = p_user;
		IF NOT FOUND THEN
			v_problems := v_problems || taskflow_problem('parent_id', 'must be the id of one of your tasks, or null');
		ELSIF NOT p_project_set THEN
			place_project := v_parent.project_id;
		ELSIF v_parent.project_id IS DISTINCT FROM place_project THEN
			v_problems := v_problems || taskflow_problem('parent_id', 'must be a task in the same project');
		END IF;
	ELSIF place_parent IS NOT NULL AND p_project_set AND p_new_project IS DISTINCT FROM p_project THEN
		v_problems := v_problems || taskflow_problem('parent_id', 'must be a task in the same project: send the new parent, or null');
	END IF;
	IF jsonb_array_length(v_problems) > 0 THEN
		PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid', v_problems);
	END IF;
	IF place_parent IS NOT NULL AND p_parent_set THEN
		WITH RECURSIVE anc(id, parent_id, depth) AS (
			SELECT t.id, t.parent_id, 1 FROM tasks t WHERE t.id = place_parent AND t.user_id = p_user
			UNION ALL SELECT t.id, t.parent_id, anc.depth + 1 FROM tasks t JOIN anc ON t.id = anc.parent_id
			WHERE t.user_id = p_user AND anc.depth <= 4)
		SELECT array_agg(id ORDER BY depth) INTO v_chain FROM anc;
		IF p_task IS NOT NULL THEN
			IF p_task = ANY(v_chain) THEN
				PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
					taskflow_problem('parent_id', 'must not be the task itself or one of its subtasks'));
			END IF;
			WITH RECURSIVE sub(id, depth) AS (
				SELECT t.id, 1 FROM tasks t WHERE t.id = p_task AND t.user_id = p_user
				UNION ALL SELECT t.id, sub.depth + 1 FROM tasks t JOIN sub ON t.parent_id = sub.id
				WHERE t.user_id = p_user AND sub.depth <= 4)
			SELECT COALESCE(max(depth), 1) INTO v_height FROM sub;
		END IF;
		IF cardinality(v_chain) + v_height > 4 THEN
			PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
				taskflow_problem('parent_id', 'would make the tree deeper than 4 levels (a task, its subtask, theirs, theirs)'));
		END IF;
	END IF;
END $$;
`

// pgPositions are the functions that give a task or a project its place
// among its siblings (see keyIn, their SQLite twin): right after p_after,
// first when p_after is NULL, last when p_after_set is false. Only that
// row's position changes, unless the gap is too narrow for a short key:
// then every sibling gets a new, evenly spaced one, with what a change
// means for each (version, updated_at, event).
var pgPositions = `
CREATE OR REPLACE FUNCTION taskflow_task_key(p_user text, p_project text, p_parent text, p_exclude text,
	p_after_set boolean, p_after text, p_jitter double precision, p_now timestamptz, p_time timestamptz)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_before text;
	v_after text;
	v_key text;
	v_ids text[];
	v_keys text[];
	v_at int;
BEGIN
	-- Each neighbour is ORDER BY ... LIMIT 1: one entry of the siblings'
	-- index. max() and min() under the cached generic plan read them all.
	IF NOT p_after_set THEN
		SELECT position INTO v_before FROM tasks WHERE user_id = p_user AND COALESCE(project_id, '') = COALESCE(p_project, '')
			AND COALESCE(parent_id, '') = COALESCE(p_parent, '') AND id <> p_exclude
			ORDER BY position DESC LIMIT 1;
	ELSIF p_after IS NULL THEN
		SELECT position INTO v_after FROM tasks WHERE user_id = p_user AND COALESCE(project_id, '') = COALESCE(p_project, '')
			AND COALESCE(parent_id, '') = COALESCE(p_parent, '') AND id <> p_exclude
			ORDER BY position ASC LIMIT 1;
	ELSE
		SELECT position INTO v_before FROM tasks WHERE user_id = p_user AND COALESCE(project_id, '') = COALESCE(p_project, '')
			AND COALESCE(parent_id, '') = COALESCE(p_parent, '') AND id <> p_exclude AND id = p_after;
		IF NOT FOUND THEN
			PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
				taskflow_problem('after_id', 'must be the id of a sibling where it goes (same project and parent), or null'));
		END IF;
		SELECT position INTO v_after FROM tasks WHERE user_id = p_user AND COALESCE(project_id, '') = COALESCE(p_project, '')
			AND COALESCE(parent_id, '') = COALESCE(p_parent, '') AND id <> p_exclude AND position > v_before
			ORDER BY position ASC LIMIT 1;
	END IF;
	v_key := taskflow_position_between(v_before, v_after, p_jitter);
	IF v_key IS NOT NULL THEN
		RETURN v_key;
	END IF;
	SELECT array_agg(id ORDER BY position) INTO v_ids FROM tasks WHERE user_id = p_user
		AND COALESCE(project_id, '') = COALESCE(p_project, '') AND COALESCE(parent_id, '') = COALESCE(p_parent, '') AND id <> p_exclude;
	v_ids := COALESCE(v_ids, '{}');
	SELECT count(*) INTO v_at FROM tasks WHERE id = ANY(v_ids) AND v_before IS NOT NULL AND position <= v_before;
	v_ids := v_ids[1:v_at] || p_exclude || v_ids[v_at + 1:];
	v_keys := taskflow_position_spread(cardinality(v_ids));
	UPDATE tasks SET position = '~' || id WHERE id = ANY(v_ids) AND user_id = p_user;
	FOR i IN 1..cardinality(v_ids) LOOP
		CONTINUE WHEN i = v_at + 1;
		UPDATE tasks SET position = v_keys[i], version = version + 1, updated_at = p_now WHERE id = v_ids[i] AND user_id = p_user;
		PERFORM taskflow_task_changed(p_user, v_ids[i], 'task.updated', p_time, 0);
	END LOOP;
	RETURN v_keys[v_at + 1];
END $$;

CREATE OR REPLACE FUNCTION taskflow_project_key(p_user text, p_exclude text, p_after_set boolean, p_after text,
	p_jitter double precision, p_now timestamptz, p_time timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_before text;
	v_after text;
	v_key text;
	v_ids text[];
	v_keys text[];
	v_at int;
BEGIN
	IF NOT p_after_set THEN
		SELECT position INTO v_before FROM projects WHERE user_id = p_user AND id <> p_exclude
			ORDER BY position DESC LIMIT 1;
	ELSIF p_after IS NULL THEN
		SELECT position INTO v_after FROM projects WHERE user_id = p_user AND id <> p_exclude
			ORDER BY position ASC LIMIT 1;
	ELSE
		SELECT position INTO v_before FROM projects WHERE user_id = p_user AND id <> p_exclude AND id = p_after;
		IF NOT FOUND THEN
			PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
				taskflow_problem('after_id', 'must be the id of another of your projects, or null'));
		END IF;
		SELECT position INTO v_after FROM projects WHERE user_id = p_user AND id <> p_exclude AND position > v_before
			ORDER BY position ASC LIMIT 1;
	END IF;
	v_key := taskflow_position_between(v_before, v_after, p_jitter);
	IF v_key IS NOT NULL THEN
		RETURN v_key;
	END IF;
	SELECT array_agg(id ORDER BY position) INTO v_ids FROM projects WHERE user_id = p_user AND id <> p_exclude;
	v_ids := COALESCE(v_ids, '{}');
	SELECT count(*) INTO v_at FROM projects WHERE id = ANY(v_ids) AND v_before IS NOT NULL AND position <= v_before;
	v_ids := v_ids[1:v_at] || p_exclude || v_ids[v_at + 1:];
	v_keys := taskflow_position_spread(cardinality(v_ids));
	UPDATE projects SET position = '~' || id WHERE id = ANY(v_ids) AND user_id = p_user;
	FOR i IN 1..cardinality(v_ids) LOOP
		CONTINUE WHEN i = v_at + 1;
		UPDATE projects SET position = v_keys[i], version = version + 1, updated_at = p_now WHERE id = v_ids[i] AND user_id = p_user;
		PERFORM taskflow_project_changed(p_user, v_ids[i], 'project.updated', p_time);
	END LOOP;
	RETURN v_keys[v_at + 1];
END $$;
`

// pgTaskWrites are the task writes. Each takes the answer of the request's
// Idempotency-Key last (p_key NULL: none): its status, content type,
// Location (NULL: none; else the new id is appended), whether the ETag is
// the version and whether the body is the task.
var pgTaskWrites = `
-- Announces, as task.updated, every task under p_id that p_only (a set of
-- ids) holds, after an update of them.
CREATE OR REPLACE FUNCTION taskflow_announce_tasks(p_user text, p_ids text[], p_time timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..COALESCE(cardinality(p_ids), 0) LOOP
		PERFORM taskflow_task_changed(p_user, p_ids[i], 'task.updated', p_time, 0);
	END LOOP;
END $$;

-- The ids of the tasks under p_id, parents before their subtasks. Read
-- it into a variable before a statement that matches rows against it: in
-- a WHERE clause, the planner may call it again for every row it
-- filters, every one of the user's tasks.
CREATE OR REPLACE FUNCTION taskflow_descendants(p_user text, p_id text) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (WITH RECURSIVE sub(id, depth) AS (
		SELECT t.id, 0 FROM tasks t WHERE t.id = p_id AND t.user_id = p_user
		UNION ALL SELECT t.id, sub.depth + 1 FROM tasks t JOIN sub ON t.parent_id = sub.id WHERE t.user_id = p_user AND sub.depth < 4)
	SELECT COALESCE(array_agg(id ORDER BY depth, id) FILTER (WHERE depth > 0), '{}') FROM sub);
END $$;

-- Records the answer of a request's Idempotency-Key, or a batch command's
-- result, and the temporary id the command named what it made by.
CREATE OR REPLACE FUNCTION taskflow_answer(p_user text, p_id text, p_version bigint, p_json text, p_key text, p_fingerprint text,
	p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_time timestamptz)
	RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM taskflow_record_answer(p_user, p_key, p_fingerprint, p_status, p_content_type,
		COALESCE(p_location || p_id, ''), CASE WHEN p_etag THEN '"' || p_version || '"' ELSE '' END,
		CASE WHEN p_body THEN p_json ELSE '' END, p_time);
	IF p_temp_id IS NOT NULL THEN
		INSERT INTO temp_ids (user_id, temp_id, object_id, created_at) VALUES (p_user, p_temp_id, p_id, p_time)
		ON CONFLICT (user_id, temp_id) DO UPDATE SET object_id = excluded.object_id, created_at = excluded.created_at;
	END IF;
END $$;

CREATE OR REPLACE FUNCTION taskflow_task_create(p_user text, p_id text, p_title text, p_description text, p_completed boolean,
	p_priority smallint, p_due timestamptz, p_now timestamptz, p_tag_ids text[],
	p_project_set boolean, p_project text, p_parent_set boolean, p_parent text, p_cap bigint, p_jitter double precision, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_counter event_counters;
	v_place record;
	v_position text;
	v_json text;
BEGIN
	v_counter := taskflow_lock_user(p_user);
	IF v_counter.tasks >= p_cap THEN
		PERFORM taskflow_refuse('` + pgRefusedInvalid + `', format('limit reached: a user may have at most %s tasks', p_cap), NULL);
	END IF;
	v_place := taskflow_task_place(p_user, NULL, NULL, NULL, p_project_set, p_project, p_parent_set, p_parent,
		taskflow_tag_problems(p_user, p_tag_ids));
	v_position := taskflow_task_key(p_user, v_place.place_project, v_place.place_parent, p_id, false, NULL, p_jitter, p_now, p_time);
	INSERT INTO tasks (id, user_id, title, description, completed, priority, due_date, completed_at, version, created_at, updated_at,
		project_id, parent_id, position)
	VALUES (p_id, p_user, p_title, p_description, p_completed, p_priority, p_due, CASE WHEN p_completed THEN p_now END, 1, p_now, p_now,
		v_place.place_project, v_place.place_parent, v_position);
	INSERT INTO task_tags (task_id, tag_id) SELECT p_id, unnest(p_tag_ids);
	v_json := taskflow_task_changed(p_user, p_id, 'task.created', p_time, 1);
	PERFORM taskflow_answer(p_user, p_id, 1, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_task_update(p_user text, p_id text, p_any_version boolean, p_versions bigint[],
	p_set_title boolean, p_title text, p_set_description boolean, p_description text, p_set_completed boolean, p_completed boolean,
	p_set_priority boolean, p_priority smallint, p_set_due boolean, p_due timestamptz, p_set_tags boolean, p_tag_ids text[],
	p_project_set boolean, p_project text, p_parent_set boolean, p_parent text, p_now timestamptz, p_jitter double precision, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_cur tasks;
	v_next tasks;
	v_place record;
	v_retagged boolean := false;
	v_json text;
	v_ids text[];
	v_under text[];
BEGIN
	v_cur := taskflow_task_to_write(p_user, p_id, p_any_version, p_versions);
	v_next := v_cur;
	IF p_project_set OR p_parent_set OR p_set_tags THEN
		v_place := taskflow_task_place(p_user, p_id, v_cur.project_id, v_cur.parent_id, p_project_set, p_project, p_parent_set, p_parent,
			CASE WHEN p_set_tags THEN taskflow_tag_problems(p_user, p_tag_ids) END);
		v_next.project_id := v_place.place_project;
		v_next.parent_id := v_place.place_parent;
		IF v_next.project_id IS DISTINCT FROM v_cur.project_id OR v_next.parent_id IS DISTINCT FROM v_cur.parent_id THEN
			v_next.position := taskflow_task_key(p_user, v_next.project_id, v_next.parent_id, p_id, false, NULL, p_jitter, p_now, p_time);
		END IF;
	END IF;
	IF p_set_title THEN v_next.title := p_title; END IF;
	IF p_set_description THEN v_next.description := p_description; END IF;
	IF p_set_priority THEN v_next.priority := p_priority; END IF;
	IF p_set_due THEN v_next.due_date := p_due; END IF;
	IF p_set_completed THEN
		v_next.completed := p_completed;
		v_next.completed_at := CASE WHEN NOT p_completed THEN NULL WHEN v_cur.completed THEN v_cur.completed_at ELSE p_now END;
	END IF;
	IF p_set_tags THEN
		v_retagged := EXISTS (SELECT tag_id FROM task_tags WHERE task_id = p_id EXCEPT SELECT unnest(p_tag_ids))
			OR EXISTS (SELECT unnest(p_tag_ids) EXCEPT SELECT tag_id FROM task_tags WHERE task_id = p_id);
	END IF;
	IF v_retagged OR ROW(v_next.title, v_next.description, v_next.completed, v_next.priority, v_next.due_date, v_next.completed_at,
			v_next.project_id, v_next.parent_id, v_next.position)
		IS DISTINCT FROM ROW(v_cur.title, v_cur.description, v_cur.completed, v_cur.priority, v_cur.due_date, v_cur.completed_at,
			v_cur.project_id, v_cur.parent_id, v_cur.position) THEN
		UPDATE tasks SET title = v_next.title, description = v_next.description, completed = v_next.completed, priority = v_next.priority,
			due_date = v_next.due_date, completed_at = v_next.completed_at, project_id = v_next.project_id, parent_id = v_next.parent_id,
			position = v_next.position, version = v_cur.version + 1, updated_at = p_now
		WHERE id = p_id;
		IF v_retagged THEN
			DELETE FROM task_tags WHERE task_id = p_id AND tag_id <> ALL(p_tag_ids);
			INSERT INTO task_tags (task_id, tag_id) SELECT p_id, unnest(p_tag_ids) ON CONFLICT DO NOTHING;
		END IF;
		v_json := taskflow_task_changed(p_user, p_id, 'task.updated', p_time, 0);
		IF v_next.project_id IS DISTINCT FROM v_cur.project_id THEN
			v_under := taskflow_descendants(p_user, p_id);
			WITH moved AS (UPDATE tasks SET project_id = v_next.project_id, version = version + 1, updated_at = p_now
				WHERE user_id = p_user AND id = ANY(v_under) RETURNING id)
			SELECT array_agg(id ORDER BY id) INTO v_ids FROM moved;
			PERFORM taskflow_announce_tasks(p_user, v_ids, p_time);
		END IF;
		IF v_next.completed AND NOT v_cur.completed THEN
			v_under := taskflow_descendants(p_user, p_id);
			WITH done AS (UPDATE tasks SET completed = true, completed_at = p_now, version = version + 1, updated_at = p_now
				WHERE user_id = p_user AND id = ANY(v_under) AND NOT completed RETURNING id)
			SELECT array_agg(id ORDER BY id) INTO v_ids FROM done;
			PERFORM taskflow_announce_tasks(p_user, v_ids, p_time);
		END IF;
		PERFORM taskflow_notify(p_user);
		v_cur.version := v_cur.version + 1;
	ELSE
		v_json := taskflow_task_json(p_id);
	END IF;
	PERFORM taskflow_answer(p_user, p_id, v_cur.version, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_task_move(p_user text, p_id text, p_any_version boolean, p_versions bigint[],
	p_project_set boolean, p_project text, p_parent_set boolean, p_parent text, p_after_set boolean, p_after text,
	p_now timestamptz, p_jitter double precision, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_cur tasks;
	v_place record;
	v_position text;
	v_json text;
	v_ids text[];
	v_under text[];
BEGIN
	v_cur := taskflow_task_to_write(p_user, p_id, p_any_version, p_versions);
	v_place := taskflow_task_place(p_user, p_id, v_cur.project_id, v_cur.parent_id, p_project_set, p_project, p_parent_set, p_parent, NULL);
	IF p_after = p_id THEN
		PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
			taskflow_problem('after_id', 'must be the id of a sibling where it goes (same project and parent), or null'));
	END IF;
	v_position := taskflow_task_key(p_user, v_place.place_project, v_place.place_parent, p_id, p_after_set, p_after, p_jitter, p_now, p_time);
	UPDATE tasks SET project_id = v_place.place_project, parent_id = v_place.place_parent, position = v_position,
		version = version + 1, updated_at = p_now WHERE id = p_id;
	v_json := taskflow_task_changed(p_user, p_id, 'task.updated', p_time, 0);
	IF v_place.place_project IS DISTINCT FROM v_cur.project_id THEN
		v_under := taskflow_descendants(p_user, p_id);
		WITH moved AS (UPDATE tasks SET project_id = v_place.place_project, version = version + 1, updated_at = p_now
			WHERE user_id = p_user AND id = ANY(v_under) RETURNING id)
		SELECT array_agg(id ORDER BY id) INTO v_ids FROM moved;
		PERFORM taskflow_announce_tasks(p_user, v_ids, p_time);
	END IF;
	PERFORM taskflow_answer(p_user, p_id, v_cur.version + 1, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_task_delete(p_user text, p_id text, p_any_version boolean, p_versions bigint[], p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_cur tasks;
	v_gone text[];
BEGIN
	v_cur := taskflow_task_to_write(p_user, p_id, p_any_version, p_versions);
	v_gone := p_id || taskflow_descendants(p_user, p_id);
	DELETE FROM tasks WHERE user_id = p_user AND id = ANY(v_gone);
	FOR i IN 1..cardinality(v_gone) LOOP
		PERFORM taskflow_gone(p_user, 'task', v_gone[i], 'task.deleted', p_time, -1, 0);
	END LOOP;
	PERFORM taskflow_answer(p_user, p_id, 0, '', p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN '';
END $$;
`

// pgProjectWrites are the project writes, which take the answer of a key
// as the task writes do.
var pgProjectWrites = `
CREATE OR REPLACE FUNCTION taskflow_project_create(p_user text, p_id text, p_name text, p_color text, p_now timestamptz,
	p_cap bigint, p_jitter double precision, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_json text;
BEGIN
	PERFORM taskflow_lock_user(p_user);
	IF (SELECT count(*) FROM projects WHERE user_id = p_user) >= p_cap THEN
		PERFORM taskflow_refuse('` + pgRefusedInvalid + `', format('limit reached: a user may have at most %s projects', p_cap), NULL);
	END IF;
	INSERT INTO projects (id, user_id, name, color, position, archived, version, created_at, updated_at)
	VALUES (p_id, p_user, p_name, p_color, taskflow_project_key(p_user, p_id, false, NULL, p_jitter, p_now, p_time), false, 1, p_now, p_now);
	v_json := taskflow_project_changed(p_user, p_id, 'project.created', p_time);
	PERFORM taskflow_answer(p_user, p_id, 1, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

-- An update (p_move false) or a move (p_move true) of a project.
CREATE OR REPLACE FUNCTION taskflow_project_update(p_user text, p_id text, p_any_version boolean, p_versions bigint[],
	p_set_name boolean, p_name text, p_set_color boolean, p_color text, p_set_archived boolean, p_archived boolean,
	p_move boolean, p_after_set boolean, p_after text, p_now timestamptz, p_jitter double precision, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_cur projects;
	v_next projects;
	v_json text;
BEGIN
	v_cur := taskflow_project_to_write(p_user, p_id, p_any_version, p_versions);
	v_next := v_cur;
	IF p_set_name THEN v_next.name := p_name; END IF;
	IF p_set_color THEN v_next.color := p_color; END IF;
	IF p_set_archived THEN v_next.archived := p_archived; END IF;
	IF p_move THEN
		IF p_after = p_id THEN
			PERFORM taskflow_refuse('` + pgRefusedInvalid + `', 'the request is invalid',
				taskflow_problem('after_id', 'must be the id of another of your projects, or null'));
		END IF;
		v_next.position := taskflow_project_key(p_user, p_id, p_after_set, p_after, p_jitter, p_now, p_time);
	END IF;
	IF ROW(v_next.name, v_next.color, v_next.archived, v_next.position) IS DISTINCT FROM ROW(v_cur.name, v_cur.color, v_cur.archived, v_cur.position) THEN
		UPDATE projects SET name = v_next.name, color = v_next.color, archived = v_next.archived, position = v_next.position,
			version = v_cur.version + 1, updated_at = p_now WHERE id = p_id;
		v_json := taskflow_project_changed(p_user, p_id, 'project.updated', p_time);
		PERFORM taskflow_notify(p_user);
		v_cur.version := v_cur.version + 1;
	ELSE
		v_json := taskflow_project_json(p_id);
	END IF;
	PERFORM taskflow_answer(p_user, p_id, v_cur.version, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

-- Deletes a project with all its tasks; only project.deleted is recorded.
CREATE OR REPLACE FUNCTION taskflow_project_delete(p_user text, p_id text, p_any_version boolean, p_versions bigint[], p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_cur projects;
	v_gone text[];
BEGIN
	v_cur := taskflow_project_to_write(p_user, p_id, p_any_version, p_versions);
	WITH gone AS (DELETE FROM tasks WHERE user_id = p_user AND project_id = p_id RETURNING id)
	SELECT COALESCE(array_agg(id ORDER BY id), '{}') INTO v_gone FROM gone;
	DELETE FROM projects WHERE id = p_id;
	PERFORM taskflow_gone(p_user, 'project', p_id, 'project.deleted', p_time, 0, 0);
	PERFORM taskflow_gone_many(p_user, 'task', v_gone, p_time);
	PERFORM taskflow_answer(p_user, p_id, 0, '', p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN '';
END $$;
`

// pgTagWrites are the tag writes, which take the answer of a key as the
// task writes do. A name the user already has (ignoring case) is a
// unique violation on tags, which the store reports as a conflict naming
// the name; it is checked before the cap, as the first thing wrong.
var pgTagWrites = `
CREATE OR REPLACE FUNCTION taskflow_tag_create(p_user text, p_id text, p_name text, p_name_key text, p_color text,
	p_now timestamptz, p_cap bigint, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_counter event_counters;
	v_json text;
BEGIN
	v_counter := taskflow_lock_user(p_user);
	IF EXISTS (SELECT 1 FROM tags WHERE user_id = p_user AND name_key = p_name_key) THEN
		RAISE EXCEPTION USING ERRCODE = 'unique_violation', TABLE = 'tags', MESSAGE = 'the name is taken';
	END IF;
	IF v_counter.tags >= p_cap THEN
		PERFORM taskflow_refuse('` + pgRefusedInvalid + `', format('limit reached: a user may have at most %s tags', p_cap), NULL);
	END IF;
	INSERT INTO tags (id, user_id, name, name_key, color, created_at, updated_at) VALUES (p_id, p_user, p_name, p_name_key, p_color, p_now, p_now);
	v_json := taskflow_tag_changed(p_user, p_id, 'tag.created', p_time, 1);
	PERFORM taskflow_answer(p_user, p_id, 0, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

CREATE OR REPLACE FUNCTION taskflow_tag_update(p_user text, p_id text, p_set_name boolean, p_name text, p_name_key text,
	p_set_color boolean, p_color text, p_now timestamptz, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v_json text;
BEGIN
	PERFORM taskflow_lock_user(p_user);
	UPDATE tags SET name = CASE WHEN p_set_name THEN p_name ELSE name END, name_key = CASE WHEN p_set_name THEN p_name_key ELSE name_key END,
		color = CASE WHEN p_set_color THEN p_color ELSE color END, updated_at = p_now
	WHERE id = p_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM taskflow_refuse('` + pgRefusedNotFound + `', 'tag not found', NULL);
	END IF;
	v_json := taskflow_tag_changed(p_user, p_id, 'tag.updated', p_time, 0);
	PERFORM taskflow_answer(p_user, p_id, 0, v_json, p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN v_json;
END $$;

-- Deletes a tag; its links go by cascade. Its tasks get no event, and no
-- new id of the sequence: the tag's event and tombstone say it is gone
-- from them.
CREATE OR REPLACE FUNCTION taskflow_tag_delete(p_user text, p_id text, p_time timestamptz,
	p_key text, p_fingerprint text, p_status int, p_content_type text, p_location text, p_etag boolean, p_body boolean, p_temp_id text, p_budget double precision)
	RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM taskflow_lock_user(p_user);
	DELETE FROM tags WHERE id = p_id AND user_id = p_user;
	IF NOT FOUND THEN
		PERFORM taskflow_refuse('` + pgRefusedNotFound + `', 'tag not found', NULL);
	END IF;
	PERFORM taskflow_gone(p_user, 'tag', p_id, 'tag.deleted', p_time, 0, -1);
	PERFORM taskflow_answer(p_user, p_id, 0, '', p_key, p_fingerprint, p_status, p_content_type, p_location, p_etag, p_body, p_temp_id, p_time);
	PERFORM taskflow_notify(p_user);
	PERFORM taskflow_within_budget(p_budget);
	RETURN '';
END $$;
`

// postgresFunctions creates or replaces every function the writes call.
func postgresFunctions() []string {
	return []string{pgCaps, pgHelpers, pgTaskPlace, pgPositions, pgTaskWrites, pgProjectWrites, pgTagWrites}
}
