package models

import (
	"strconv"
	"time"
)

// Project is one of a user's projects (a list of tasks). TaskCount counts
// its tasks, subtasks included, OpenTaskCount those not completed: both
// are read with the project, never stored. Position orders the user's
// projects as it orders sibling tasks.
type Project struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Color         *string   `json:"color"`
	Position      string    `json:"position"`
	Archived      bool      `json:"archived"`
	TaskCount     int64     `json:"task_count"`
	OpenTaskCount int64     `json:"open_task_count"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Version       int64     `json:"version"`
}

// ProjectInput is a new project: a trimmed name (need not be unique) and
// an optional #rrggbb colour.
type ProjectInput struct {
	Name  string
	Color *string
}

// ProjectPatch changes the fields it carries: a nil Name or Archived keeps
// it; ColorSet with a nil Color removes the colour.
type ProjectPatch struct {
	Name     *string
	ColorSet bool
	Color    *string
	Archived *bool
}

// ProjectArchived filters a project list by its archived flag.
type ProjectArchived string

const (
	ArchivedNo   ProjectArchived = "false" // the default
	ArchivedOnly ProjectArchived = "true"
	ArchivedAny  ProjectArchived = "any"
)

// ProjectList is the user's projects in their manual order.
type ProjectList struct {
	Items []Project `json:"items"`
	Total int       `json:"total"`
}

// AppendJSON appends l as encoding/json would encode it.
func (l ProjectList) AppendJSON(b []byte) []byte {
	b = append(b, `{"items":[`...)
	for i, p := range l.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = p.AppendJSON(b)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(l.Total), 10)
	return append(b, '}')
}
