package models

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The task list is the API's hottest response. encoding/json reaches every
// field through reflection (and checks the output of every MarshalJSON
// again); these append the same bytes directly: a page of 20 tasks encodes
// several times faster with far fewer allocations (BenchmarkTaskPageJSON).
// json_test.go holds them to encoding/json's output, byte for byte.

// AppendJSON appends p as encoding/json would encode it.
func (p TaskPage) AppendJSON(b []byte) []byte {
	b = append(b, `{"items":`...)
	if p.Items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range p.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, p.Total, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(p.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, p.Offset, 10)
	return append(b, '}')
}

// JSONSizeHint is roughly how many bytes p encodes to, to size a buffer.
func (p TaskPage) JSONSizeHint() int { return 64 + len(p.Items)*taskSizeHint }

// taskSizeHint is about what a task with two tags and a sentence of
// description encodes to.
const taskSizeHint = 640

// AppendJSON appends t as encoding/json would encode it.
func (t Task) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"title":`...)
	b = appendString(b, t.Title)
	b = append(b, `,"description":`...)
	b = appendString(b, t.Description)
	b = append(b, `,"completed":`...)
	b = strconv.AppendBool(b, t.Completed)
	b = append(b, `,"priority":`...)
	b = appendString(b, string(t.Priority))
	b = append(b, `,"due_date":`...)
	b = appendTimePtr(b, t.DueDate)
	b = append(b, `,"tags":`...)
	if t.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, tag := range t.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = tag.AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"project_id":`...)
	b = appendStringPtr(b, t.ProjectID)
	b = append(b, `,"parent_id":`...)
	b = appendStringPtr(b, t.ParentID)
	b = append(b, `,"position":`...)
	b = appendString(b, t.Position)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, t.UpdatedAt)
	b = append(b, `,"completed_at":`...)
	b = appendTimePtr(b, t.CompletedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, t.Version, 10)
	return append(b, '}')
}

// JSONSizeHint is roughly how many bytes t encodes to, to size a buffer.
func (t Task) JSONSizeHint() int { return taskSizeHint }

// AppendJSON appends t as encoding/json would encode it.
func (t Tag) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"color":`...)
	b = appendStringPtr(b, t.Color)
	b = append(b, `,"task_count":`...)
	b = strconv.AppendInt(b, t.TaskCount, 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	return append(b, '}')
}

// AppendJSON appends p as encoding/json would encode it.
func (p Project) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"color":`...)
	b = appendStringPtr(b, p.Color)
	b = append(b, `,"position":`...)
	b = appendString(b, p.Position)
	b = append(b, `,"archived":`...)
	b = strconv.AppendBool(b, p.Archived)
	b = append(b, `,"task_count":`...)
	b = strconv.AppendInt(b, p.TaskCount, 10)
	b = append(b, `,"open_task_count":`...)
	b = strconv.AppendInt(b, p.OpenTaskCount, 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, p.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, p.UpdatedAt)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, p.Version, 10)
	return append(b, '}')
}

// appendStringPtr encodes s as a JSON string, or null.
func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendTime encodes t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds as needed). Stored times are always in its year range.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

const hexDigits = "0123456789abcdef"

// jsonVerbatim marks the bytes appendString copies as they are: printable
// ASCII but for the quote, the backslash and the three HTML characters.
// One lookup per byte is the whole cost of most text.
var jsonVerbatim = func() (verbatim [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		verbatim[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return verbatim
}()

// appendString appends s as a JSON string exactly as encoding/json does by
// default: quotes, backslashes and control characters escaped, <, > and &
// as \u003c, \u003e and \u0026 (safe inside HTML), invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 escaped (JavaScript line separators).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if jsonVerbatim[s[i]] {
			i++
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
