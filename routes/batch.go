package routes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"taskflow/models"
)

// BatchStore runs the commands of a batch (see database.SQLiteBatch and
// database.PostgresBatch).
type BatchStore interface {
	// Prepare reads the results kept under keys (models.CommandKey) and
	// the ids earlier batches gave the temporary ids among tempIDs.
	Prepare(ctx context.Context, userID string, keys, tempIDs []string) (map[string]models.StoredAnswer, map[string]string, error)
	// Run runs ops in order, each on its own, recording each one's result
	// under its Keyed with the write.
	Run(ctx context.Context, userID string, ops []models.BatchOp) ([]models.BatchOutcome, error)
	// Finish keeps the answers of save (refusals, which wrote nothing)
	// under keys that hold none yet, and returns the answers that other
	// requests recorded first under the keys of save and inflight.
	Finish(ctx context.Context, userID string, save []models.StoredAnswer, inflight []string) (map[string]models.StoredAnswer, error)
}

// BatchDeps is what POST /batch needs: its store, the validator of the
// requests its commands stand for, and the app's rendering of an error as
// the problem document a request would get.
type BatchDeps struct {
	Store    BatchStore
	Validate *Validator
	Problem  func(c *fiber.Ctx, err error) (status int, body []byte)
}

// Batch registers POST /batch on r, a group behind the auth guard.
func Batch(r fiber.Router, d BatchDeps) {
	r.Post("/", runBatch(d))
}

// batchBody is the body of POST /batch.
type batchBody struct {
	Commands []json.RawMessage `json:"commands"`
}

// command is one command of a batch: its members as sent, the key its
// result is kept under and the fingerprint of what it asks, then either
// the op it makes, or why it was refused, or its result kept from before.
type command struct {
	uuid   string // "" when not a string
	typ    string
	tempID *string
	args   json.RawMessage // nil when absent
	// wrongType names the members sent with a JSON type they cannot have.
	wrongType   []models.FieldError
	key         string // models.CommandKey of the uuid; "" when the uuid is invalid
	fingerprint string
	op          *models.BatchOp
	refusal     error
	result      *commandResult
}

