package client

import (
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

// PriorityHigh is the most urgent priority of a task.
const PriorityHigh = "high"

// Task is one task as the API returns it. ETag comes from the answer's
// header, when it has one.
type Task struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Completed   bool       `json:"completed"`
	Priority    string     `json:"priority"`
	DueDate     *time.Time `json:"due_date"`
	Tags        []Tag      `json:"tags"`
	// ProjectID is nil for the inbox, ParentID nil at the top level;
	// Position orders siblings, compared byte by byte.
	ProjectID   *string    `json:"project_id"`
	ParentID    *string    `json:"parent_id"`
	Position    string     `json:"position"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Version     int64      `json:"version"`

	ETag string `json:"-"`
}

// TaskList is one page of GET /api/v1/tasks.
type TaskList struct {
	Items  []Task `json:"items"`
	Total  int    `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// TaskInput is the body of POST and PUT /api/v1/tasks; a field left out
// takes its default.
type TaskInput struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Priority    string   `json:"priority,omitempty"`
	TagIDs      []string `json:"tag_ids,omitempty"`
}

// TaskPatch is the body of PATCH /api/v1/tasks/{id}: nil fields are not
// sent, so the task keeps them.
type TaskPatch struct {
	Title     *string `json:"title,omitempty"`
	Completed *bool   `json:"completed,omitempty"`
}

// TaskQuery searches and pages GET /api/v1/tasks; zero fields are not sent.
type TaskQuery struct {
	Q     string // matched in title or description
	Limit int
}

func (q TaskQuery) values() url.Values {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
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

// TagPatch is the body of PATCH /api/v1/tags/{id}: a nil Name is not sent.
type TagPatch struct {
	Name *string `json:"name,omitempty"`
}

// Project is one project as the API returns it; its counts are read live.
type Project struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Color         *string   `json:"color"`
	Position      string    `json:"position"`
	Archived      bool      `json:"archived"`
	TaskCount     int       `json:"task_count"`
	OpenTaskCount int       `json:"open_task_count"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Version       int64     `json:"version"`
}

// ProjectList is GET /api/v1/projects, in manual order.
type ProjectList struct {
	Items []Project `json:"items"`
	Total int       `json:"total"`
}
