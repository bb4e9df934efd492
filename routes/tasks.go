package routes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"taskflow/auth"
	"taskflow/models"
)

// TaskStore is the storage the task routes use. Every method acts only on
// the tasks of the user id it is given; another user's task is not found.
type TaskStore interface {
	// AppendListJSON appends a page of tasks to dst as the list's JSON
	// answer (models.TaskPage).
	AppendListJSON(ctx context.Context, dst []byte, userID string, f models.TaskFilter) ([]byte, error)
	Get(ctx context.Context, userID, id string) (models.Task, error)
	Create(ctx context.Context, userID string, in models.TaskInput) (models.Task, error)
	Replace(ctx context.Context, userID, id string, in models.TaskInput, cond *models.Precondition) (models.Task, error)
	Update(ctx context.Context, userID, id string, p models.TaskPatch, cond *models.Precondition) (models.Task, error)
	Delete(ctx context.Context, userID, id string, cond *models.Precondition) error
}

// Tasks registers the task routes on r, a group behind the auth guard.
// listQueue runs before the list: the line it waits in for a database
// connection (middleware.DatabaseQueue).
func Tasks(r fiber.Router, store TaskStore, val *Validator, listQueue fiber.Handler) {
	r.Get("/", listQueue, listTasks(store))
	r.Post("/", createTask(store, val))
	r.Get("/:id", getTask(store))
	r.Put("/:id", replaceTask(store, val))
	r.Patch("/:id", updateTask(store, val))
	r.Delete("/:id", deleteTask(store))
}

func listTasks(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		filter, err := taskFilter(c)
		if err != nil {
			return err
		}
		// The page is written straight into the response's own pooled
		// buffer: a list answer is some 12 KB, the largest thing a
		// request would otherwise allocate.
		resp := c.Response()
		resp.AppendBody(nil) // takes a buffer from the pool
		body, err := store.AppendListJSON(c.UserContext(), resp.Body()[:0], userID, filter)
		if err != nil {
			resp.ResetBody()
			return err
		}
		resp.SetBody(body) // where body is the buffer itself, copy onto itself
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return nil
	}
}

func createTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		var body taskBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		task, err := store.Create(c.UserContext(), userID, in)
		if err != nil {
			return err
		}
		c.Location(strings.TrimRight(c.Path(), "/") + "/" + task.ID)
		return sendTask(c.Status(fiber.StatusCreated), task)
	}
}

func getTask(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		task, err := store.Get(c.UserContext(), userID, id)
		if err != nil {
			return err
		}
		// Only the caller's own client may keep it, and only to
		// revalidate it by its ETag.
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		if ifNoneMatch(c, task.Version) {
			c.Set(fiber.HeaderETag, etag(task.Version))
			return c.SendStatus(fiber.StatusNotModified)
		}
		return sendTask(c, task)
	}
}

func replaceTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		var body taskBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		task, err := store.Replace(c.UserContext(), userID, id, in, ifMatch(c))
		if err != nil {
			return err
		}
		return sendTask(c, task)
	}
}

func updateTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		var body taskPatchBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		patch, err := body.patch(val)
		if err != nil {
			return err
		}
		task, err := store.Update(c.UserContext(), userID, id, patch, ifMatch(c))
		if err != nil {
			return err
		}
		return sendTask(c, task)
	}
}

