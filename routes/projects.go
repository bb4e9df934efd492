package routes

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// ProjectStore is the storage the project routes use. Every method acts
// only on the projects of the user id it is given; another user's project
// is not found.
type ProjectStore interface {
	List(ctx context.Context, userID string, archived models.ProjectArchived) (models.ProjectList, error)
	Get(ctx context.Context, userID, id string) (models.Project, error)
	// Create, Update, Move and Delete record k's answer with the write,
	// when k is not nil (see models.Keyed).
	Create(ctx context.Context, userID string, in models.ProjectInput, k *models.Keyed) (models.Project, error)
	Update(ctx context.Context, userID, id string, p models.ProjectPatch, cond *models.Precondition, k *models.Keyed) (models.Project, error)
	// Move puts the project right after afterID, first when afterID is
	// nil, last when afterSet is false.
	Move(ctx context.Context, userID, id string, afterSet bool, afterID *string, cond *models.Precondition, k *models.Keyed) (models.Project, error)
	// Delete removes the project and all its tasks.
	Delete(ctx context.Context, userID, id string, cond *models.Precondition, k *models.Keyed) error
}

// Projects registers the project routes on r, a group behind the auth
// guard.
func Projects(r fiber.Router, store ProjectStore, val *Validator) {
	r.Get("/", listProjects(store))
	r.Post("/", createProject(store, val))
	r.Get("/:id", getProject(store))
	r.Patch("/:id", updateProject(store, val))
	r.Post("/:id/move", moveProject(store, val))
	r.Delete("/:id", deleteProject(store))
}

var projectArchivedNames = []string{string(models.ArchivedNo), string(models.ArchivedOnly), string(models.ArchivedAny)}

func listProjects(store ProjectStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		q := queryParams{c: c}
		archived := models.ProjectArchived(q.oneOf("archived", string(models.ArchivedNo), projectArchivedNames))
		if err := q.err(); err != nil {
			return err
		}
		list, err := store.List(c.UserContext(), userID, archived)
		if err != nil {
			return err
		}
		return sendJSON(c, list.AppendJSON(nil))
	}
}

func createProject(store ProjectStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		var body projectBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		collection := strings.TrimRight(c.Path(), "/") + "/"
		project, err := store.Create(c.UserContext(), userID, in, keyed(c, created(collection, true)))
		if err != nil {
			return err
		}
		c.Location(collection + project.ID)
		return sendProject(c.Status(fiber.StatusCreated), project)
	}
}

func getProject(store ProjectStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndProjectID(c)
		if err != nil {
			return err
		}
		project, err := store.Get(c.UserContext(), userID, id)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, "private, no-cache")
		if ifNoneMatch(c, project.Version) {
			c.Set(fiber.HeaderETag, etag(project.Version))
			return c.SendStatus(fiber.StatusNotModified)
		}
		return sendProject(c, project)
	}
}

func updateProject(store ProjectStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndProjectID(c)
		if err != nil {
			return err
		}
		var body projectPatchBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		patch, err := body.patch(val)
		if err != nil {
			return err
		}
		project, err := store.Update(c.UserContext(), userID, id, patch, ifMatch(c), keyed(c, changed(true)))
		if err != nil {
			return err
		}
		return sendProject(c, project)
	}
}

func moveProject(store ProjectStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndProjectID(c)
		if err != nil {
			return err
		}
		var body projectMoveBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		if err := validate(val, &body); err != nil {
			return err
		}
		afterSet := body.AfterID != nil || body.sentNull("after_id")
		project, err := store.Move(c.UserContext(), userID, id, afterSet, lowerPtr(body.AfterID), ifMatch(c), keyed(c, changed(true)))
		if err != nil {
			return err
		}
		return sendProject(c, project)
	}
}

func deleteProject(store ProjectStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndProjectID(c)
		if err != nil {
			return err
		}
		if err := store.Delete(c.UserContext(), userID, id, ifMatch(c), keyed(c, deleted())); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// sendProject writes project as the body, with its ETag.
func sendProject(c *fiber.Ctx, project models.Project) error {
	c.Set(fiber.HeaderETag, etag(project.Version))
	return sendJSON(c, project.AppendJSON(nil))
}

func callerAndProjectID(c *fiber.Ctx) (userID, projectID string, err error) {
	if userID, err = callerID(c); err != nil {
		return "", "", err
	}
	projectID, ok := canonicalUUID(c.Params("id"))
	if !ok {
		return "", "", models.Errorf(models.CodeNotFound, "project not found")
	}
	return userID, projectID, nil
}

// projectBody is the body of POST /projects.
type projectBody struct {
	Name  string  `json:"name" validate:"required,max=100"`
	Color *string `json:"color"`
	bodyMembers
}

func (b *projectBody) input(val *Validator) (models.ProjectInput, error) {
	b.Name = strings.TrimSpace(b.Name)
	color, colorProblem := parseColor(b.Color)
	if err := validate(val, b, append(nulProblem("name", b.Name), colorProblem...)...); err != nil {
		return models.ProjectInput{}, err
	}
	return models.ProjectInput{Name: b.Name, Color: color}, nil
}

// projectPatchBody is the body of PATCH /projects/{id}: only the members
// sent change; a null color removes the colour, a null name or archived
// is invalid.
type projectPatchBody struct {
	Name     *string `json:"name" validate:"omitnil,max=100"`
	Color    *string `json:"color"`
	Archived *bool   `json:"archived"`
	bodyMembers
}

func (b *projectPatchBody) patch(val *Validator) (models.ProjectPatch, error) {
	var problems []models.FieldError
	if b.Name != nil {
		*b.Name = strings.TrimSpace(*b.Name)
		if *b.Name == "" {
			problems = append(problems, models.FieldError{Field: "name", Message: "must not be empty"})
		}
		problems = append(problems, nulProblem("name", *b.Name)...)
	} else if b.sentNull("name") {
		problems = append(problems, models.FieldError{Field: "name", Message: "must not be null"})
	}
	if b.Archived == nil && b.sentNull("archived") {
		problems = append(problems, models.FieldError{Field: "archived", Message: "must be true or false"})
	}
	color, colorProblem := parseColor(b.Color)
	problems = append(problems, colorProblem...)
	if err := validate(val, b, problems...); err != nil {
		return models.ProjectPatch{}, err
	}
	return models.ProjectPatch{Name: b.Name, ColorSet: b.Color != nil || b.sentNull("color"), Color: color, Archived: b.Archived}, nil
}

// projectMoveBody is the body of POST /projects/{id}/move.
type projectMoveBody struct {
	AfterID *string `json:"after_id" validate:"omitnil,uuid"`
	bodyMembers
}