// commandResult is a command's result as the answer lists it.
type commandResult struct {
	UUID   string          `json:"uuid"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

func runBatch(d BatchDeps) fiber.Handler {
	return func(c *fiber.Ctx) error {
		userID, err := callerID(c)
		if err != nil {
			return err
		}
		commands, err := decodeBatch(c)
		if err != nil {
			return err
		}
		ctx := c.UserContext()
		keys, references := batchLookups(commands)
		stored, known, err := d.Store.Prepare(ctx, userID, keys, references)
		if err != nil {
			return err
		}
		b := &batchRun{deps: d, userID: userID, commands: commands, stored: stored, tempIDs: known, used: map[string]bool{}}
		b.parse()
		if err := b.run(c); err != nil {
			return err
		}
		return sendJSON(c, b.answer())
	}
}

// decodeBatch reads the body: an object whose commands are a list of 1
// to models.MaxBatchCommands objects. Anything else is refused whole.
func decodeBatch(c *fiber.Ctx) ([]*command, error) {
	var body batchBody
	if err := decodeJSON(c, &body); err != nil {
		return nil, err
	}
	if len(body.Commands) == 0 || len(body.Commands) > models.MaxBatchCommands {
		return nil, models.Invalid(models.FieldError{Field: "commands",
			Message: "must be a list of 1 to " + strconv.Itoa(models.MaxBatchCommands) + " commands"})
	}
	commands := make([]*command, len(body.Commands))
	var problems []models.FieldError
	for i, raw := range body.Commands {
		cmd, ok := decodeCommand(raw)
		if !ok {
			problems = append(problems, models.FieldError{Field: "commands[" + strconv.Itoa(i) + "]",
				Message: "must be a command: {\"uuid\", \"type\", \"temp_id\"?, \"args\"}"})
			continue
		}
		commands[i] = cmd
	}
	if len(problems) > 0 {
		return nil, models.Invalid(problems...)
	}
	return commands, nil
}

// decodeCommand reads one command, an object; a member of the wrong type
// is remembered, for the command's refusal to name.
func decodeCommand(raw json.RawMessage) (*command, bool) {
	var members map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return nil, false
	}
	cmd := &command{}
	stringMember := func(name string) *string {
		value, ok := memberNamed(members, name)
		if !ok || string(value) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(value, &s) != nil {
			cmd.wrongType = append(cmd.wrongType, models.FieldError{Field: name, Message: "must be a string"})
			return nil
		}
		return &s
	}
	if s := stringMember("uuid"); s != nil {
		cmd.uuid = *s
	}
	if s := stringMember("type"); s != nil {
		cmd.typ = *s
	}
	cmd.tempID = stringMember("temp_id")
	cmd.args, _ = memberNamed(members, "args")
	if validCommandUUID(cmd.uuid) {
		cmd.key = models.CommandKey(cmd.uuid)
	}
	cmd.fingerprint = commandFingerprint(members)
	return cmd, true
}

func validCommandUUID(id string) bool {
	return len(id) > 0 && len(id) <= models.MaxCommandUUIDLength && validIdempotencyKey([]byte(id))
}

// commandFingerprint identifies what a command asks: its type, temp id
// and args as they came, but for the white space between tokens.
func commandFingerprint(members map[string]json.RawMessage) string {
	h := sha256.New()
	for _, name := range []string{"type", "temp_id", "args"} {
		value, _ := memberNamed(members, name)
		var compact bytes.Buffer
		if json.Compact(&compact, value) != nil {
			compact.Write(value)
		}
		h.Write(compact.Bytes())
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idMembers are the members of a command's args that hold ids, where a
// temporary id may stand for one.
var idMembers = []string{"id", "project_id", "parent_id", "after_id"}

// batchLookups are what to read before the batch runs: the keys of its
// commands' results, and every string in an id member that could be a
// temporary id an earlier batch made (1 to 64 characters, no NUL).
func batchLookups(commands []*command) (keys, references []string) {
	for _, cmd := range commands {
		if cmd.key != "" {
			keys = append(keys, cmd.key)
		}
		args := map[string]json.RawMessage{}
		if json.Unmarshal(cmd.args, &args) != nil {
			continue
		}
		for _, member := range idMembers {
			var s string
			if json.Unmarshal(args[member], &s) == nil && s != "" {
				references = append(references, s)
			}
		}
		var tagIDs []string
		if json.Unmarshal(args["tag_ids"], &tagIDs) == nil {
			references = append(references, tagIDs...)
		}
		if cmd.tempID != nil { // a resend's creates report their temp ids too
			references = append(references, *cmd.tempID)
		}
	}
	references = slices.DeleteFunc(references, func(s string) bool { return !validTempID(s) })
	slices.Sort(references)
	return keys, slices.Compact(references)
}

// batchRun is one batch on its way: its commands, the results kept from
// before, and the temporary ids known so far with their real ids.
type batchRun struct {
	deps     BatchDeps
	userID   string
	commands []*command
	stored   map[string]models.StoredAnswer
	tempIDs  map[string]string // temp id -> id
	used     map[string]bool   // temp ids this batch used or made
	madeBy   map[string]int    // temp id -> the create of the batch that makes it
}

// isCreate reports whether typ is one of the creates, the commands that
// may name what they make by a temp id.
func isCreate(typ models.CommandType) bool {
	return typ == models.CommandTaskCreate || typ == models.CommandTagCreate || typ == models.CommandProjectCreate
}

// validTempID reports whether temp can name an object: 1 to 64 bytes of
// UTF-8 without NUL, which the database could not keep.
func validTempID(temp string) bool {
	return temp != "" && len(temp) <= models.MaxCommandUUIDLength && utf8.ValidString(temp) && !strings.ContainsRune(temp, 0)
}

// parse turns each command into its op, or its refusal, or its result
// kept from before; temporary ids are replaced by real ones on the way.
func (b *batchRun) parse() {
	b.madeBy = map[string]int{}
	for i, cmd := range b.commands {
		if temp := cmd.tempID; temp != nil && isCreate(models.CommandType(cmd.typ)) && validTempID(*temp) {
			if _, dup := b.madeBy[*temp]; !dup {
				b.madeBy[*temp] = i
			}
		}
	}
	seen := map[string]int{}
	for i, cmd := range b.commands {
		if first, ok := seen[cmd.key]; ok && cmd.key != "" {
			b.sameAs(cmd, b.commands[first])
			continue
		}
		if cmd.key != "" {
			seen[cmd.key] = i
		}
		if kept, ok := b.stored[cmd.key]; ok && cmd.key != "" {
			b.replay(cmd, kept)
			continue
		}
		cmd.op, cmd.refusal = b.op(i, cmd)
	}
}

// sameAs answers a command whose uuid an earlier command of the batch
// has: the same command again gets its result, another a refusal.
func (b *batchRun) sameAs(cmd, first *command) {
	if cmd.fingerprint != first.fingerprint {
		cmd.refusal = models.ErrIdempotencyKeyReused()
		return
	}
	cmd.result = &commandResult{UUID: cmd.uuid} // filled in once the first has run
}

// replay gives cmd the result kept under its uuid, or a refusal when the
// uuid was applied with other args. A create replayed maps its temp id to
// the id of what it made.
func (b *batchRun) replay(cmd *command, kept models.StoredAnswer) {
	if kept.Fingerprint != cmd.fingerprint {
		cmd.refusal = models.ErrIdempotencyKeyReused()
		return
	}
	r := &commandResult{UUID: cmd.uuid, Status: kept.Answer.Status}
	switch {
	case kept.Answer.ContentType == refusalContentType:
		if json.Unmarshal(kept.Answer.Body, r) != nil {
			r.Error = kept.Answer.Body
		}
		r.UUID = cmd.uuid
	case len(kept.Answer.Body) > 0:
		r.Body = kept.Answer.Body
	}
	cmd.result = r
	if temp := cmd.tempID; temp != nil && isCreate(models.CommandType(cmd.typ)) && succeeded(cmd) {
		var made struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(r.Body, &made) == nil && made.ID != "" {
			b.tempIDs[*temp], b.used[*temp] = made.ID, true
		}
	}
}

// refusalContentType marks the kept result of a refused command: the
// whole result (its problem, and for a stale version the object as it
// was), so that a resend gets it as it was first answered.
const refusalContentType = "application/vnd.taskflow.command-result+json"

// op parses command i into its op, or the refusal of its request: the
// command's own members at fault (type, uuid, temp_id, args) and those
// of its args, together in one 422; else, as for the request, an id that
// cannot be an object's is a 404 before the args are looked at.
func (b *batchRun) op(i int, cmd *command) (*models.BatchOp, error) {
	typ := models.CommandType(cmd.typ)
	problems := append(slices.Clone(cmd.wrongType), b.commandProblems(i, cmd)...)
	args, err := b.resolve(i, cmd.args)
	var argProblems *models.Error
	switch {
	case err != nil && !asInvalid(err, &argProblems):
		return nil, err
	case err != nil:
		problems = append(problems, argProblems.Fields...)
	}
	if !slices.Contains(models.CommandTypes, typ) || args == nil {
		return nil, models.Invalid(problems...)
	}
	op := &models.BatchOp{Type: typ, Keyed: &models.Keyed{Key: cmd.key, Fingerprint: cmd.fingerprint}}
	if err := b.fill(op, args); err != nil {
		if !asInvalid(err, &argProblems) {
			if len(problems) > 0 {
				return nil, models.Invalid(problems...)
			}
			return nil, err
		}
		problems = append(problems, argProblems.Fields...)
	}
	if len(problems) > 0 {
		return nil, models.Invalid(firstPerField(problems)...)
	}
	if isCreate(typ) {
		b.made(op, cmd)
	}
	return op, nil
}

// firstPerField keeps the first problem of each field: a temp id made
// too late is the fault of its member, not also that it is no UUID.
func firstPerField(problems []models.FieldError) []models.FieldError {
	named := map[string]bool{}
	kept := problems[:0]
	for _, p := range problems {
		if !named[p.Field] {
			named[p.Field] = true
			kept = append(kept, p)
		}
	}
	return kept
}

func asInvalid(err error, target **models.Error) bool {
	e, ok := err.(*models.Error)
	if ok && e.Code == models.CodeInvalid && len(e.Fields) > 0 {
		*target = e
		return true
	}
	return false
}

// commandProblems are the faults of a command's own members: an unknown
// type, an invalid uuid, a temp id that is not a create's or not one of
// 1 to 64 characters or made by an earlier command already.
func (b *batchRun) commandProblems(i int, cmd *command) []models.FieldError {
	var problems []models.FieldError
	wrong := func(field string) bool {
		return slices.ContainsFunc(cmd.wrongType, func(p models.FieldError) bool { return p.Field == field })
	}
	typ := models.CommandType(cmd.typ)
	if !slices.Contains(models.CommandTypes, typ) && !wrong("type") {
		problems = append(problems, models.FieldError{Field: "type",
			Message: "must be one of task.create, task.update, task.move, task.delete, tag.create, tag.update, tag.delete, " +
				"project.create, project.update, project.move, project.delete"})
	}
	if cmd.key == "" && !wrong("uuid") {
		problems = append(problems, models.FieldError{Field: "uuid",
			Message: "must be 1 to " + strconv.Itoa(models.MaxCommandUUIDLength) + " visible ASCII characters"})
	}
	if temp := cmd.tempID; temp != nil {
		switch {
		case !isCreate(typ) && slices.Contains(models.CommandTypes, typ):
			problems = append(problems, models.FieldError{Field: "temp_id", Message: "names what a create makes: only a create may have one"})
		case !validTempID(*temp):
			problems = append(problems, models.FieldError{Field: "temp_id", Message: "must be 1 to 64 characters, none of them NUL"})
		case b.madeBy[*temp] != i:
			problems = append(problems, models.FieldError{Field: "temp_id", Message: "names the object of an earlier command of the batch"})
		}
	}
	return problems
}

// made gives a create's op the id of what it will make (see createdID)
// and maps its temp id to it.
func (b *batchRun) made(op *models.BatchOp, cmd *command) {
	op.Keyed.NewID = createdID(b.userID, cmd)
	if temp := cmd.tempID; temp != nil {
		op.Keyed.TempID = *temp
		b.tempIDs[*temp] = op.Keyed.NewID
		b.used[*temp] = true
	}
}

// createdIDSpace is the namespace of the ids batches' creates make.
var createdIDSpace = uuid.MustParse("6f1e0c8a-3b52-4d7e-9a41-2c5b8e7d9f30")

// createdID is the id a batch's create gives what it makes: a hash of
// the user, the command's uuid and what it asks (a version 8 UUID). Two
// copies of one batch that run at once, such as a resend racing its
// original, thus make the same ids: the commands after a create, which
// name what it makes, act on the same object in both, whichever copy
// made it; with ids drawn at random, the copy whose create lost the race
// would send them to an object that does not exist.
func createdID(userID string, cmd *command) string {
	data := []byte(userID + "\x00" + cmd.key + "\x00" + cmd.fingerprint)
	return uuid.NewHash(sha256.New(), createdIDSpace, data, 8).String()
}

// resolve replaces in args every temporary id known by its real id; one
// made by this command or a later one is refused, naming the member.
// Args that are not an object are refused; absent, they are empty.
func (b *batchRun) resolve(i int, raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	args := map[string]json.RawMessage{}
	if bytes.TrimSpace(raw)[0] != '{' || json.Unmarshal(raw, &args) != nil {
		return nil, models.Invalid(models.FieldError{Field: "args", Message: "must be an object: the body of the command's request"})
	}
	var problems []models.FieldError
	swap := func(member, s string) string {
		if by, ok := b.madeBy[s]; ok && by >= i {
			problems = append(problems, models.FieldError{Field: member, Message: "is a temp id made by this or a later command"})
			return s
		}
		if id, ok := b.tempIDs[s]; ok {
			b.used[s] = true
			return id
		}
		return s
	}
	for _, member := range idMembers {
		var s string
		if json.Unmarshal(args[member], &s) == nil && s != "" {
			args[member], _ = json.Marshal(swap(member, s))
		}
	}
	var tagIDs []string
	if json.Unmarshal(args["tag_ids"], &tagIDs) == nil && tagIDs != nil {
		for j, s := range tagIDs {
			tagIDs[j] = swap("tag_ids["+strconv.Itoa(j)+"]", s)
		}
		args["tag_ids"], _ = json.Marshal(tagIDs)
	}
	resolved, _ := json.Marshal(args)
	if len(problems) > 0 {
		return resolved, models.Invalid(problems...)
	}
	return resolved, nil
}

// fill parses args into op, as the matching request's body.
func (b *batchRun) fill(op *models.BatchOp, args []byte) error {
	if isCreate(op.Type) {
		setShape(op.Keyed, created("", false))
		return b.fillCreate(op, args)
	}
	target, problems, err := targetOf(op.Type, args)
	if err != nil {
		return err
	}
	op.ID, op.Cond = target.id, target.cond
	shape := changed(false)
	val := b.deps.Validate
	switch op.Type {
	case models.CommandTaskUpdate:
		var body taskPatchBody
		err = decodeArgs(args, &body, func() (e error) { op.TaskPatch, e = body.patch(val); return e })
	case models.CommandTaskMove:
		var body moveBody
		err = decodeArgs(args, &body, func() (e error) { op.TaskMove, e = body.move(val); return e })
	case models.CommandTagUpdate:
		var body tagPatchBody
		err = decodeArgs(args, &body, func() (e error) { op.TagPatch, e = body.patch(val); return e })
	case models.CommandProjectUpdate:
		var body projectPatchBody
		err = decodeArgs(args, &body, func() (e error) { op.ProjectPatch, e = body.patch(val); return e })
	case models.CommandProjectMove:
		var body projectMoveBody
		err = decodeArgs(args, &body, func() error {
			op.AfterSet, op.AfterID = body.AfterID != nil || body.sentNull("after_id"), lowerPtr(body.AfterID)
			return validate(val, &body)
		})
	default: // the deletes
		shape = deleted()
	}
	setShape(op.Keyed, shape)
	return joinProblems(err, problems)
}

// joinProblems adds problems, the faults of a command's target, to err,
// its body's refusal.
func joinProblems(err error, problems []models.FieldError) error {
	var invalid *models.Error
	switch {
	case len(problems) == 0:
		return err
	case err == nil:
		return models.Invalid(problems...)
	case asInvalid(err, &invalid):
		return models.Invalid(append(problems, invalid.Fields...)...)
	}
	return err
}

func (b *batchRun) fillCreate(op *models.BatchOp, args []byte) error {
	val := b.deps.Validate
	switch op.Type {
	case models.CommandTaskCreate:
		var body taskBody
		return decodeArgs(args, &body, func() (e error) { op.Task, e = body.input(val); return e })
	case models.CommandTagCreate:
		var body tagBody
		return decodeArgs(args, &body, func() (e error) { op.Tag, e = body.input(val); return e })
	default:
		var body projectBody
		return decodeArgs(args, &body, func() (e error) { op.Project, e = body.input(val); return e })
	}
}

func setShape(k *models.Keyed, shape models.Keyed) {
	k.Status, k.ContentType, k.Body = shape.Status, shape.ContentType, shape.Body
}

// commandTarget is what the args of a command that is not a create name:
// the object (id) and, optionally, its version (as If-Match).
type commandTarget struct {
	id   string
	cond *models.Precondition
}

// targetOf reads the target of a command of type typ from its args. An
// id that cannot be one of the user's objects is a 404, as in a request's
// path; a missing id, a bad version, or a version sent to a tag (which
// has none) are problems of the args.
func targetOf(typ models.CommandType, args []byte) (commandTarget, []models.FieldError, error) {
	var members map[string]json.RawMessage
	_ = json.Unmarshal(args, &members)
	var target commandTarget
	var problems []models.FieldError
	raw, sent := memberNamed(members, "id")
	var id string
	switch {
	case !sent || string(raw) == "null":
		problems = append(problems, models.FieldError{Field: "id", Message: "is required: the id of the object the command acts on"})
	case json.Unmarshal(raw, &id) != nil:
		problems = append(problems, models.FieldError{Field: "id", Message: "must be a string"})
	default:
		canonical, ok := canonicalUUID(id)
		if !ok {
			return target, nil, models.Errorf(models.CodeNotFound, "no such object: the id is not one of yours")
		}
		target.id = canonical
	}
	if version, sent := memberNamed(members, "version"); sent && string(version) != "null" {
		v, err := strconv.ParseInt(string(version), 10, 64)
		switch {
		case typ == models.CommandTagUpdate || typ == models.CommandTagDelete:
			problems = append(problems, models.FieldError{Field: "version", Message: "tags have no version: leave it out"})
		case err != nil || v < 1:
			problems = append(problems, models.FieldError{Field: "version", Message: "must be a whole number from 1, as the object's version"})
		default:
			target.cond = &models.Precondition{Versions: []int64{v}}
		}
	}
	return target, problems, nil
}

// decodeArgs decodes args into body (a request body type) and runs parse,
// which validates it as the request's handler does.
func decodeArgs(args []byte, body memberCollector, parse func() error) error {
	members, err := decodeMembers(args, reflect.ValueOf(body).Elem())
	if err != nil {
		return err
	}
	body.collect(members)
	return parse()
}

// run runs the ops, then keeps the refusals' results, and gives every
// command that another request got to first (a copy of this batch
// running beside it) the result that request recorded: both copies then
// answer alike.
func (b *batchRun) run(c *fiber.Ctx) error {
	var ops []models.BatchOp
	var at []*command
	for _, cmd := range b.commands {
		if cmd.op != nil {
			ops, at = append(ops, *cmd.op), append(at, cmd)
		}
	}
	outcomes, err := b.deps.Store.Run(c.UserContext(), b.userID, ops)
	if err != nil {
		return err
	}
	var inflight []string
	for j, o := range outcomes {
		cmd := at[j]
		switch {
		case o.Err == nil:
			cmd.result = &commandResult{UUID: cmd.uuid, Status: ops[j].Keyed.Status, Body: o.Body}
		case models.ErrorCode(o.Err) == models.CodeIdempotencyKeyInFlight:
			inflight = append(inflight, cmd.key)
		default:
			cmd.refusal = o.Err
		}
	}
	save := b.refuse(c)
	kept, err := b.deps.Store.Finish(c.UserContext(), b.userID, save, inflight)
	if err != nil {
		return err
	}
	b.takeKept(c, kept)
	b.fillRepeats()
	return nil
}

// refuse gives each refused command its result, and returns those to
// keep: every one but a 5xx (which a resend runs again) and a reused uuid
// (whose key holds another command's result).
func (b *batchRun) refuse(c *fiber.Ctx) []models.StoredAnswer {
	var save []models.StoredAnswer
	for _, cmd := range b.commands {
		if cmd.refusal == nil || cmd.result != nil {
			continue
		}
		cmd.result = b.refused(c, cmd)
		if cmd.key != "" && cmd.result.Status < 500 && models.ErrorCode(cmd.refusal) != models.CodeIdempotencyKeyReused {
			kept, _ := json.Marshal(cmd.result)
			save = append(save, models.StoredAnswer{Key: cmd.key, Fingerprint: cmd.fingerprint,
				Answer: models.Answer{Status: cmd.result.Status, ContentType: refusalContentType, Body: kept}})
		}
	}
	return save
}

// takeKept gives each command whose key another request recorded first
// that request's result; a command left in flight is told to retry.
func (b *batchRun) takeKept(c *fiber.Ctx, kept map[string]models.StoredAnswer) {
	for _, cmd := range b.commands {
		if cmd.key == "" {
			continue
		}
		if a, ok := kept[cmd.key]; ok {
			cmd.refusal, cmd.result = nil, nil
			b.replay(cmd, a)
			if cmd.refusal != nil {
				cmd.result = b.refused(c, cmd)
			}
			continue
		}
		if cmd.op != nil && cmd.result == nil {
			cmd.refusal = models.ErrIdempotencyKeyInFlight()
			cmd.result = b.refused(c, cmd)
		}
	}
}

// refused is the result of a refused command: the problem document its
// request would get, and for a stale version the object as it is now.
func (b *batchRun) refused(c *fiber.Ctx, cmd *command) *commandResult {
	status, problem := b.deps.Problem(c, cmd.refusal)
	r := &commandResult{UUID: cmd.uuid, Status: status, Error: problem}
	if e, ok := cmd.refusal.(*models.Error); ok && status == http.StatusPreconditionFailed && len(e.Current) > 0 {
		r.Body = e.Current
	}
	return r
}

// fillRepeats gives each repeat of a uuid within the batch the result of
// its first command.
func (b *batchRun) fillRepeats() {
	first := map[string]*commandResult{}
	for _, cmd := range b.commands {
		if cmd.key == "" || cmd.result == nil {
			continue
		}
		if r, ok := first[cmd.key]; ok && cmd.result.Status == 0 {
			*cmd.result = *r
			continue
		}
		if _, ok := first[cmd.key]; !ok {
			first[cmd.key] = cmd.result
		}
	}
}

// answer is the batch's answer: every command's result, in order, and the
// real id of every temporary id the batch used or made.
func (b *batchRun) answer() []byte {
	results := make([]commandResult, len(b.commands))
	for i, cmd := range b.commands {
		results[i] = *cmd.result
	}
	temp := map[string]string{}
	for t := range b.used {
		if by, made := b.madeBy[t]; made && !succeeded(b.commands[by]) {
			continue
		}
		temp[t] = b.tempIDs[t]
	}
	body, _ := json.Marshal(struct {
		Results []commandResult   `json:"results"`
		TempIDs map[string]string `json:"temp_ids"`
	}{results, temp})
	return body
}

func succeeded(cmd *command) bool {
	return cmd.result != nil && cmd.result.Status >= 200 && cmd.result.Status < 300
}