func deleteTask(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		if err := store.Delete(c.UserContext(), userID, id, ifMatch(c)); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// sendTask writes task as the body, with its ETag.
func sendTask(c *fiber.Ctx, task models.Task) error {
	c.Set(fiber.HeaderETag, etag(task.Version))
	return sendJSON(c, task.AppendJSON(make([]byte, 0, task.JSONSizeHint())))
}

// sendJSON sends body, JSON that models encoded (as c.JSON would have
// encoded the same value, without reflection).
func sendJSON(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// etag is the strong entity tag of a task version: the number, quoted.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifNoneMatch reports whether the If-None-Match header names version (or
// is "*"): the client's copy is current. It compares weakly (RFC 9110,
// 13.1.2), so W/"3" matches version 3 too.
func ifNoneMatch(c *fiber.Ctx, version int64) bool {
	header := strings.TrimSpace(c.Get(fiber.HeaderIfNoneMatch))
	if header == "" {
		return false
	}
	current := etag(version)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == current {
			return true
		}
	}
	return false
}

// ifMatch reads the If-Match header: nil when absent, Any for "*", else the
// versions its strong entity tags name. Weak tags (W/"3") never match, as
// If-Match compares strongly; a tag that is not one of ours matches nothing.
func ifMatch(c *fiber.Ctx) *models.Precondition {
	header := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if header == "" {
		return nil
	}
	cond := &models.Precondition{}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			cond.Any = true
			continue
		}
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && v > 0 {
			cond.Versions = append(cond.Versions, v)
		}
	}
	return cond
}

// taskBody is the body of POST and PUT: every settable field, where a
// field left out (or null) takes its default. Members a client may not set
// (id, user_id, created_at, updated_at, completed_at) have no field here,
// so they are ignored.
type taskBody struct {
	Title       string   `json:"title" validate:"required,max=200"`
	Description string   `json:"description" validate:"max=5000"`
	Completed   bool     `json:"completed"`
	Priority    *string  `json:"priority" validate:"omitnil,oneof=low medium high"`
	DueDate     *string  `json:"due_date"`
	TagIDs      []string `json:"tag_ids" validate:"max=50,unique,dive,uuid"`
	bodyMembers
}

func (b *taskBody) input(val *Validator) (models.TaskInput, error) {
	b.Title = strings.TrimSpace(b.Title)
	b.TagIDs = lowerAll(b.TagIDs)
	due, dueProblem := parseDueDate(b.DueDate)
	problems := slices.Concat(nulProblem("title", b.Title), nulProblem("description", b.Description), dueProblem)
	if err := validate(val, b, problems...); err != nil {
		return models.TaskInput{}, err
	}
	in := models.TaskInput{
		Title: b.Title, Description: b.Description, Completed: b.Completed,
		Priority: models.PriorityMedium, DueDate: due, TagIDs: b.TagIDs,
	}
	if b.Priority != nil {
		in.Priority = models.Priority(*b.Priority)
	}
	if in.TagIDs == nil {
		in.TagIDs = []string{}
	}
	return in, nil
}

// taskPatchBody is the body of PATCH: only the members sent change. A
// member sent as null goes back to its default (as in JSON Merge Patch):
// no due date, no tags, an empty description, not completed, medium
// priority; the title has no default, so a null title is invalid.
type taskPatchBody struct {
	Title       *string  `json:"title" validate:"omitnil,max=200"`
	Description *string  `json:"description" validate:"omitnil,max=5000"`
	Completed   *bool    `json:"completed"`
	Priority    *string  `json:"priority" validate:"omitnil,oneof=low medium high"`
	DueDate     *string  `json:"due_date"`
	TagIDs      []string `json:"tag_ids" validate:"max=50,unique,dive,uuid"`
	bodyMembers
}

func (b *taskPatchBody) patch(val *Validator) (models.TaskPatch, error) {
	var problems []models.FieldError
	if b.Title != nil {
		*b.Title = strings.TrimSpace(*b.Title)
		if *b.Title == "" {
			problems = append(problems, models.FieldError{Field: "title", Message: "must not be empty"})
		}
		problems = append(problems, nulProblem("title", *b.Title)...)
	} else if b.sentNull("title") {
		problems = append(problems, models.FieldError{Field: "title", Message: "must not be null"})
	}
	if b.Description != nil {
		problems = append(problems, nulProblem("description", *b.Description)...)
	}
	due, dueProblem := parseDueDate(b.DueDate)
	problems = append(problems, dueProblem...)
	b.TagIDs = lowerAll(b.TagIDs)
	if err := validate(val, b, problems...); err != nil {
		return models.TaskPatch{}, err
	}
	p := models.TaskPatch{
		Title: b.Title, Description: b.Description, Completed: b.Completed,
		DueDateSet: b.DueDate != nil || b.sentNull("due_date"), DueDate: due,
		TagIDsSet: b.TagIDs != nil || b.sentNull("tag_ids"), TagIDs: b.TagIDs,
	}
	if b.Priority != nil {
		priority := models.Priority(*b.Priority)
		p.Priority = &priority
	}
	b.applyNullDefaults(&p)
	return p, nil
}

