package routes

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// TaskStore is the storage the task routes use. Every method acts only on
// the tasks of the user id it is given; another user's task is not found.
type TaskStore interface {
	// AppendListJSON appends a page of tasks to dst as the list's JSON
	// answer (models.TaskPage).
	AppendListJSON(ctx context.Context, dst []byte, userID string, f models.TaskFilter) ([]byte, error)
	Get(ctx context.Context, userID, id string) (models.Task, error)
	// Create, Replace, Update and Delete record k's answer with the
	// write, when k is not nil (see models.Keyed).
	Create(ctx context.Context, userID string, in models.TaskInput, k *models.Keyed) (models.Task, error)
	Replace(ctx context.Context, userID, id string, in models.TaskInput, cond *models.Precondition, k *models.Keyed) (models.Task, error)
	Update(ctx context.Context, userID, id string, p models.TaskPatch, cond *models.Precondition, k *models.Keyed) (models.Task, error)
	Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error
	// Move puts the task into m's place, among its siblings there; its
	// subtasks come along.
	Move(ctx context.Context, userID, id string, m models.TaskMove, cond *models.Precondition, k *models.Keyed) (models.Task, error)
}

// Tasks registers the task routes on r, a group behind the auth guard.
// beforeList run before the list, in order: its limits and the line it
// waits in for a database connection (middleware.FairShare).
func Tasks(r fiber.Router, store TaskStore, val *Validator, beforeList ...fiber.Handler) {
	r.Get("/", append(beforeList, listTasks(store))...)
	r.Post("/", createTask(store, val))
	r.Get("/:id", getTask(store))
	r.Put("/:id", replaceTask(store, val))
	r.Patch("/:id", updateTask(store, val))
	r.Delete("/:id", deleteTask(store))
	r.Post("/:id/move", moveTask(store, val))
}

func createTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		var body taskBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		collection := strings.TrimRight(c.Path(), "/") + "/"
		task, err := store.Create(c.UserContext(), userID, in, keyed(c, created(collection, true)))
		if err != nil {
			return err
		}
		c.Location(collection + task.ID)
		return sendTask(c.Status(fiber.StatusCreated), task)
	}
}

func getTask(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		task, err := store.Get(c.UserContext(), userID, id)
		if err != nil {
			return err
		}
		// Only the caller's own client may keep it, and only to
		// revalidate it by its ETag.
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		if ifNoneMatch(c, task.Version) {
			c.Set(fiber.HeaderETag, etag(task.Version))
			return c.SendStatus(fiber.StatusNotModified)
		}
		return sendTask(c, task)
	}
}

func replaceTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		var body taskBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		task, err := store.Replace(c.UserContext(), userID, id, in, ifMatch(c), keyed(c, changed(true)))
		if err != nil {
			return err
		}
		return sendTask(c, task)
	}
}

func updateTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		var body taskPatchBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		patch, err := body.patch(val)
		if err != nil {
			return err
		}
		task, err := store.Update(c.UserContext(), userID, id, patch, ifMatch(c), keyed(c, changed(true)))
		if err != nil {
			return err
		}
		return sendTask(c, task)
	}
}

func deleteTask(store TaskStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		if err := store.Delete(c.UserContext(), userID, id, ifMatch(c), keyed(c, deleted())); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

func moveTask(store TaskStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTaskID(c)
		if err != nil {
			return err
		}
		var body moveBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		m, err := body.move(val)
		if err != nil {
			return err
		}
		task, err := store.Move(c.UserContext(), userID, id, m, ifMatch(c), keyed(c, changed(true)))
		if err != nil {
			return err
		}
		return sendTask(c, task)
	}
}

// sendTask writes task as the body, with its ETag.
func sendTask(c *fiber.Ctx, task models.Task) error {
	c.Set(fiber.HeaderETag, etag(task.Version))
	return sendJSON(c, task.AppendJSON(make([]byte, 0, task.JSONSizeHint())))
}

func callerAndTaskID(c *fiber.Ctx) (userID, taskID string, err error) {
	if userID, err = callerID(c); err != nil {
		return "", "", err
	}
	taskID, ok := canonicalUUID(c.Params("id"))
	if !ok {
		return "", "", models.Errorf(models.CodeNotFound, "task not found")
	}
	return userID, taskID, nil
}
