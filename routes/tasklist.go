// The task list: its handler and its query.

package routes

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

func listTasks(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		filter, err := taskFilter(c)
		if err != nil {
			return err
		}
		// The page is written straight into the response's own pooled
		// buffer: a list answer is some 12 KB, the largest thing a
		// request would otherwise allocate.
		resp := c.Response()
		resp.AppendBody(nil) // takes a buffer from the pool
		body, err := store.AppendListJSON(c.UserContext(), resp.Body()[:0], userID, filter)
		if err != nil {
			resp.ResetBody()
			return err
		}
		resp.SetBody(body) // where body is the buffer itself, copy onto itself
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return nil
	}
}

// taskFilter reads the list's query parameters. A value of the wrong type
// (limit=abc, completed=maybe, a date that is not RFC 3339) is a 400; a
// well-typed value out of range is a 422 naming every such parameter.
func taskFilter(c *fiber.Ctx) (models.TaskFilter, error) {
	q := queryParams{c: c}
	f := models.TaskFilter{
		Completed:    q.boolean("completed"),
		TagID:        q.uuid("tag"),
		Query:        q.search("q"),
		DueBefore:    q.time("due_before"),
		DueAfter:     q.time("due_after"),
		UpdatedAfter: q.time("updated_after"),
		Due:          models.TaskDue(q.oneOf("due", "", []string{string(models.DueNone), string(models.DueOverdue)})),
		Now:          time.Now(),
		Sort:         models.TaskSort(q.oneOf("sort", string(models.SortDefault), taskSortNames)),
		Limit:        int(q.integer("limit", models.DefaultTaskLimit, 1, models.MaxTaskLimit)),
		Offset:       q.integer("offset", 0, 0, -1),
	}
	f.ProjectID, f.Inbox = q.uuidOr("project_id", "inbox")
	f.ParentID, f.TopLevel = q.uuidOr("parent_id", "none")
	if priority := q.oneOf("priority", "", []string{"low", "medium", "high"}); priority != "" {
		p := models.Priority(priority)
		f.Priority = &p
	}
	return f, q.err()
}

// IsSearch reports whether a task list request searches: its q holds a
// word.
func IsSearch(c *fiber.Ctx) bool {
	return len(models.SearchWords(c.Query("q"))) > 0
}

// taskSortNames is computed once: the list reads it on every request.
var taskSortNames = sortNames()

func sortNames() []string {
	names := make([]string, len(models.TaskSorts))
	for i, s := range models.TaskSorts {
		names[i] = string(s)
	}
	return names
}
