package database

import (
	"strconv"

	"gorm.io/gorm"

	"taskflow/models"
)

// The caps on what is kept about one user for replay (models.ReplayCaps)
// are enforced where such things are written, in the same statement or
// transaction, reading the caps the migration wrote (replayCapsRow):
//   - events and tombstones take ids of the user's sequence, so each write
//     of one deletes those of the user more than the cap behind it: at
//     most one row, by the primary key;
//   - answers (of Idempotency-Keys and batch commands, with their
//     temporary ids) are counted on the user's counter row, and once the
//     count passes the cap by a tenth, the oldest past the cap go and the
//     count is taken again: the cap's cost, a scan of the cap's rows of
//     an index, comes once every cap/10 answers.

// capSQL reads one of the caps, with its default should the row be
// missing.
func capSQL(column string, def int) string {
	return "COALESCE((SELECT " + column + " FROM replay_caps WHERE id = 1), " + strconv.Itoa(def) + ")"
}

var (
	eventsCap     = capSQL("events", models.DefaultReplayCaps.Events)
	answersCap    = capSQL("answers", models.DefaultReplayCaps.Answers)
	tombstonesCap = capSQL("tombstones", models.DefaultReplayCaps.Tombstones)
)

// capEvents deletes userID's events more than the cap behind seq, the
// newest.
func capEvents(db *gorm.DB, userID string, seq int64) error {
	return db.Exec("DELETE FROM events WHERE user_id = ? AND seq <= ? - "+eventsCap, userID, seq).Error
}

// capTombstones deletes userID's tombstones more than the cap behind seq,
// the newest, and moves PrunedThrough past them: a sync from before them
// starts over, full. The objects whose last change is at or before the
// new PrunedThrough get new ids of the sequence (restampThrough), so that
// such a full copy's cursors are never that old.
func capTombstones(db *gorm.DB, userID string, seq int64) error {
	res := db.Exec(`UPDATE event_counters SET pruned_through = ? - `+tombstonesCap+`
		WHERE user_id = ? AND EXISTS (SELECT 1 FROM tombstones WHERE user_id = ? AND seq <= ? - `+tombstonesCap+`)`,
		seq, userID, userID, seq)
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	if err := db.Exec("DELETE FROM tombstones WHERE user_id = ? AND seq <= ? - "+tombstonesCap, userID, seq).Error; err != nil {
		return err
	}
	var through int64
	if err := scanOne(db, []any{&through}, "SELECT pruned_through FROM event_counters WHERE user_id = ?", userID); err != nil {
		return err
	}
	return restampThrough(db, userID, through)
}

// capAnswers counts n new answers of userID's and, when the count passes
// the cap by a tenth, deletes the oldest answers and temporary ids past
// the cap and counts again.
func capAnswers(db *gorm.DB, userID string, n int) error {
	var count, limit int64
	err := scanOne(db, []any{&count, &limit}, `INSERT INTO event_counters (user_id, seq, tasks, tags, answers) VALUES (?, 0, 0, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET answers = event_counters.answers + ? RETURNING answers, `+answersCap,
		userID, n, n)
	if err != nil || count <= limit+limit/10 {
		return err
	}
	for _, table := range []string{"idempotency_keys", "temp_ids"} {
		err := db.Exec(`DELETE FROM `+table+` WHERE user_id = ? AND created_at <
			(SELECT created_at FROM `+table+` WHERE user_id = ? ORDER BY created_at DESC LIMIT 1 OFFSET ?)`,
			userID, userID, limit).Error
		if err != nil {
			return err
		}
	}
	return db.Exec(`UPDATE event_counters SET answers = (SELECT count(*) FROM idempotency_keys WHERE user_id = ?)
		WHERE user_id = ?`, userID, userID).Error
}

