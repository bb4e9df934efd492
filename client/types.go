package client

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Info is GET /.
type Info struct {
	Name        string  `json:"name"`
	Version     string  `json:"version"`
	Environment string  `json:"environment"`
	Docs        *string `json:"docs"`
}

// Health is GET /health.
type Health struct {
	Status    string   `json:"status"`
	Database  string   `json:"database"`
	LatencyMS *float64 `json:"latency_ms"`
	Version   string   `json:"version"`
	UptimeS   float64  `json:"uptime_s"`
}

// User is a local account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      *string   `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Me is GET /api/v1/auth/me: the caller, local or external.
type Me struct {
	ID        string     `json:"id"`
	Email     *string    `json:"email"`
	Name      *string    `json:"name"`
	CreatedAt *time.Time `json:"created_at"`
	Provider  string     `json:"provider"` // "local" or "external"
}

// Session is the answer of register, login and refresh.
type Session struct {
	User         User   `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// Registration is the body of POST /api/v1/auth/register.
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
}

// Credentials is the body of POST /api/v1/auth/login.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Priority of a task.
const (
	PriorityLow    = "low"
	PriorityMedium = "medium"
	PriorityHigh   = "high"
)

// Task is one task as the API returns it. ETag and Location come from the
// answer's headers, when it has them.
type Task struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    string     `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	Tags        []Tag      `json:"tags"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at"`

	ETag     string `json:"-"`
	Location string `json:"-"`
}

// TaskList is one page of GET /api/v1/tasks.
type TaskList struct {
	Items  []Task `json:"items"`
	Total  int    `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// TaskInput is the body of POST and PUT /api/v1/tasks: every settable field.
type TaskInput struct {
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    string     `json:"priority,omitempty"`
	DueDate     *time.Time `json:"due_date,omitempty"`
	TagIDs      []string   `json:"tag_ids,omitempty"`
}

// TaskPatch is the body of PATCH /api/v1/tasks/{id}: nil fields are not
// sent. ClearDueDate sends "due_date": null.
type TaskPatch struct {
	Title        *string
	Description  *string
	Completed    *bool
	Priority     *string
	DueDate      *time.Time
	ClearDueDate bool
	TagIDs       *[]string // replaces the task's tags; an empty list removes them all
}

// MarshalJSON sends only the fields set.
func (p TaskPatch) MarshalJSON() ([]byte, error) {
	body := map[string]any{}
	setIf(body, "title", p.Title)
	setIf(body, "description", p.Description)
	setIf(body, "completed", p.Completed)
	setIf(body, "priority", p.Priority)
	setIf(body, "due_date", p.DueDate)
	if p.ClearDueDate {
		body["due_date"] = nil
	}
	if p.TagIDs != nil {
		ids := *p.TagIDs
		if ids == nil {
			ids = []string{}
		}
		body["tag_ids"] = ids
	}
	return json.Marshal(body)
}

func setIf[T any](body map[string]any, key string, v *T) {
	if v != nil {
		body[key] = *v
	}
}

// TaskQuery filters, sorts and pages GET /api/v1/tasks; zero fields are not sent.
type TaskQuery struct {
	Completed *bool
	Priority  string
	Tag       string // a tag id
	Q         string
	DueBefore *time.Time
	DueAfter  *time.Time
	Sort      string
	Limit     int
	Offset    int
}

// Values encodes the query's set fields.
func (q TaskQuery) Values() url.Values {
	v := url.Values{}
	if q.Completed != nil {
		v.Set("completed", strconv.FormatBool(*q.Completed))
	}
	setString(v, "priority", q.Priority)
	setString(v, "tag", q.Tag)
	setString(v, "q", q.Q)
	if q.DueBefore != nil {
		v.Set("due_before", q.DueBefore.UTC().Format(time.RFC3339))
	}
	if q.DueAfter != nil {
		v.Set("due_after", q.DueAfter.UTC().Format(time.RFC3339))
	}
	setString(v, "sort", q.Sort)
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset != 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	return v
}

func setString(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

// Tag is one tag as the API returns it.
type Tag struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Color     *string   `json:"color"`
	TaskCount int       `json:"task_count"`
	CreatedAt time.Time `json:"created_at"`
}

// TagList is GET /api/v1/tags.
type TagList struct {
	Items []Tag `json:"items"`
	Total int   `json:"total"`
}

// TagInput is the body of POST /api/v1/tags.
type TagInput struct {
	Name  string  `json:"name"`
	Color *string `json:"color,omitempty"`
}

// TagPatch is the body of PATCH /api/v1/tags/{id}: nil fields are not sent.
// ClearColor sends "color": null.
type TagPatch struct {
	Name       *string
	Color      *string
	ClearColor bool
}

// MarshalJSON sends only the fields set.
func (p TagPatch) MarshalJSON() ([]byte, error) {
	body := map[string]any{}
	setIf(body, "name", p.Name)
	setIf(body, "color", p.Color)
	if p.ClearColor {
		body["color"] = nil
	}
	return json.Marshal(body)
}
