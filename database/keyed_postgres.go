package database

import "taskflow/models"

// pgKeyed is the CTE that records k's answer inside a PostgreSQL write's
// own statement (see models.Keyed), with its arguments; "" and none
// without k. It inserts one row for each row of from, the CTE that yields
// the object the write made or changed only when the write succeeded:
// idExpr, versionExpr and jsonExpr read its id, its version and its JSON
// (as the answer's body encodes it). No part of the statement reads it, so
// PostgreSQL runs it after everything else (data-modifying CTEs that no
// one reads run last): the write's other locks are taken first, as in any
// write of that user, and two requests with one key cannot deadlock.
// When the key is already recorded, its primary key fails the whole
// statement, the write included.
func pgKeyed(k *models.Keyed, userID, from, idExpr, versionExpr, jsonExpr string) (string, []any) {
	if k == nil {
		return "", nil
	}
	args := []any{userID, k.Key, k.Fingerprint, k.Status, k.ContentType}
	location := "''"
	if k.Location != "" {
		location = "CAST(? AS text) || " + idExpr
		args = append(args, k.Location)
	}
	etag := "''"
	if k.ETag {
		etag = `'"' || CAST(` + versionExpr + ` AS text) || '"'`
	}
	body := "CAST('' AS bytea)"
	if k.Body {
		body = "convert_to(" + jsonExpr + ", 'UTF8')"
	}
	args = append(args, storeTime())
	return `, k AS (INSERT INTO idempotency_keys (user_id, idempotency_key, fingerprint, status, content_type, location, etag, body, created_at)
		SELECT ?, ?, ?, ?, ?, ` + location + `, ` + etag + `, ` + body + `, ? FROM ` + from + `)`, args
}