// applyNullDefaults turns members sent as null into their defaults.
func (b *taskPatchBody) applyNullDefaults(p *models.TaskPatch) {
	if b.Description == nil && b.sentNull("description") {
		p.Description = new(string)
	}
	if b.Completed == nil && b.sentNull("completed") {
		p.Completed = new(bool)
	}
	if b.Priority == nil && b.sentNull("priority") {
		medium := models.PriorityMedium
		p.Priority = &medium
	}
	if p.TagIDsSet && p.TagIDs == nil {
		p.TagIDs = []string{}
	}
}

// parseDueDate reads an optional RFC 3339 date-time; a problem names
// due_date. Absent or null is a nil time.
func parseDueDate(raw *string) (*time.Time, []models.FieldError) {
	if raw == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *raw)
	if err != nil {
		return nil, []models.FieldError{{Field: "due_date", Message: "must be an RFC 3339 date-time such as 2025-02-01T17:00:00Z, or null"}}
	}
	t = t.UTC()
	// An offset can carry a date past either end of RFC 3339's years
	// (9999-12-31T23:59:59-23:59 is in year 10000 in UTC): such a date could
	// be stored but never written back as JSON, breaking the user's list.
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, []models.FieldError{{Field: "due_date", Message: "must be between years 0001 and 9999 in UTC"}}
	}
	return &t, nil
}

// taskFilter reads the list's query parameters. A value of the wrong type
// (limit=abc, completed=maybe, a date that is not RFC 3339) is a 400; a
// well-typed value out of range is a 422 naming every such parameter.
func taskFilter(c *fiber.Ctx) (models.TaskFilter, error) {
	q := queryParams{c: c}
	f := models.TaskFilter{
		Completed:    q.boolean("completed"),
		TagID:        q.uuid("tag"),
		Query:        q.text("q", models.MaxQueryLength),
		DueBefore:    q.time("due_before"),
		DueAfter:     q.time("due_after"),
		UpdatedAfter: q.time("updated_after"),
		Due:          models.TaskDue(q.oneOf("due", "", []string{string(models.DueNone), string(models.DueOverdue)})),
		Now:          time.Now(),
		Sort:         models.TaskSort(q.oneOf("sort", string(models.SortCreatedDesc), taskSortNames)),
		Limit:        int(q.integer("limit", models.DefaultTaskLimit, 1, models.MaxTaskLimit)),
		Offset:       q.integer("offset", 0, 0, -1),
	}
	if priority := q.oneOf("priority", "", []string{"low", "medium", "high"}); priority != "" {
		p := models.Priority(priority)
		f.Priority = &p
	}
	return f, q.err()
}

// taskSortNames is computed once: the list reads it on every request.
var taskSortNames = sortNames()

func sortNames() []string {
	names := make([]string, len(models.TaskSorts))
	for i, s := range models.TaskSorts {
		names[i] = string(s)
	}
	return names
}

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

// callerID is the authenticated user's id, which scopes every store call.
func callerID(c *fiber.Ctx) (string, error) {
	caller, ok := auth.CallerFrom(c)
	if !ok || caller.UserID == "" {
		return "", models.Errorf(models.CodeUnauthorized, "a bearer token is required")
	}
	return caller.UserID, nil
}

func callerAndTaskID(c *fiber.Ctx) (userID, taskID string, err error) {
	if userID, err = callerID(c); err != nil {
		return "", "", err
	}
	taskID, ok := canonicalUUID(c.Params("id"))
	if !ok {
		return "", "", models.Errorf(models.CodeNotFound, "task not found")
	}
	return userID, taskID, nil
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
