// Helpers every route group uses: the caller, ids, validation, JSON out.

package routes

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"taskflow/auth"
	"taskflow/models"
)

// sendJSON sends body, JSON that models encoded (as c.JSON would have
// encoded the same value, without reflection).
func sendJSON(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// callerID is the authenticated user's id, which scopes every store call.
func callerID(c *fiber.Ctx) (string, error) {
	caller, ok := auth.CallerFrom(c)
	if !ok || caller.UserID == "" {
		return "", models.Errorf(models.CodeUnauthorized, "a bearer token is required")
	}
	return caller.UserID, nil
}

// canonicalUUID accepts a UUID in its 36-character form, in either case,
// and returns it lower-cased as ids are stored.
func canonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return id.String(), true
}

func lowerAll(ids []string) []string {
	for i, id := range ids {
		ids[i] = strings.ToLower(id)
	}
	return ids
}

// topLevelField is the member a field path starts with: "tag_ids[0]" → "tag_ids".
func topLevelField(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// nulProblem reports a NUL character in a text field: PostgreSQL cannot
// store one, so it must be refused before it reaches the database.
func nulProblem(field, value string) []models.FieldError {
	if !strings.ContainsRune(value, 0) {
		return nil
	}
	return []models.FieldError{{Field: field, Message: "must not contain NUL characters"}}
}

// validate runs the validator's rules on body together with the checks it
// cannot express, and reports every problem in one validation error:
// members of the wrong type first (when body embeds bodyMembers), then
// the rules' and the extra problems of every other field (a member of the
// wrong type was left at its zero value, which its rules would misjudge).
func validate(val *Validator, body any, extra ...models.FieldError) error {
	var problems []models.FieldError
	if collector, ok := body.(memberCollector); ok {
		problems = append(problems, collector.decodeProblems()...)
	}
	wrongType := map[string]bool{}
	for _, p := range problems {
		wrongType[p.Field] = true
	}
	err := val.Struct(body)
	var invalid *models.Error
	var found []models.FieldError
	switch {
	case err == nil:
	case errors.As(err, &invalid) && invalid.Code == models.CodeInvalid:
		found = invalid.Fields
	default:
		return err
	}
	for _, p := range append(found, extra...) {
		if !wrongType[topLevelField(p.Field)] {
			problems = append(problems, p)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return models.Invalid(problems...)
}
