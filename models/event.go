package models

import "time"

// EventType names a change in a user's realtime change feed.
type EventType string

// The types of the change feed (GET /api/v1/events).
const (
	EventTaskCreated EventType = "task.created"
	EventTaskUpdated EventType = "task.updated"
	EventTaskDeleted EventType = "task.deleted"
	EventTagCreated  EventType = "tag.created"
	EventTagUpdated  EventType = "tag.updated"
	EventTagDeleted  EventType = "tag.deleted"
	// A project's events; its tasks, deleted with it, get none of their
	// own.
	EventProjectCreated EventType = "project.created"
	EventProjectUpdated EventType = "project.updated"
	EventProjectDeleted EventType = "project.deleted"
	// EventReset tells a resuming client that events it missed are no
	// longer kept: it must fetch its data again.
	EventReset EventType = "reset"
)

// Event is one change of a user's data, as the feed sends it. Seq is the
// event's id: it increases by one with every change the user commits, in
// commit order. Data is one line of JSON.
type Event struct {
	Seq  int64
	Type EventType
	Data []byte
}

// EventTicket is what redeeming a ticket for the change feed yields: whose
// feed it opens, and the lifetime and issue time of the token that asked
// for it, which the stream keeps honouring (it ends when that token
// expires or is revoked).
type EventTicket struct {
	UserID         string
	TokenIssuedAt  *time.Time
	TokenExpiresAt time.Time
}

// EventHead is where a user's feed stands: Latest is the id of the user's
// last event (0 before the first), Oldest that of the oldest event still
// kept (0 when none is).
type EventHead struct {
	Latest int64
	Oldest int64
}
