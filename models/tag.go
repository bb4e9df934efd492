package models

import "time"

// Tag is one of a user's tags. TaskCount is how many of the user's tasks
// carry it.
type Tag struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Color     *string   `json:"color"`
	TaskCount int64     `json:"task_count"`
	CreatedAt time.Time `json:"created_at"`
}

// TagInput is a new tag: a trimmed name and an optional #rrggbb colour.
type TagInput struct {
	Name  string
	Color *string
}

// TagPatch renames or recolours a tag. A nil Name keeps the name;
// ColorSet with a nil Color removes the colour.
type TagPatch struct {
	Name     *string
	ColorSet bool
	Color    *string
}

// TagList is all of a user's tags, sorted by name ignoring case.
type TagList struct {
	Items []Tag `json:"items"`
	Total int   `json:"total"`
}
