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
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: "/"}, http.StatusOK, &info)
	return info, err
}

// Health calls GET /health, the deep check. A 503 still returns the report
// the server sent, with an *Error.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	req := Request{Method: http.MethodGet, Path: "/health"}
	resp, err := c.call(ctx, req, http.StatusOK, &h)
	if err != nil && resp != nil {
		_ = json.Unmarshal(resp.Body, &h) // the report, if the body is one
	}
	return h, err
}

// DeleteMe calls DELETE /api/v1/auth/me: the caller's account, tasks, tags
// and refresh tokens are deleted.
func (c *Client) DeleteMe(ctx context.Context) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: authPath + "/me"}, http.StatusNoContent, nil)
	return err
}

// ListTasks calls GET /api/v1/tasks.
func (c *Client) ListTasks(ctx context.Context, q TaskQuery) (TaskList, error) {
	var list TaskList
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tasksPath, Query: q.values()}, http.StatusOK, &list)
	return list, err
}

// CreateTask calls POST /api/v1/tasks.
func (c *Client) CreateTask(ctx context.Context, in TaskInput) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPost, Path: tasksPath, Body: in}, http.StatusCreated)
}

// GetTask calls GET /api/v1/tasks/{id}.
func (c *Client) GetTask(ctx context.Context, id string) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodGet, Path: taskPath(id)}, http.StatusOK)
}

// ReplaceTask calls PUT /api/v1/tasks/{id}.
func (c *Client) ReplaceTask(ctx context.Context, id string, in TaskInput) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPut, Path: taskPath(id), Body: in}, http.StatusOK)
}

// UpdateTask calls PATCH /api/v1/tasks/{id}.
func (c *Client) UpdateTask(ctx context.Context, id string, patch TaskPatch) (Task, error) {
	return c.taskCall(ctx, Request{Method: http.MethodPatch, Path: taskPath(id), Body: patch}, http.StatusOK)
}

// DeleteTask calls DELETE /api/v1/tasks/{id}.
func (c *Client) DeleteTask(ctx context.Context, id string) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: taskPath(id)}, http.StatusNoContent, nil)
	return err
}

func (c *Client) taskCall(ctx context.Context, req Request, want int) (Task, error) {
	var task Task
	resp, err := c.call(ctx, req, want, &task)
	if err == nil {
		task.ETag = resp.Header.Get("ETag")
	}
	return task, err
}

func taskPath(id string) string { return tasksPath + "/" + url.PathEscape(id) }

// ListTags calls GET /api/v1/tags.
func (c *Client) ListTags(ctx context.Context) (TagList, error) {
	var list TagList
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tagsPath}, http.StatusOK, &list)
	return list, err
}

// CreateTag calls POST /api/v1/tags.
func (c *Client) CreateTag(ctx context.Context, in TagInput) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodPost, Path: tagsPath, Body: in}, http.StatusCreated, &tag)
	return tag, err
}

// GetTag calls GET /api/v1/tags/{id}.
func (c *Client) GetTag(ctx context.Context, id string) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodGet, Path: tagPath(id)}, http.StatusOK, &tag)
	return tag, err
}

// UpdateTag calls PATCH /api/v1/tags/{id}.
func (c *Client) UpdateTag(ctx context.Context, id string, patch TagPatch) (Tag, error) {
	var tag Tag
	_, err := c.call(ctx, Request{Method: http.MethodPatch, Path: tagPath(id), Body: patch}, http.StatusOK, &tag)
	return tag, err
}

// DeleteTag calls DELETE /api/v1/tags/{id}.
func (c *Client) DeleteTag(ctx context.Context, id string) error {
	_, err := c.call(ctx, Request{Method: http.MethodDelete, Path: tagPath(id)}, http.StatusNoContent, nil)
	return err
}

func tagPath(id string) string { return tagsPath + "/" + url.PathEscape(id) }