// pgCaps are capEvents, capTombstones and capAnswers as the write
// functions run them.
var pgCaps = `
-- An event usually pushes one out: the delete looks only at the ids that
-- can have fallen out since the last few events, since a bitmap scan from
-- the user's first id would read every entry deleted before it that
-- VACUUM has not yet removed (0.4 ms at a thousand). Every 64th id sweeps
-- from the first, for the ids skipped in a jump.
CREATE OR REPLACE FUNCTION taskflow_cap_events(p_user text, p_seq bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_cut bigint := p_seq - ` + eventsCap + `;
BEGIN
	IF p_seq % 64 = 0 THEN
		DELETE FROM events WHERE user_id = p_user AND seq <= v_cut;
	ELSE
		DELETE FROM events WHERE user_id = p_user AND seq > v_cut - 64 AND seq <= v_cut;
	END IF;
END $$;

-- Gives every object of the locked user whose last change is at or before
-- p_through a new id of the sequence, with no event (see restampThrough).
CREATE OR REPLACE FUNCTION taskflow_restamp(p_user text, p_through bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_n bigint;
	v_base bigint;
	v_done bigint;
BEGIN
	SELECT (SELECT count(*) FROM projects WHERE user_id = p_user AND seq <= p_through)
		+ (SELECT count(*) FROM tags WHERE user_id = p_user AND seq <= p_through)
		+ (SELECT count(*) FROM tasks WHERE user_id = p_user AND seq <= p_through) INTO v_n;
	IF v_n = 0 THEN
		RETURN;
	END IF;
	UPDATE event_counters SET seq = seq + v_n WHERE user_id = p_user RETURNING seq - v_n INTO v_base;
	WITH o AS (SELECT id, row_number() OVER (ORDER BY seq, created_at, id) AS n FROM projects WHERE user_id = p_user AND seq <= p_through)
	UPDATE projects p SET seq = v_base + o.n FROM o WHERE p.id = o.id;
	GET DIAGNOSTICS v_done = ROW_COUNT;
	v_base := v_base + v_done;
	WITH o AS (SELECT id, row_number() OVER (ORDER BY seq, created_at, id) AS n FROM tags WHERE user_id = p_user AND seq <= p_through)
	UPDATE tags g SET seq = v_base + o.n FROM o WHERE g.id = o.id;
	GET DIAGNOSTICS v_done = ROW_COUNT;
	v_base := v_base + v_done;
	WITH o AS (SELECT id, row_number() OVER (ORDER BY seq, created_at, id) AS n FROM tasks WHERE user_id = p_user AND seq <= p_through)
	UPDATE tasks t SET seq = v_base + o.n FROM o WHERE t.id = o.id;
END $$;

CREATE OR REPLACE FUNCTION taskflow_cap_tombstones(p_user text, p_seq bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_cut bigint := p_seq - ` + tombstonesCap + `;
BEGIN
	DELETE FROM tombstones WHERE user_id = p_user AND seq <= v_cut;
	IF FOUND THEN
		UPDATE event_counters SET pruned_through = GREATEST(pruned_through, v_cut) WHERE user_id = p_user;
		PERFORM taskflow_restamp(p_user, v_cut);
	END IF;
END $$;

CREATE OR REPLACE FUNCTION taskflow_cap_answers(p_user text, p_n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_count bigint;
	v_cap bigint := ` + answersCap + `;
BEGIN
	INSERT INTO event_counters (user_id, seq, tasks, tags, answers) VALUES (p_user, 0, 0, 0, p_n)
	ON CONFLICT (user_id) DO UPDATE SET answers = event_counters.answers + p_n RETURNING answers INTO v_count;
	IF v_count <= v_cap + v_cap / 10 THEN
		RETURN;
	END IF;
	DELETE FROM idempotency_keys WHERE user_id = p_user AND created_at <
		(SELECT created_at FROM idempotency_keys WHERE user_id = p_user ORDER BY created_at DESC LIMIT 1 OFFSET v_cap);
	DELETE FROM temp_ids WHERE user_id = p_user AND created_at <
		(SELECT created_at FROM temp_ids WHERE user_id = p_user ORDER BY created_at DESC LIMIT 1 OFFSET v_cap);
	UPDATE event_counters SET answers = (SELECT count(*) FROM idempotency_keys WHERE user_id = p_user) WHERE user_id = p_user;
END $$;
`
