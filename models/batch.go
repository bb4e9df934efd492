package models

import "time"

// Batch limits.
const (
	MaxBatchCommands = 100
	// MaxCommandUUIDLength is the longest uuid a command may have.
	MaxCommandUUIDLength = 64
	// CommandResultTTL is how long a command's result, and a temp id's
	// mapping, are kept: a resend within it gets the first result again.
	CommandResultTTL = 7 * 24 * time.Hour
)

// CommandType names the write a batch command makes.
type CommandType string

// The commands of a batch: each is the request of the same name.
const (
	CommandTaskCreate    CommandType = "task.create"
	CommandTaskUpdate    CommandType = "task.update"
	CommandTaskMove      CommandType = "task.move"
	CommandTaskDelete    CommandType = "task.delete"
	CommandTagCreate     CommandType = "tag.create"
	CommandTagUpdate     CommandType = "tag.update"
	CommandTagDelete     CommandType = "tag.delete"
	CommandProjectCreate CommandType = "project.create"
	CommandProjectUpdate CommandType = "project.update"
	CommandProjectMove   CommandType = "project.move"
	CommandProjectDelete CommandType = "project.delete"
)

// CommandTypes lists every command type a batch accepts.
var CommandTypes = []CommandType{
	CommandTaskCreate, CommandTaskUpdate, CommandTaskMove, CommandTaskDelete,
	CommandTagCreate, CommandTagUpdate, CommandTagDelete,
	CommandProjectCreate, CommandProjectUpdate, CommandProjectMove, CommandProjectDelete,
}

// BatchOp is one command of a batch, parsed into the write it makes: its
// type, the id it acts on (for all but creates), its precondition, the
// input of its type, and Keyed, under which its result is recorded with
// the write (the command's uuid; for a create, the new object's id, made
// before it runs, and its temp id).
type BatchOp struct {
	Type CommandType
	ID   string
	Cond *Precondition

	Task         TaskInput
	TaskPatch    TaskPatch
	TaskMove     TaskMove
	Tag          TagInput
	TagPatch     TagPatch
	Project      ProjectInput
	ProjectPatch ProjectPatch
	// AfterSet and AfterID are a project move's.
	AfterSet bool
	AfterID  *string

	Keyed *Keyed
}

// BatchOutcome is what a command came to: the object it wrote, as JSON
// (nil for a delete), or its refusal.
type BatchOutcome struct {
	Body []byte
	Err  error
}

// StoredAnswer is an answer kept under a key, with the fingerprint of the
// request it answered.
type StoredAnswer struct {
	Key         string
	Fingerprint string
	Answer      Answer
}

// CommandKey is the key a batch command's result is kept under, beside
// the Idempotency-Keys' answers: "cmd " and the command's uuid. An
// Idempotency-Key has no space, so none can be one of these.
func CommandKey(uuid string) string { return "cmd " + uuid }
