package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// decodeJSON reads the request body into dst. A body that is not declared as
// JSON is 415; one that is not valid JSON is 400; a JSON value of the wrong
// type for a field (a number where a string belongs) is 422 naming the field.
func decodeJSON(c *fiber.Ctx, dst any) error {
	mediaType, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mediaType != fiber.MIMEApplicationJSON && !isJSONSuffix(mediaType)) {
		return models.Errorf(models.CodeUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return models.Errorf(models.CodeBadRequest, "the request body is empty: a JSON object is required")
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return jsonError(err)
	}
	return nil
}

func isJSONSuffix(mediaType string) bool {
	return len(mediaType) > 5 && mediaType[len(mediaType)-5:] == "+json"
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return models.Errorf(models.CodeBadRequest, "the request body must be a JSON object")
		}
		return models.Invalid(models.FieldError{Field: field, Message: fmt.Sprintf("must be %s", jsonKind(typeErr.Type.Kind().String()))})
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return models.Errorf(models.CodeBadRequest, "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	}
	var fieldErr *models.Error
	if errors.As(err, &fieldErr) {
		return fieldErr
	}
	return models.Errorf(models.CodeBadRequest, "the request body is not valid JSON")
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a valid value"
	}
	return "a valid value"
}
