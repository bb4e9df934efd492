package routes

import (
	"context"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// TagStore is the storage the tag routes use. Every method acts only on
// the tags of the user id it is given; another user's tag is not found.
type TagStore interface {
	List(ctx context.Context, userID string) (models.TagList, error)
	Get(ctx context.Context, userID, id string) (models.Tag, error)
	// Create, Update and Delete record k's answer with the write, when k
	// is not nil (see models.Keyed).
	Create(ctx context.Context, userID string, in models.TagInput, k *models.Keyed) (models.Tag, error)
	Update(ctx context.Context, userID, id string, p models.TagPatch, k *models.Keyed) (models.Tag, error)
	Delete(ctx context.Context, userID, id string, k *models.Keyed) error
}

// Tags registers the tag routes on r, a group behind the auth guard.
func Tags(r fiber.Router, store TagStore, val *Validator) {
	r.Get("/", listTags(store))
	r.Post("/", createTag(store, val))
	r.Get("/:id", getTag(store))
	r.Patch("/:id", updateTag(store, val))
	r.Delete("/:id", deleteTag(store))
}

func listTags(store TagStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		list, err := store.List(c.UserContext(), userID)
		if err != nil {
			return err
		}
		return c.JSON(list)
	}
}

func createTag(store TagStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		var body tagBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		in, err := body.input(val)
		if err != nil {
			return err
		}
		collection := strings.TrimRight(c.Path(), "/") + "/"
		tag, err := store.Create(c.UserContext(), userID, in, keyed(c, created(collection, false)))
		if err != nil {
			return err
		}
		c.Location(collection + tag.ID)
		return sendTag(c.Status(fiber.StatusCreated), tag)
	}
}

func getTag(store TagStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTagID(c)
		if err != nil {
			return err
		}
		tag, err := store.Get(c.UserContext(), userID, id)
		if err != nil {
			return err
		}
		return sendTag(c, tag)
	}
}

func updateTag(store TagStore, val *Validator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTagID(c)
		if err != nil {
			return err
		}
		var body tagPatchBody
		if err := decodeJSON(c, &body); err != nil {
			return err
		}
		patch, err := body.patch(val)
		if err != nil {
			return err
		}
		tag, err := store.Update(c.UserContext(), userID, id, patch, keyed(c, changed(false)))
		if err != nil {
			return err
		}
		return sendTag(c, tag)
	}
}

func deleteTag(store TagStore) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, id, err := callerAndTagID(c)
		if err != nil {
			return err
		}
		if err := store.Delete(c.UserContext(), userID, id, keyed(c, deleted())); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// sendTag writes tag as the body, encoded as a write with an
// Idempotency-Key records it.
func sendTag(c *fiber.Ctx, tag models.Tag) error {
	return sendJSON(c, tag.AppendJSON(nil))
}

func callerAndTagID(c *fiber.Ctx) (userID, tagID string, err error) {
	if userID, err = callerID(c); err != nil {
		return "", "", err
	}
	tagID, ok := canonicalUUID(c.Params("id"))
	if !ok {
		return "", "", models.Errorf(models.CodeNotFound, "tag not found")
	}
	return userID, tagID, nil
}

// tagBody is the body of POST /tags.
type tagBody struct {
	Name  string  `json:"name" validate:"required,max=50"`
	Color *string `json:"color"`
	bodyMembers
}

func (b *tagBody) input(val *Validator) (models.TagInput, error) {
	b.Name = strings.TrimSpace(b.Name)
	color, colorProblem := parseColor(b.Color)
	problems := append(nulProblem("name", b.Name), colorProblem...)
	if err := validate(val, b, problems...); err != nil {
		return models.TagInput{}, err
	}
	return models.TagInput{Name: b.Name, Color: color}, nil
}

// tagPatchBody is the body of PATCH /tags/{id}: only the members sent
// change; a null color removes the colour, a null name is invalid.
type tagPatchBody struct {
	Name  *string `json:"name" validate:"omitnil,max=50"`
	Color *string `json:"color"`
	bodyMembers
}

func (b *tagPatchBody) patch(val *Validator) (models.TagPatch, error) {
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
	color, colorProblem := parseColor(b.Color)
	problems = append(problems, colorProblem...)
	if err := validate(val, b, problems...); err != nil {
		return models.TagPatch{}, err
	}
	return models.TagPatch{Name: b.Name, ColorSet: b.Color != nil || b.sentNull("color"), Color: color}, nil
}

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// parseColor accepts #rrggbb in either case and keeps it lower-cased;
// absent or null is no colour.
func parseColor(raw *string) (*string, []models.FieldError) {
	if raw == nil {
		return nil, nil
	}
	if !colorPattern.MatchString(*raw) {
		return nil, []models.FieldError{{Field: "color", Message: "must be a colour such as #1a2b3c, or null"}}
	}
	color := strings.ToLower(*raw)
	return &color, nil
}
