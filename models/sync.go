package models

import (
	"strconv"
	"time"
)

// Paging bounds of a sync.
const (
	DefaultSyncLimit = 500
	MaxSyncLimit     = 1000
)

// TombstoneTTL is how long a deletion is kept for the syncs that began
// before it (unless the user's cap of them goes first).
const TombstoneTTL = 90 * 24 * time.Hour

// SyncChange is one item of a sync page: an object as the API encodes it
// (JSON), or, when Deleted, the id of an object deleted.
type SyncChange struct {
	Seq     int64
	Kind    string // task, tag or project
	Deleted bool
	ID      string
	JSON    []byte
}

// SyncPage is one page of a sync: what changed after the cursor asked for,
// up to Cursor, in the order of the user's sequence. Full says the pages
// from this one on make a complete copy; HasMore that another page
// follows (ask it with Cursor).
type SyncPage struct {
	Cursor  int64
	Full    bool
	HasMore bool
	Changes []SyncChange
}

// AppendJSON appends p as the API encodes a sync page: the objects of each
// kind, and the ids of those deleted, each in the order of the sequence.
func (p SyncPage) AppendJSON(b []byte) []byte {
	b = append(b, `{"cursor":"`...)
	b = strconv.AppendInt(b, p.Cursor, 10)
	b = append(b, `","full":`...)
	b = strconv.AppendBool(b, p.Full)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, p.HasMore)
	for _, kind := range []string{"project", "tag", "task"} {
		b = append(b, `,"`+kind+`s":[`...)
		b = p.appendKind(b, kind, false)
		b = append(b, ']')
	}
	b = append(b, `,"deleted":{`...)
	for i, kind := range []string{"project", "tag", "task"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"`+kind+`s":[`...)
		b = p.appendKind(b, kind, true)
		b = append(b, ']')
	}
	return append(b, "}}"...)
}

func (p SyncPage) appendKind(b []byte, kind string, deleted bool) []byte {
	first := true
	for _, c := range p.Changes {
		if c.Kind != kind || c.Deleted != deleted {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		if deleted {
			b = appendString(b, c.ID)
		} else {
			b = append(b, c.JSON...)
		}
	}
	return b
}

// ReplayCaps bound what the server keeps about one user for replay, so
// that no user can make it keep more: the most events (the change feed's
// resume), answers (of Idempotency-Keys and batch commands, with their
// temporary ids) and tombstones (deletions for syncs). Past a cap the
// oldest go first: a resume past them gets reset, a sync past them full,
// a retry past them runs again.
type ReplayCaps struct {
	Events     int
	Answers    int
	Tombstones int
}

// DefaultReplayCaps are the caps when nothing else is configured.
var DefaultReplayCaps = ReplayCaps{Events: 1000, Answers: 1000, Tombstones: 10000}

// OrDefault is c with each cap not set (0 or less) at its default.
func (c ReplayCaps) OrDefault() ReplayCaps {
	d := DefaultReplayCaps
	if c.Events > 0 {
		d.Events = c.Events
	}
	if c.Answers > 0 {
		d.Answers = c.Answers
	}
	if c.Tombstones > 0 {
		d.Tombstones = c.Tombstones
	}
	return d
}
