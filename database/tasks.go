package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/database/search"
	"taskflow/models"
)

// The task stores: PostgresTasks (tasks_postgres.go), whose every write is
// one statement, and SQLiteTasks (tasks_sqlite.go), whose writes are
// transactions. Both take the owner's user id in every method and filter
// every statement on it: there is no way to reach a task by id alone. What
// they share is here: the columns and their scanning, the reads, the
// change a replace or an update makes, and the errors.

// taskReads are the reads both engines run alike. searchFor is the
// engine's search for a list's q (package search): its condition, and the
// ORDER BY terms that put the tasks whose title holds every word first.
type taskReads struct {
	db        *gorm.DB
	searchFor func(userID, q string) search.Clause
}

const taskColumns = `id, title, description, completed, priority, due_date, created_at, updated_at, completed_at, version, project_id, parent_id, position`

// priorityCodes and priorityNames translate between the API's priority
// names and the stored 0/1/2, which sorts in order of urgency.
var (
	priorityCodes = map[models.Priority]int16{models.PriorityLow: 0, models.PriorityMedium: 1, models.PriorityHigh: 2}
	priorityNames = []models.Priority{models.PriorityLow, models.PriorityMedium, models.PriorityHigh}
)

// taskOrders is the ORDER BY of each sort; ties go to id (UUID v7, so
// creation order) in the same direction, which keeps pages disjoint.
var taskOrders = map[models.TaskSort]string{
	models.SortCreatedAsc:   "created_at ASC, id ASC",
	models.SortCreatedDesc:  "created_at DESC, id DESC",
	models.SortDueAsc:       "due_date ASC NULLS LAST, id ASC",
	models.SortDueDesc:      "due_date DESC NULLS LAST, id DESC",
	models.SortPriorityAsc:  "priority ASC, id ASC",
	models.SortPriorityDesc: "priority DESC, id DESC",
	models.SortTitleAsc:     "lower(title) ASC, id ASC",
	models.SortTitleDesc:    "lower(title) DESC, id DESC",
	models.SortUpdatedAsc:   "updated_at ASC, id ASC",
	models.SortUpdatedDesc:  "updated_at DESC, id DESC",
	// Positions are unique among siblings, so no tie to break; the
	// expressions are those of siblingIndex, whose order this is.
	models.SortPosition: "COALESCE(project_id, '') ASC, COALESCE(parent_id, '') ASC, position ASC",
}

func errTaskNotFound() error { return models.Errorf(models.CodeNotFound, "task not found") }

func errTaskChanged() error {
	return models.Errorf(models.CodePreconditionFailed, "the task has changed since that ETag was issued: fetch it again")
}

// List returns one page of the user's tasks, with their tags, in two
// statements and no transaction: the page with the total folded in (an
// uncorrelated subquery, which the database evaluates once), and the tags
// of the whole page. Folding the count in saved a round trip per page: a
// separate count measured 15% fewer lists per second on PostgreSQL.
func (s taskReads) List(ctx context.Context, userID string, f models.TaskFilter) (models.TaskPage, error) {
	if f.Limit <= 0 {
		f.Limit = models.DefaultTaskLimit
	}
	f.Offset = max(f.Offset, 0)
	order, orderArgs := s.listOrder(userID, f)
	db := s.db.WithContext(ctx)
	where, args := listWhere(userID, f, s.searchFor)
	page := models.TaskPage{Limit: f.Limit, Offset: f.Offset}
	var err error
	page.Items, page.Total, err = queryPage(db, `SELECT (SELECT count(*) FROM tasks WHERE `+where+`), `+taskColumns+
		` FROM tasks WHERE id IN (SELECT id FROM tasks WHERE `+where+` ORDER BY `+order+` LIMIT ? OFFSET ?) ORDER BY `+order,
		slices.Concat(args, args, orderArgs, []any{f.Limit, f.Offset}, orderArgs)...)
	if err != nil {
		return models.TaskPage{}, classify(err)
	}
	// An empty page past the end carries no row to read the total from.
	if len(page.Items) == 0 && f.Offset > 0 {
		if err := scanOne(db, []any{&page.Total}, `SELECT count(*) FROM tasks WHERE `+where, args...); err != nil {
			return models.TaskPage{}, classify(err)
		}
	}
	if err := attachTags(db, userID, page.Items); err != nil {
		return models.TaskPage{}, classify(err)
	}
	return page, nil
}

// queryPage reads a page of tasks whose every row starts with the total.
func queryPage(db *gorm.DB, query string, args ...any) ([]models.Task, int64, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var total int64
	tasks := []models.Task{}
	for rows.Next() {
		task, err := scanTask(rows, &total)
		if err != nil {
			return nil, 0, err
		}
		tasks = append(tasks, task)
	}
	return tasks, total, rows.Err()
}

