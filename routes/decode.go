package routes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"taskflow/models"
)

// decodeJSON reads the request body into dst. A body that is not declared as
// JSON is 415; one that is not valid JSON, or not an object where a struct
// is expected, is 400. A struct is filled member by member, so that a
// member of the wrong type (a number where a string belongs) does not hide
// the others: when dst embeds bodyMembers, such members are kept there for
// validate to report beside every other problem; otherwise they are a 422
// naming each of them.
func decodeJSON(c *fiber.Ctx, dst any) error {
	mediaType, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mediaType != fiber.MIMEApplicationJSON && !isJSONSuffix(mediaType)) {
		return models.Errorf(models.CodeUnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return models.Errorf(models.CodeBadRequest, "the request body is empty: a JSON object is required")
	}
	target := reflect.ValueOf(dst)
	if target.Kind() != reflect.Pointer || target.Elem().Kind() != reflect.Struct {
		if err := json.Unmarshal(body, dst); err != nil {
			return jsonError(err)
		}
		return nil
	}
	members, err := decodeMembers(body, target.Elem())
	if err != nil {
		return err
	}
	if collector, ok := dst.(memberCollector); ok {
		collector.collect(members)
		return nil
	}
	if len(members.wrongType) > 0 {
		return models.Invalid(members.wrongType...)
	}
	return nil
}

// bodyMembers is what decoding learnt about a body beyond its values:
// the members of the wrong type and the members sent as null (which a
// pointer field alone cannot tell from absent ones). Request bodies embed
// it.
type bodyMembers struct {
	wrongType []models.FieldError
	nulls     map[string]bool // by JSON name
}

// memberCollector is a body that embeds bodyMembers.
type memberCollector interface {
	collect(bodyMembers)
	decodeProblems() []models.FieldError
}

func (m *bodyMembers) collect(found bodyMembers)           { *m = found }
func (m *bodyMembers) decodeProblems() []models.FieldError { return m.wrongType }

// sentNull reports whether the member named name was sent as null.
func (m *bodyMembers) sentNull(name string) bool { return m.nulls[name] }

// decodeMembers fills the JSON-tagged fields of the struct v from the
// object body, each on its own. Member names match a field's JSON name
// exactly or, as encoding/json does, ignoring case.
func decodeMembers(body []byte, v reflect.Value) (bodyMembers, error) {
	var raw map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(body); trimmed[0] != '{' {
		if err := json.Unmarshal(body, new(any)); err != nil {
			return bodyMembers{}, jsonError(err)
		}
		return bodyMembers{}, models.Errorf(models.CodeBadRequest, "the request body must be a JSON object")
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return bodyMembers{}, jsonError(err)
	}
	found := bodyMembers{nulls: map[string]bool{}}
	t := v.Type()
	for i := range t.NumField() {
		field := t.Field(i)
		name := jsonName(field)
		if name == "" {
			continue
		}
		value, ok := memberNamed(raw, name)
		if !ok {
			continue
		}
		if string(bytes.TrimSpace(value)) == "null" {
			found.nulls[name] = true
		}
		if err := json.Unmarshal(value, v.Field(i).Addr().Interface()); err != nil {
			var typeErr *json.UnmarshalTypeError
			if !errors.As(err, &typeErr) {
				return bodyMembers{}, jsonError(err)
			}
			v.Field(i).SetZero()
			found.wrongType = append(found.wrongType, models.FieldError{Field: name, Message: "must be " + jsonTypeName(field.Type)})
		}
	}
	return found, nil
}

// jsonName is the member name of an exported, JSON-tagged field, or "".
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func memberNamed(raw map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if value, ok := raw[name]; ok {
		return value, true
	}
	for member, value := range raw {
		if strings.EqualFold(member, name) {
			return value, true
		}
	}
	return nil, false
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
		return models.Invalid(models.FieldError{Field: field, Message: fmt.Sprintf("must be %s", jsonTypeName(typeErr.Type))})
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

// jsonTypeName says what JSON a Go type takes, for a field error.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a valid value"
}
