// The bodies of the task writes and their validation.

package routes

import (
	"slices"
	"strings"
	"time"

	"taskflow/models"
)

// taskBody is the body of POST and PUT: every settable field, where a
// field left out (or null) takes its default. Members a client may not set
// (id, user_id, created_at, updated_at, completed_at) have no field here,
// so they are ignored.
type taskBody struct {
	Title       string   `json:"title" validate:"required,max=200"`
	Description string   `json:"description" validate:"max=5000"`
	Completed   bool     `json:"completed"`
	Priority    *string  `json:"priority" validate:"omitnil,oneof=low medium high"`
	DueDate     *string  `json:"due_date"`
	TagIDs      []string `json:"tag_ids" validate:"max=50,unique,dive,uuid"`
	ProjectID   *string  `json:"project_id" validate:"omitnil,uuid"`
	ParentID    *string  `json:"parent_id" validate:"omitnil,uuid"`
	bodyMembers
}

// place is where a create or a replace puts the task. What is not sent is
// null (the inbox, the top level), except a project left out beside a
// parent: the task goes into its parent's project.
func (b *taskBody) place() models.TaskPlace {
	parentSent := b.ParentID != nil
	return models.TaskPlace{
		ProjectSet: b.ProjectID != nil || b.sentNull("project_id") || !parentSent, ProjectID: lowerPtr(b.ProjectID),
		ParentSet: true, ParentID: lowerPtr(b.ParentID),
	}
}

func (b *taskBody) input(val *Validator) (models.TaskInput, error) {
	b.Title = strings.TrimSpace(b.Title)
	b.TagIDs = lowerAll(b.TagIDs)
	due, dueProblem := parseDueDate(b.DueDate)
	problems := slices.Concat(nulProblem("title", b.Title), nulProblem("description", b.Description), dueProblem)
	if err := validate(val, b, problems...); err != nil {
		return models.TaskInput{}, err
	}
	in := models.TaskInput{
		Title: b.Title, Description: b.Description, Completed: b.Completed,
		Priority: models.PriorityMedium, DueDate: due, TagIDs: b.TagIDs, Place: b.place(),
	}
	if b.Priority != nil {
		in.Priority = models.Priority(*b.Priority)
	}
	if in.TagIDs == nil {
		in.TagIDs = []string{}
	}
	return in, nil
}

// taskPatchBody is the body of PATCH: only the members sent change. A
// member sent as null goes back to its default (as in JSON Merge Patch):
// no due date, no tags, an empty description, not completed, medium
// priority; the title has no default, so a null title is invalid.
type taskPatchBody struct {
	Title       *string  `json:"title" validate:"omitnil,max=200"`
	Description *string  `json:"description" validate:"omitnil,max=5000"`
	Completed   *bool    `json:"completed"`
	Priority    *string  `json:"priority" validate:"omitnil,oneof=low medium high"`
	DueDate     *string  `json:"due_date"`
	TagIDs      []string `json:"tag_ids" validate:"max=50,unique,dive,uuid"`
	ProjectID   *string  `json:"project_id" validate:"omitnil,uuid"`
	ParentID    *string  `json:"parent_id" validate:"omitnil,uuid"`
	bodyMembers
}

func (b *taskPatchBody) patch(val *Validator) (models.TaskPatch, error) {
	var problems []models.FieldError
	if b.Title != nil {
		*b.Title = strings.TrimSpace(*b.Title)
		if *b.Title == "" {
			problems = append(problems, models.FieldError{Field: "title", Message: "must not be empty"})
		}
		problems = append(problems, nulProblem("title", *b.Title)...)
	} else if b.sentNull("title") {
		problems = append(problems, models.FieldError{Field: "title", Message: "must not be null"})
	}
	if b.Description != nil {
		problems = append(problems, nulProblem("description", *b.Description)...)
	}
	due, dueProblem := parseDueDate(b.DueDate)
	problems = append(problems, dueProblem...)
	b.TagIDs = lowerAll(b.TagIDs)
	if err := validate(val, b, problems...); err != nil {
		return models.TaskPatch{}, err
	}
	p := models.TaskPatch{
		Title: b.Title, Description: b.Description, Completed: b.Completed,
		DueDateSet: b.DueDate != nil || b.sentNull("due_date"), DueDate: due,
		TagIDsSet: b.TagIDs != nil || b.sentNull("tag_ids"), TagIDs: b.TagIDs,
		Place: sentPlace(&b.bodyMembers, b.ProjectID, b.ParentID),
	}
	if b.Priority != nil {
		priority := models.Priority(*b.Priority)
		p.Priority = &priority
	}
	b.applyNullDefaults(&p)
	return p, nil
}

// applyNullDefaults turns members sent as null into their defaults.
func (b *taskPatchBody) applyNullDefaults(p *models.TaskPatch) {
	if b.Description == nil && b.sentNull("description") {
		p.Description = new(string)
	}
	if b.Completed == nil && b.sentNull("completed") {
		p.Completed = new(bool)
	}
	if b.Priority == nil && b.sentNull("priority") {
		medium := models.PriorityMedium
		p.Priority = &medium
	}
	if p.TagIDsSet && p.TagIDs == nil {
		p.TagIDs = []string{}
	}
}

// parseDueDate reads an optional RFC 3339 date-time; a problem names
// due_date. Absent or null is a nil time.
func parseDueDate(raw *string) (*time.Time, []models.FieldError) {
	if raw == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *raw)
	if err != nil {
		return nil, []models.FieldError{{Field: "due_date", Message: "must be an RFC 3339 date-time such as 2025-02-01T17:00:00Z, or null"}}
	}
	t = t.UTC()
	// An offset can carry a date past either end of RFC 3339's years
	// (9999-12-31T23:59:59-23:59 is in year 10000 in UTC): such a date could
	// be stored but never written back as JSON, breaking the user's list.
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, []models.FieldError{{Field: "due_date", Message: "must be between years 0001 and 9999 in UTC"}}
	}
	return &t, nil
}

// sentPlace is the place a patch or a move sends: each of the project and
// the parent only if sent, null included.
func sentPlace(m *bodyMembers, projectID, parentID *string) models.TaskPlace {
	return models.TaskPlace{
		ProjectSet: projectID != nil || m.sentNull("project_id"), ProjectID: lowerPtr(projectID),
		ParentSet: parentID != nil || m.sentNull("parent_id"), ParentID: lowerPtr(parentID),
	}
}

// moveBody is the body of POST /tasks/{id}/move.
type moveBody struct {
	ProjectID *string `json:"project_id" validate:"omitnil,uuid"`
	ParentID  *string `json:"parent_id" validate:"omitnil,uuid"`
	AfterID   *string `json:"after_id" validate:"omitnil,uuid"`
	bodyMembers
}

func (b *moveBody) move(val *Validator) (models.TaskMove, error) {
	if err := validate(val, b); err != nil {
		return models.TaskMove{}, err
	}
	return models.TaskMove{
		Place:    sentPlace(&b.bodyMembers, b.ProjectID, b.ParentID),
		AfterSet: b.AfterID != nil || b.sentNull("after_id"), AfterID: lowerPtr(b.AfterID),
	}, nil
}

// lowerPtr is s lower-cased, as ids are stored; nil stays nil.
func lowerPtr(s *string) *string {
	if s == nil {
		return nil
	}
	l := strings.ToLower(*s)
	return &l
}