// listWhere builds the WHERE clause of a list and its arguments. Column
// names are fixed here; only values travel as arguments.
func listWhere(userID string, f models.TaskFilter, searchFor func(userID, q string) search.Clause) (string, []any) {
	conds := []string{"user_id = ?"}
	args := []any{userID}
	if f.Completed != nil {
		conds = append(conds, "completed = ?")
		args = append(args, *f.Completed)
	}
	if f.Priority != nil {
		conds = append(conds, "priority = ?")
		args = append(args, priorityCodes[*f.Priority])
	}
	if f.TagID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = tasks.id AND tt.tag_id = ?)")
		args = append(args, f.TagID)
	}
	if search, ok := searchClause(userID, f.Query, searchFor); ok {
		conds = append(conds, search.Where)
		args = append(args, search.WhereArgs...)
	}
	if f.DueBefore != nil {
		conds = append(conds, "due_date < ?")
		args = append(args, f.DueBefore.UTC())
	}
	if f.DueAfter != nil {
		conds = append(conds, "due_date > ?")
		args = append(args, f.DueAfter.UTC())
	}
	if f.UpdatedAfter != nil {
		conds = append(conds, "updated_at > ?")
		args = append(args, f.UpdatedAfter.UTC())
	}
	switch {
	case f.Inbox:
		conds = append(conds, "COALESCE(project_id, '') = ''")
	case f.ProjectID != "":
		conds = append(conds, "COALESCE(project_id, '') = ?")
		args = append(args, f.ProjectID)
	default:
		// An archived project's tasks leave the list; NOT IN over the few
		// archived projects is one hashed lookup per task.
		conds = append(conds, "(project_id IS NULL OR project_id NOT IN (SELECT id FROM projects WHERE user_id = ? AND archived))")
		args = append(args, userID)
	}
	switch {
	case f.TopLevel:
		conds = append(conds, "COALESCE(parent_id, '') = ''")
	case f.ParentID != "":
		conds = append(conds, "COALESCE(parent_id, '') = ?")
		args = append(args, f.ParentID)
	}
	switch f.Due {
	case models.DueNone:
		conds = append(conds, "due_date IS NULL")
	case models.DueOverdue:
		conds = append(conds, "due_date < ? AND completed = ?")
		args = append(args, f.Now.UTC(), false)
	}
	return strings.Join(conds, " AND "), args
}

// Get returns one of the user's tasks with its tags, in one statement: a
// row per tag (one row without tag columns for an untagged task).
func (s taskReads) Get(ctx context.Context, userID, id string) (models.Task, error) {
	rows, err := s.db.WithContext(ctx).Raw(taskWithTagsQuery, id, userID).Rows()
	if err != nil {
		return models.Task{}, classify(err)
	}
	defer rows.Close()
	var task models.Task
	found := false
	for rows.Next() {
		var tag nullableTag
		t, err := scanTask(rows, tag.dest()...)
		if err != nil {
			return models.Task{}, classify(err)
		}
		if !found {
			task, found = t, true
		}
		if tag.ID.Valid {
			task.Tags = append(task.Tags, tag.tag())
		}
	}
	if err := rows.Err(); err != nil {
		return models.Task{}, classify(err)
	}
	if !found {
		return models.Task{}, errTaskNotFound()
	}
	return task, nil
}

// taskWithTagsQuery reads a task joined to its tags (with their counts),
// tags first in the row so that scanTask reads the task columns after them.
var taskWithTagsQuery = `SELECT tg.id, tg.name, tg.color, tg.created_at, ` + tagTaskCount + `, ` + qualified("t", taskColumns) + `
	FROM tasks t LEFT JOIN task_tags tt ON tt.task_id = t.id LEFT JOIN tags tg ON tg.id = tt.tag_id AND tg.user_id = t.user_id
	WHERE t.id = ? AND t.user_id = ? ORDER BY tg.name_key, tg.id`

// tagTaskCount counts the tasks of tag tg: links only ever join a user's
// task to the same user's tag, so counting links counts the owner's tasks.
const tagTaskCount = `(SELECT count(*) FROM task_tags tc WHERE tc.tag_id = tg.id)`

