// Typed query parameters, each problem remembered so a 4xx names them all.

package routes

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// queryParams reads typed query parameters, remembering every one of the
// wrong type and every one out of range. An empty value is absent.
type queryParams struct {
	c        *fiber.Ctx
	badTypes []models.FieldError
	invalid  []models.FieldError
}

func (q *queryParams) wrongType(name, want string) {
	q.badTypes = append(q.badTypes, models.FieldError{Field: name, Message: "must be " + want})
}

func (q *queryParams) outOfRange(name, message string) {
	q.invalid = append(q.invalid, models.FieldError{Field: name, Message: message})
}

// err is nil when every parameter is fine. A parameter of the wrong type
// makes it a 400 (the contract's status for that), which still names every
// parameter at fault, those out of range included; otherwise a 422 does.
func (q *queryParams) err() error {
	if len(q.badTypes) > 0 {
		first := q.badTypes[0]
		return &models.Error{
			Code:    models.CodeBadRequest,
			Message: fmt.Sprintf("query parameter %s %s", first.Field, first.Message),
			Fields:  slices.Concat(q.badTypes, q.invalid),
		}
	}
	if len(q.invalid) > 0 {
		return models.Invalid(q.invalid...)
	}
	return nil
}

func (q *queryParams) boolean(name string) *bool {
	switch q.c.Query(name) {
	case "":
		return nil
	case "true":
		v := true
		return &v
	case "false":
		v := false
		return &v
	}
	q.wrongType(name, "true or false")
	return nil
}

// integer reads a whole number between min and max (max < 0: no maximum).
func (q *queryParams) integer(name string, def, min, max int64) int64 {
	raw := q.c.Query(name)
	if raw == "" {
		return def
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	var numErr *strconv.NumError
	switch {
	case errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange):
		q.outOfRange(name, rangeMessage(min, max))
		return def
	case err != nil:
		q.wrongType(name, "a whole number")
		return def
	case v < min || (max >= 0 && v > max):
		q.outOfRange(name, rangeMessage(min, max))
		return def
	}
	return v
}

func rangeMessage(min, max int64) string {
	if max < 0 {
		return "must be at least " + strconv.FormatInt(min, 10)
	}
	return "must be from " + strconv.FormatInt(min, 10) + " to " + strconv.FormatInt(max, 10)
}

// time reads an RFC 3339 date-time. A '+' in a query string decodes to a
// space, so a space where the offset's sign belongs is read as '+'.
func (q *queryParams) time(name string) *time.Time {
	raw := q.c.Query(name)
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		t, err = time.Parse(time.RFC3339, strings.Replace(raw, " ", "+", 1))
	}
	if err != nil {
		q.wrongType(name, "an RFC 3339 date-time such as 2025-02-01T17:00:00Z")
		return nil
	}
	t = t.UTC()
	return &t
}

func (q *queryParams) oneOf(name, def string, allowed []string) string {
	raw := q.c.Query(name)
	if raw == "" {
		return def
	}
	for _, a := range allowed {
		if raw == a {
			return raw
		}
	}
	q.outOfRange(name, "must be one of: "+strings.Join(allowed, ", "))
	return def
}

func (q *queryParams) uuid(name string) string {
	raw := q.c.Query(name)
	if raw == "" {
		return ""
	}
	id, ok := canonicalUUID(raw)
	if !ok {
		q.outOfRange(name, "must be a UUID")
	}
	return id
}

func (q *queryParams) text(name string, maxRunes int) string {
	raw := q.c.Query(name)
	switch {
	case !utf8.ValidString(raw) || strings.ContainsRune(raw, 0):
		q.outOfRange(name, "must be UTF-8 text without NUL characters")
		return ""
	case utf8.RuneCountInString(raw) > maxRunes:
		q.outOfRange(name, "must be at most "+strconv.Itoa(maxRunes)+" characters")
		return ""
	}
	return raw
}

// uuidOr reads a UUID, or the word named (which reports true).
func (q *queryParams) uuidOr(name, word string) (string, bool) {
	raw := q.c.Query(name)
	switch {
	case raw == "":
		return "", false
	case raw == word:
		return "", true
	}
	id, ok := canonicalUUID(raw)
	if !ok {
		q.outOfRange(name, "must be a UUID or "+word)
	}
	return id, false
}

// search reads a search: text of at most models.MaxQueryLength characters
// and models.MaxQueryWords words.
func (q *queryParams) search(name string) string {
	text := q.text(name, models.MaxQueryLength)
	if words := len(models.SearchWords(text)); words > models.MaxQueryWords {
		q.outOfRange(name, "must have at most "+strconv.Itoa(models.MaxQueryWords)+" words, not "+strconv.Itoa(words))
		return ""
	}
	return text
}
