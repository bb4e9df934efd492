package models

import (
	"slices"
	"time"
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
}

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
}

// TaskSort orders a task list; a leading "-" means descending. Ties are
// always broken by id, so pages never overlap.
type TaskSort string

const (
	SortCreatedAsc   TaskSort = "created_at"
	SortCreatedDesc  TaskSort = "-created_at" // the default
	SortDueAsc       TaskSort = "due_date"    // tasks without a due date come last either way
	SortDueDesc      TaskSort = "-due_date"
	SortPriorityAsc  TaskSort = "priority" // low first
	SortPriorityDesc TaskSort = "-priority"
	SortTitleAsc     TaskSort = "title" // ignoring case
	SortTitleDesc    TaskSort = "-title"
	SortUpdatedAsc   TaskSort = "updated_at" // for a client that syncs: oldest change first
	SortUpdatedDesc  TaskSort = "-updated_at"
)

// TaskSorts lists every sort order a task list accepts.
var TaskSorts = []TaskSort{
	SortCreatedAsc, SortCreatedDesc, SortDueAsc, SortDueDesc,
	SortPriorityAsc, SortPriorityDesc, SortTitleAsc, SortTitleDesc,
	SortUpdatedAsc, SortUpdatedDesc,
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
)

// TaskFilter selects and orders one page of a user's tasks. Nil pointers
// and empty strings are filters not applied.
type TaskFilter struct {
	Completed *bool
	Priority  *Priority
	TagID     string
	Query     string // matched literally, ignoring case, in title or description
	DueBefore *time.Time
	DueAfter  *time.Time
	// UpdatedAfter keeps the tasks changed after it (a syncing client's
	// last sync).
	UpdatedAfter *time.Time
	Due          TaskDue
	// Now is the instant "overdue" is judged at.
	Now    time.Time
	Sort   TaskSort
	Limit  int
	Offset int64
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