// qualified prefixes each of a comma-separated list of columns with alias.
func qualified(alias, columns string) string {
	parts := strings.Split(columns, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

// nullableTag receives the tag columns of an outer join.
type nullableTag struct {
	ID, Name, Color sql.NullString
	CreatedAt       sql.NullTime
	TaskCount       sql.NullInt64
}

func (n *nullableTag) dest() []any {
	return []any{&n.ID, &n.Name, &n.Color, &n.CreatedAt, &n.TaskCount}
}

func (n *nullableTag) tag() models.Tag {
	t := models.Tag{ID: n.ID.String, Name: n.Name.String, TaskCount: n.TaskCount.Int64, CreatedAt: n.CreatedAt.Time.UTC()}
	if n.Color.Valid {
		t.Color = &n.Color.String
	}
	return t
}

// newTask is the task in creates, before it is stored: a new id (UUID v7,
// so ids sort by creation), version 1, no tags yet.
func newTask(in models.TaskInput) (models.Task, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return models.Task{}, err
	}
	now := timestamp()
	task := models.Task{
		ID: id.String(), Title: in.Title, Description: in.Description, Priority: in.Priority,
		DueDate: utcPtr(in.DueDate), CreatedAt: now, UpdatedAt: now, Version: 1, Tags: []models.Tag{},
	}
	setCompleted(&task, in.Completed, now)
	return task, nil
}

// missingOrChanged tells why a write guarded by the task's version changed
// nothing: there is no such task for this user, or its version did not
// match.
func missingOrChanged(db *gorm.DB, userID, id string) error {
	var one int
	err := scanOne(db, []any{&one}, "SELECT 1 FROM tasks WHERE id = ? AND user_id = ?", id, userID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errTaskNotFound()
	case err != nil:
		return classify(err)
	}
	return errTaskChanged()
}

func errForeignTags() error {
	return models.Invalid(models.FieldError{Field: "tag_ids", Message: "must list only ids of your own tags"})
}

// replaceChange sets every settable field of a task, and its whole tag set.
func replaceChange(in models.TaskInput) taskChange {
	return taskChange{
		setTitle: true, title: in.Title, setDescription: true, description: in.Description,
		setCompleted: true, completed: in.Completed, setPriority: true, priority: in.Priority,
		setDue: true, due: utcPtr(in.DueDate), setTags: true, tagIDs: in.TagIDs, place: in.Place,
	}
}

// patchChange sets the fields p carries.
func patchChange(p models.TaskPatch) taskChange {
	c := taskChange{setDue: p.DueDateSet, due: utcPtr(p.DueDate), setTags: p.TagIDsSet, tagIDs: p.TagIDs, place: p.Place}
	if p.Title != nil {
		c.setTitle, c.title = true, *p.Title
	}
	if p.Description != nil {
		c.setDescription, c.description = true, *p.Description
	}
	if p.Completed != nil {
		c.setCompleted, c.completed = true, *p.Completed
	}
	if p.Priority != nil {
		c.setPriority, c.priority = true, *p.Priority
	}
	return c
}

// taskChange is what a replace or an update sets: each field with whether
// it is set at all.
type taskChange struct {
	setTitle, setDescription, setCompleted, setPriority, setDue, setTags bool

	title, description string
	completed          bool
	priority           models.Priority
	due                *time.Time
	tagIDs             []string
	// place, when it changes the task's project or parent, puts the task
	// last in its new place, its subtasks with it.
	place models.TaskPlace
}

// apply sets c's fields on t, as of now.
func (c taskChange) apply(t *models.Task, now time.Time) {
	if c.setTitle {
		t.Title = c.title
	}
	if c.setDescription {
		t.Description = c.description
	}
	if c.setPriority {
		t.Priority = c.priority
	}
	if c.setDue {
		t.DueDate = c.due
	}
	if c.setCompleted {
		setCompleted(t, c.completed, now)
	}
}

func queryTasks(db *gorm.DB, query string, args ...any) ([]models.Task, error) {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tasks := []models.Task{}
	for rows.Next() {
		task, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, task)
	}
	return tasks, rows.Err()
}

// scanTask scans taskColumns, after the leading columns given.
func scanTask(rows *sql.Rows, leading ...any) (models.Task, error) {
	var t models.Task
	var priority int16
	var due, completedAt sql.NullTime
	var projectID, parentID sql.NullString
	err := rows.Scan(append(leading, &t.ID, &t.Title, &t.Description, &t.Completed, &priority, &due,
		&t.CreatedAt, &t.UpdatedAt, &completedAt, &t.Version, &projectID, &parentID, &t.Position)...)
	if err != nil {
		return t, err
	}
	if priority < 0 || int(priority) >= len(priorityNames) {
		return t, fmt.Errorf("task %s has unknown priority %d", t.ID, priority)
	}
	t.Priority = priorityNames[priority]
	t.DueDate, t.CompletedAt = nullTime(due), nullTime(completedAt)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	t.ProjectID, t.ParentID = nullString(projectID), nullString(parentID)
	t.Tags = []models.Tag{}
	return t, nil
}

