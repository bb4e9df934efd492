package models

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// Priority is how urgent a task is.
type Priority string

const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium" // the default
	PriorityHigh   Priority = "high"
)

// Task is one of a user's tasks as the API shows it. Version is the
// optimistic-concurrency counter behind the task's ETag, in the body too
// so that a list view can send If-Match without fetching each task.
type Task struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    Priority   `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	Tags        []Tag      `json:"tags"`
	// ProjectID is the project the task is in, nil for the inbox;
	// ParentID the task it is a subtask of, nil at the top level.
	ProjectID *string `json:"project_id"`
	ParentID  *string `json:"parent_id"`
	// Position orders the task among its siblings (same project and
	// parent), compared byte by byte (see package position).
	Position    string     `json:"position"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Version     int64      `json:"version"`
}

// TaskInput is every settable field of a task: the body of a create, and
// of a replace (where a field left out takes its default). TagIDs are ids
// of the owner's tags.
type TaskInput struct {
	Title       string
	Description string
	Completed   bool
	Priority    Priority
	DueDate     *time.Time
	TagIDs      []string
	// Place is the task's project and parent. Its project, when not sent,
	// is its parent's (a subtask lives in its parent's project), else the
	// inbox.
	Place TaskPlace
}

// TaskPlace is where a write puts a task: into a project (nil: the inbox)
// and under a parent (nil: the top level), each only when its Set flag
// says it was sent.
type TaskPlace struct {
	ProjectSet bool
	ProjectID  *string
	ParentSet  bool
	ParentID   *string
}

// Changes reports whether p moves a task at all.
func (p TaskPlace) Changes() bool { return p.ProjectSet || p.ParentSet }

// TaskMove is the body of a move: the task's new place, and where among
// its new siblings it goes: right after AfterID, first when AfterID is
// nil, last when AfterSet is false.
type TaskMove struct {
	Place    TaskPlace
	AfterSet bool
	AfterID  *string
}

// MaxTaskDepth is how many levels a task tree may have: a task, its
// subtask, theirs, theirs.
const MaxTaskDepth = 4

// TaskPatch is a partial update: nil pointers are fields that were not
// sent. DueDate and TagIDs can also be cleared, so each has a Set flag:
// DueDateSet with a nil DueDate removes the due date, and TagIDsSet with
// an empty TagIDs removes every tag.
type TaskPatch struct {
	Title       *string
	Description *string
	Completed   *bool
	Priority    *Priority
	DueDateSet  bool
	DueDate     *time.Time
	TagIDsSet   bool
	TagIDs      []string
	Place       TaskPlace
}

// TaskSort orders a task list; a leading "-" means descending. Ties are
// always broken by id, so pages never overlap.
type TaskSort string

const (
	// SortDefault is no sort asked for: newest first, and with a search
	// (TaskFilter.Query), the tasks whose title holds every word first.
	SortDefault      TaskSort = ""
	SortCreatedAsc   TaskSort = "created_at"
	SortCreatedDesc  TaskSort = "-created_at"
	SortDueAsc       TaskSort = "due_date" // tasks without a due date come last either way
	SortDueDesc      TaskSort = "-due_date"
	SortPriorityAsc  TaskSort = "priority" // low first
	SortPriorityDesc TaskSort = "-priority"
	SortTitleAsc     TaskSort = "title" // ignoring case
	SortTitleDesc    TaskSort = "-title"
	SortUpdatedAsc   TaskSort = "updated_at" // for a client that syncs: oldest change first
	SortUpdatedDesc  TaskSort = "-updated_at"
	// SortPosition is the manual order: by project, then parent, then
	// position among siblings.
	SortPosition TaskSort = "position"
)

// TaskSorts lists every sort order a task list accepts.
var TaskSorts = []TaskSort{
	SortCreatedAsc, SortCreatedDesc, SortDueAsc, SortDueDesc,
	SortPriorityAsc, SortPriorityDesc, SortTitleAsc, SortTitleDesc,
	SortUpdatedAsc, SortUpdatedDesc, SortPosition,
}

// TaskDue filters a list by the state of the due date.
type TaskDue string

const (
	DueAny     TaskDue = ""        // no filter
	DueNone    TaskDue = "none"    // tasks without a due date
	DueOverdue TaskDue = "overdue" // open tasks whose due date has passed
)

// Valid reports whether s is one of TaskSorts.
func (s TaskSort) Valid() bool { return slices.Contains(TaskSorts, s) }

// Paging bounds of a task list.
const (
	DefaultTaskLimit = 20
	MaxTaskLimit     = 100
	MaxQueryLength   = 200 // longest q a task list accepts, in characters
	MaxQueryWords    = 10  // most words (split on white space) in q
)

// TaskFilter selects and orders one page of a user's tasks. Nil pointers
// and empty strings are filters not applied.
type TaskFilter struct {
	Completed *bool
	Priority  *Priority
	TagID     string
	Query     string // words each beginning a word of title or description, ignoring case and accents
	DueBefore *time.Time
	DueAfter  *time.Time
	// UpdatedAfter keeps the tasks changed after it (a syncing client's
	// last sync).
	UpdatedAfter *time.Time
	Due          TaskDue
	// ProjectID keeps the tasks of one project; Inbox those of none.
	// With neither, tasks of archived projects are left out.
	ProjectID string
	Inbox     bool
	// ParentID keeps the subtasks of one task; TopLevel those of none.
	ParentID string
	TopLevel bool
	// Now is the instant "overdue" is judged at.
	Now    time.Time
	Sort   TaskSort
	Limit  int
	Offset int64
}

// SearchWords splits a search (TaskFilter.Query) into its words, on white
// space and control characters.
func SearchWords(q string) []string {
	return strings.FieldsFunc(q, IsSearchSeparator)
}

// IsSearchSeparator reports whether r separates the words of a search, and
// of the texts searched.
func IsSearchSeparator(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r)
}

// TaskPage is one page of a task list; Total counts every task the filter
// matches, on all pages.
type TaskPage struct {
	Items  []Task `json:"items"`
	Total  int64  `json:"total"`
	Limit  int    `json:"limit"`
	Offset int64  `json:"offset"`
}

// Precondition is a request's If-Match. A nil *Precondition means the
// request had none and always matches.
type Precondition struct {
	Any      bool    // If-Match: * matches any existing task
	Versions []int64 // the versions named by the entity tags sent
}

// Matches reports whether a task at version satisfies p.
func (p *Precondition) Matches(version int64) bool {
	return p == nil || p.Any || slices.Contains(p.Versions, version)
}
