package database

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"taskflow/models"
)

// pgCallSpec is a call of a write function: its name and its arguments,
// but for the time it has (pgBudget), which is added when it is made.
type pgCallSpec struct {
	fn   string
	args []any
}

// pgCall calls the write function of call with its arguments, and the time it has
// (pgBudget), and returns the JSON it returns; its refusals come back as model errors (pgRefusal). Once it
// has succeeded, k's answer is recorded.
func pgCall(db *gorm.DB, k *models.Keyed, call pgCallSpec) (string, error) {
	var out string
	args := append(call.args, pgBudget(db.Statement.Context))
	placeholders := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	if err := scanOne(db, []any{&out}, "SELECT "+call.fn+"("+placeholders+")", args...); err != nil {
		return "", pgRefusal(err)
	}
	if k != nil {
		k.Recorded = true
	}
	return out, nil
}

// answerMargin is how long before the request's deadline a write function
// gives up, leaving its answer the time to reach the server.
const answerMargin = 100 * time.Millisecond

// pgBudget is the time a write function has, in seconds (see
// taskflow_within_budget), from ctx's deadline; nil without one.
func pgBudget(ctx context.Context) any {
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	return max(time.Until(deadline)-answerMargin, 0).Seconds()
}

// pgKeyArgs are the arguments of every write function: the answer
// of the request's Idempotency-Key (all NULL without one).
func pgKeyArgs(k *models.Keyed) []any {
	if k == nil {
		return []any{nil, nil, nil, nil, nil, nil, nil, nil}
	}
	return []any{k.Key, k.Fingerprint, k.Status, k.ContentType, nilIfEmpty(k.Location), k.ETag, k.Body, nilIfEmpty(k.TempID)}
}

// pgCondition is a precondition as the write functions take it.
func pgCondition(cond *models.Precondition) (bool, pgInt8Array) {
	if cond == nil || cond.Any {
		return true, pgInt8Array{}
	}
	return false, pgInt8Array(cond.Versions)
}

// pgRefusal turns a write function's refusal into its model error; any
// other error is classified as usual.
func pgRefusal(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return classify(err)
	}
	switch pgErr.Code {
	case pgRefusedNotFound:
		return models.Errorf(models.CodeNotFound, "%s", pgErr.Message)
	case pgRefusedChanged:
		return &models.Error{Code: models.CodePreconditionFailed, Message: pgErr.Message, Current: []byte(pgErr.Detail)}
	case pgRefusedInvalid:
		var fields []models.FieldError
		if err := json.Unmarshal([]byte(pgErr.Detail), &fields); err != nil || len(fields) == 0 {
			return models.Errorf(models.CodeInvalid, "%s", pgErr.Message)
		}
		return models.Invalid(fields...)
	}
	return classify(err)
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