// withTags returns task with its tags read from db.
func withTags(db *gorm.DB, userID string, task models.Task) (models.Task, error) {
	tags, err := queryTags(db, `SELECT tg.id, tg.name, tg.color, tg.created_at, `+tagTaskCount+`
		FROM task_tags tt JOIN tags tg ON tg.id = tt.tag_id WHERE tt.task_id = ? AND tg.user_id = ?
		ORDER BY tg.name_key, tg.id`, task.ID, userID)
	if err != nil {
		return models.Task{}, classify(err)
	}
	task.Tags = tags
	return task, nil
}

// pageTagsQuery reads the tags of a set of tasks: one row per distinct tag
// with its task count (last column NULL), then one row per link (tag id
// and task id, the rest NULL). Each tag is sent and counted once: one row
// per link with the tag's count measured 2.5 times slower on SQLite and
// 1.3 times on PostgreSQL (a popular tag was recounted for every task of
// the page carrying it), a grouped count joined to the links 2.7 and 1.3
// times. MATERIALIZED (PostgreSQL 12+, SQLite 3.35+) reads the page's
// links once for both halves. Tag rows come sorted by name; links last or
// first (NULL name keys), as each database sorts NULLs.
const pageTagsQuery = `WITH page_links AS MATERIALIZED (SELECT task_id, tag_id FROM task_tags WHERE task_id IN ?)
	SELECT tg.id, tg.name, tg.color, tg.created_at, ` + tagTaskCount + `, NULL AS task_id, tg.name_key
	FROM tags tg WHERE tg.user_id = ? AND tg.id IN (SELECT tag_id FROM page_links)
	UNION ALL SELECT tag_id, NULL, NULL, NULL, NULL, task_id, NULL FROM page_links
	ORDER BY 7, 1`

// attachTags fills in the tags of every task in one query, however many
// tasks there are. Each task's tags are in name order, as the tag rows.
func attachTags(db *gorm.DB, userID string, tasks []models.Task) error {
	if len(tasks) == 0 {
		return nil
	}
	index := make(map[string]int, len(tasks))
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		index[t.ID], ids[i] = i, t.ID
		tasks[i].Tags = []models.Tag{}
	}
	rows, err := db.Raw(pageTagsQuery, ids, userID).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	var tags []models.Tag
	rank := map[string]int{} // tag id -> position in name order
	type link struct{ task, tag string }
	var links []link
	for rows.Next() {
		var tag nullableTag
		var taskID, key sql.NullString
		if err := rows.Scan(append(tag.dest(), &taskID, &key)...); err != nil {
			return err
		}
		if taskID.Valid {
			links = append(links, link{task: taskID.String, tag: tag.ID.String})
			continue
		}
		rank[tag.ID.String] = len(tags)
		tags = append(tags, tag.tag())
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range links {
		r, ok := rank[l.tag]
		i, mine := index[l.task]
		if ok && mine {
			tasks[i].Tags = append(tasks[i].Tags, tags[r])
		}
	}
	for i := range tasks {
		slices.SortFunc(tasks[i].Tags, func(a, b models.Tag) int { return rank[a.ID] - rank[b.ID] })
	}
	return nil
}

// capError refuses a write that left a user owning n > max rows of table.
func capError(n int64, max int, table string) error {
	if n > int64(max) {
		return models.Errorf(models.CodeInvalid, "limit reached: a user may have at most %d %s", max, table)
	}
	return nil
}

// scanOne runs a query expected to return a row and scans its first row
// into dest; no row is sql.ErrNoRows.
func scanOne(db *gorm.DB, dest []any, query string, args ...any) error {
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

func setCompleted(t *models.Task, completed bool, now time.Time) {
	switch {
	case completed && !t.Completed:
		t.CompletedAt = &now
	case !completed:
		t.CompletedAt = nil
	}
	t.Completed = completed
}

func sameFields(a, b models.Task) bool {
	return a.Title == b.Title && a.Description == b.Description && a.Completed == b.Completed &&
		a.Priority == b.Priority && sameTime(a.DueDate, b.DueDate) && sameTime(a.CompletedAt, b.CompletedAt) &&
		samePlace(a, b) && a.Position == b.Position
}

// samePlace reports whether a and b are in the same project under the
// same parent.
func samePlace(a, b models.Task) bool {
	return sameString(a.ProjectID, b.ProjectID) && sameString(a.ParentID, b.ParentID)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// timestamp is the current time as the databases keep it: UTC, to the
// microsecond, so what a write returns equals what a later read returns.
func timestamp() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// utcPtr returns t in UTC at microsecond precision (nil stays nil).
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

func nullString(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func uniqueSorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
