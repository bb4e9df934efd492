package routes

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	"taskflow/models"
)

// Validator checks request structs against their `validate` tags and reports
// failures as the contract's field errors, named by their JSON keys.
type Validator struct{ v *validator.Validate }

// NewValidator builds a Validator; build one per app and share it (it
// caches each struct's rules).
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	return &Validator{v: v}
}

// Struct validates s; the error, if any, is a models.Error with code invalid.
func (val *Validator) Struct(s any) error {
	err := val.v.Struct(s)
	if err == nil {
		return nil
	}
	var fieldErrs validator.ValidationErrors
	if !errors.As(err, &fieldErrs) {
		return err
	}
	problems := make([]models.FieldError, 0, len(fieldErrs))
	for _, fe := range fieldErrs {
		problems = append(problems, models.FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)})
	}
	return models.Invalid(problems...)
}

// fieldPath drops the struct's own name: "TaskInput.tag_ids[0]" → "tag_ids[0]".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

func fieldMessage(fe validator.FieldError) string {
	isString := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min", "gte":
		if isString {
			return fmt.Sprintf("must be at least %s characters", fe.Param())
		}
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("must have at least %s items", fe.Param())
		}
		return "must be at least " + fe.Param()
	case "max", "lte":
		if isString {
			return fmt.Sprintf("must be at most %s characters", fe.Param())
		}
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("must have at most %s items", fe.Param())
		}
		return "must be at most " + fe.Param()
	case "email":
		return "must be a valid email address"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "uuid", "uuid4", "uuid7":
		return "must be a UUID"
	case "hexcolor", "iscolor":
		return "must be a colour such as #1a2b3c"
	case "unique":
		return "must not contain duplicates"
	case "notblank":
		return "must not be blank"
	}
	return "is invalid"
}
