package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// Paths of the API.
const (
	apiPrefix = "/api/v1"
	tasksPath = apiPrefix + "/tasks"
	tagsPath  = apiPrefix + "/tags"
	authPath  = apiPrefix + "/auth"
)

// Info calls GET /.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: "/"}, http.StatusOK, &info, nil)
	return info, err
}

// Health calls GET /health, the deep check. A 503 still returns the report
// the server sent, with an *Error.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	req := Request{Method: http.MethodGet, Path: "/health"}
	resp, err := c.call(ctx, req, http.StatusOK, &h, nil)
	if err != nil && resp != nil {
		_ = json.Unmarshal(resp.Body, &h) // the report, if the body is one
	}
	return h, err
}

// Live calls GET /health/live, which never touches the database.
func (c *Client) Live(ctx context.Context) error {
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: "/health/live"}, http.StatusOK, nil, nil)
	return err
}

// Register calls POST /api/v1/auth/register.
func (c *Client) Register(ctx context.Context, in Registration) (Session, error) {
	var s Session
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: authPath + "/register", Body: in}, http.StatusCreated, &s, nil)
	return s, err
}

// Login calls POST /api/v1/auth/login.
func (c *Client) Login(ctx context.Context, in Credentials) (Session, error) {
	var s Session
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: authPath + "/login", Body: in}, http.StatusOK, &s, nil)
	return s, err
}

// Refresh calls POST /api/v1/auth/refresh: the refresh token is spent and a
// new pair comes back.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	var s Session
	body := map[string]string{"refresh_token": refreshToken}
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: authPath + "/refresh", Body: body}, http.StatusOK, &s, nil)
	return s, err
}

// Logout calls POST /api/v1/auth/logout.
func (c *Client) Logout(ctx context.Context, refreshToken string) error {
	body := map[string]string{"refresh_token": refreshToken}
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: authPath + "/logout", Body: body}, http.StatusNoContent, nil, nil)
	return err
}

// Me calls GET /api/v1/auth/me.
func (c *Client) Me(ctx context.Context) (Me, error) {
	var me Me
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: authPath + "/me"}, http.StatusOK, &me, nil)
	return me, err
}

// DeleteMe calls DELETE /api/v1/auth/me: the caller's account, tasks, tags
// and refresh tokens are deleted.
func (c *Client) DeleteMe(ctx context.Context) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: authPath + "/me"}, http.StatusNoContent, nil, nil)
	return err
}

// ListTasks calls GET /api/v1/tasks.
func (c *Client) ListTasks(ctx context.Context, q TaskQuery, opts ...CallOption) (TaskList, error) {
	var list TaskList
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tasksPath, Query: q.Values()}, http.StatusOK, &list, opts)
	return list, err
}

// CreateTask calls POST /api/v1/tasks.
func (c *Client) CreateTask(ctx context.Context, in TaskInput, opts ...CallOption) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPost, Path: tasksPath, Body: in}, http.StatusCreated, opts)
}

// GetTask calls GET /api/v1/tasks/{id}.
func (c *Client) GetTask(ctx context.Context, id string, opts ...CallOption) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodGet, Path: taskPath(id)}, http.StatusOK, opts)
}

// ReplaceTask calls PUT /api/v1/tasks/{id}.
func (c *Client) ReplaceTask(ctx context.Context, id string, in TaskInput, opts ...CallOption) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPut, Path: taskPath(id), Body: in}, http.StatusOK, opts)
}

// UpdateTask calls PATCH /api/v1/tasks/{id}.
func (c *Client) UpdateTask(ctx context.Context, id string, patch TaskPatch, opts ...CallOption) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPatch, Path: taskPath(id), Body: patch}, http.StatusOK, opts)
}

// DeleteTask calls DELETE /api/v1/tasks/{id}.
func (c *Client) DeleteTask(ctx context.Context, id string, opts ...CallOption) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: taskPath(id)}, http.StatusNoContent, nil, opts)
	return err
}

func (c *Client) taskCall(ctx context.Context, req Request, want int, opts []CallOption) (Task, error) {
	var task Task
	resp, err := c.call(ctx, req, want, &task, opts)
	if err == nil {
		task.ETag = resp.Header.Get("ETag")
		task.Location = resp.Header.Get("Location")
	}
	return task, err
}

func taskPath(id string) string { return tasksPath + "/" + url.PathEscape(id) }

// ListTags calls GET /api/v1/tags.
func (c *Client) ListTags(ctx context.Context, opts ...CallOption) (TagList, error) {
	var list TagList
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tagsPath}, http.StatusOK, &list, opts)
	return list, err
}

// CreateTag calls POST /api/v1/tags.
func (c *Client) CreateTag(ctx context.Context, in TagInput, opts ...CallOption) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: tagsPath, Body: in}, http.StatusCreated, &tag, opts)
	return tag, err
}

// GetTag calls GET /api/v1/tags/{id}.
func (c *Client) GetTag(ctx context.Context, id string, opts ...CallOption) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tagPath(id)}, http.StatusOK, &tag, opts)
	return tag, err
}

// UpdateTag calls PATCH /api/v1/tags/{id}.
func (c *Client) UpdateTag(ctx context.Context, id string, patch TagPatch, opts ...CallOption) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodPatch, Path: tagPath(id), Body: patch}, http.StatusOK, &tag, opts)
	return tag, err
}

// DeleteTag calls DELETE /api/v1/tags/{id}.
func (c *Client) DeleteTag(ctx context.Context, id string, opts ...CallOption) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: tagPath(id)}, http.StatusNoContent, nil, opts)
	return err
}

func tagPath(id string) string { return tagsPath + "/" + url.PathEscape(id) }
