package database

import "time"

// The row types below are the schema. They live here, not in models, so
// storage details (password hashes, token hashes, version counters, the
// lower-cased tag name) never leave this package.

// userRow is a local account.
type userRow struct {
	ID           string    `gorm:"primaryKey;size:36"`
	Email        string    `gorm:"size:320;not null;uniqueIndex"` // stored trimmed and lower-cased
	Name         *string   `gorm:"size:100"`
	PasswordHash string    `gorm:"not null"`
	CreatedAt    time.Time `gorm:"not null"`
	UpdatedAt    time.Time `gorm:"not null"`
}

func (userRow) TableName() string { return "users" }

// refreshTokenRow stores a refresh token by its SHA-256 only. Tokens of one
// login share a family, so reuse of a spent token can revoke them all. A
// family with a revoked token is revoked as a whole (logout and reuse
// detection revoke every row of it), so issuing from a token checks that
// no token of its family is revoked; the partial index on family_id
// serves that check.
type refreshTokenRow struct {
	ID        string    `gorm:"primaryKey;size:36"`
	UserID    string    `gorm:"size:36;not null;index"`
	User      *userRow  `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
	FamilyID  string    `gorm:"size:36;not null;index;index:idx_refresh_tokens_revoked_family,where:revoked_at IS NOT NULL"`
	TokenHash string    `gorm:"size:64;not null;uniqueIndex"`
	ExpiresAt time.Time `gorm:"not null"`
	// SessionEndsAt is when the family ends, SESSION_MAX_AGE after its
	// login; no token of the family expires later. Null on older rows.
	SessionEndsAt *time.Time
	// SessionStartedAt is when the family's login began, to the second
	// (models.SessionStart): a token cutoff at or after it ends the
	// family. Null on older rows, which count from their created_at.
	SessionStartedAt *time.Time
	UsedAt           *time.Time // set when rotated: presenting it again is reuse
	// ReusedAt is set when the token, spent, got its one sibling (the
	// other tab): presenting it once more is theft.
	ReusedAt  *time.Time
	RevokedAt *time.Time // set by logout or by reuse detection
	CreatedAt time.Time  `gorm:"not null"`
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

// tokenCutoffRow is the instant before which a user's access tokens are
// refused (all of them once the account is deleted). user_id is a local
// account id or an external subject, and outlives a deleted account, so it
// carries no foreign key. changed_at is indexed: every replica polls the
// rows changed lately.
type tokenCutoffRow struct {
	UserID         string    `gorm:"primaryKey;size:255"`
	NotBefore      time.Time `gorm:"not null"`
	AccountDeleted bool      `gorm:"not null;default:false"`
	ChangedAt      time.Time `gorm:"not null;index"`
}

func (tokenCutoffRow) TableName() string { return "token_cutoffs" }

// taskRow is one task. user_id is a local account id or an external
// token's subject, so it carries no foreign key. Priority is stored as
// 0 (low), 1 (medium), 2 (high) so that sorting by it is an index scan.
//
// Each sort of a task list has an index on (user_id, sort key, id): a page
// is then read in order straight from the index and stops at its last row
// (in either direction), where an index without the id tie-breaker needed a
// sort step (the default page measured 15-20% faster on PostgreSQL with it).
// The title sort is by lower(title), so its index is on that expression.
// The same indexes serve the priority filter, the due-date range filters
// and due=none|overdue (a B-tree keeps NULLs, so "due_date IS NULL" is a
// range of the due index too); the updated_at index serves updated_after.
type taskRow struct {
	ID          string     `gorm:"primaryKey;size:36;index:idx_tasks_user_created_id,priority:3;index:idx_tasks_user_due_id,priority:3;index:idx_tasks_user_priority_id,priority:3;index:idx_tasks_user_title_key,priority:3;index:idx_tasks_user_updated_id,priority:3"`
	UserID      string     `gorm:"size:255;not null;index:idx_tasks_user_seq,priority:1;index:idx_tasks_user_created_id,priority:1;index:idx_tasks_user_due_id,priority:1;index:idx_tasks_user_priority_id,priority:1;index:idx_tasks_user_title_key,priority:1;index:idx_tasks_user_updated_id,priority:1"`
	Title       string     `gorm:"size:200;not null;index:idx_tasks_user_title_key,priority:2,expression:lower(title)"`
	Description string     `gorm:"not null;default:''"`
	Completed   bool       `gorm:"not null;default:false"`
	Priority    int16      `gorm:"not null;default:1;index:idx_tasks_user_priority_id,priority:2"`
	DueDate     *time.Time `gorm:"index:idx_tasks_user_due_id,priority:2"`
	CompletedAt *time.Time
	Version     int64     `gorm:"not null;default:1"` // bumped on every change; the ETag
	CreatedAt   time.Time `gorm:"not null;index:idx_tasks_user_created_id,priority:2"`
	UpdatedAt   time.Time `gorm:"not null;index:idx_tasks_user_updated_id,priority:2"`
	// ProjectID (nil: the inbox) and ParentID (nil: the top level) carry
	// no foreign keys, as user_id carries none: the stores check both
	// belong to the user, and delete a project's tasks and a task's
	// subtasks themselves, with an event for each where the contract
	// announces one. Position orders siblings (the tasks of one user with
	// the same project and parent), byte by byte: on PostgreSQL its
	// collation is "C" (see migrateEngine). siblingIndex makes each
	// position unique among its siblings and serves the list's
	// sort=position.
	ProjectID *string `gorm:"size:36"`
	ParentID  *string `gorm:"size:36;index"`
	Position  string  `gorm:"size:64;not null;default:''"`
	// Seq is the id of the task's last change in the user's sequence of
	// events (see eventCounterRow): a sync reads what changed after a
	// cursor by it.
	Seq int64 `gorm:"not null;default:0;index:idx_tasks_user_seq,priority:2"`
}

// siblingIndex keeps positions unique among siblings and orders a list by
// project, parent and position. An expression index, the same on both
// engines: a plain unique index would let NULLs (the inbox, the top
// level) repeat.
const siblingIndex = `CREATE UNIQUE INDEX IF NOT EXISTS idx_tasks_user_siblings_position
	ON tasks (user_id, COALESCE(project_id, ''), COALESCE(parent_id, ''), position)`

// projectRow is one project, a list of tasks. Its counts are read with it,
// never stored. (user_id, position) is unique: two projects never share a
// place in the manual order.
type projectRow struct {
	ID        string    `gorm:"primaryKey;size:36"`
	UserID    string    `gorm:"size:255;not null;uniqueIndex:idx_projects_user_position,priority:1;index:idx_projects_user_seq,priority:1"`
	Name      string    `gorm:"size:100;not null"`
	Color     *string   `gorm:"size:7"`
	Position  string    `gorm:"size:64;not null;uniqueIndex:idx_projects_user_position,priority:2"`
	Archived  bool      `gorm:"not null;default:false"`
	Version   int64     `gorm:"not null;default:1"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
	Seq       int64     `gorm:"not null;default:0;index:idx_projects_user_seq,priority:2"` // as taskRow's
}

func (projectRow) TableName() string { return "projects" }

// tombstoneRow is the deletion of a task, tag or project, kept for the
// syncs that began before it: seq is its place in the user's sequence.
// Tombstones are kept at least 90 days, and until every object of their
// user has changed since (see pruneTombstones); a sync from a cursor
// older than the last one pruned starts over with a full copy
// (eventCounterRow.PrunedThrough).
type tombstoneRow struct {
	UserID    string    `gorm:"primaryKey;size:255"`
	Seq       int64     `gorm:"primaryKey;autoIncrement:false"`
	Kind      string    `gorm:"size:16;not null"` // task, tag or project
	ObjectID  string    `gorm:"size:36;not null"`
	DeletedAt time.Time `gorm:"not null;index"`
}

func (tombstoneRow) TableName() string { return "tombstones" }

// tempIDRow maps a temporary id a batch named to the id of what its
// create made, for the batches of the next 7 days.
type tempIDRow struct {
	UserID    string    `gorm:"primaryKey;size:255"`
	TempID    string    `gorm:"primaryKey;size:64"`
	ObjectID  string    `gorm:"size:36;not null"`
	CreatedAt time.Time `gorm:"not null;index"`
}

func (tempIDRow) TableName() string { return "temp_ids" }

// replayCapsRow is the one row of the caps on what the server keeps
// about one user for replay (models.ReplayCaps), written by every
// migration from the configuration and read by the writes that keep such
// things, in the same statement: no server holds them apart from the
// database.
type replayCapsRow struct {
	ID         int `gorm:"primaryKey;autoIncrement:false"`
	Events     int `gorm:"not null"`
	Answers    int `gorm:"not null"`
	Tombstones int `gorm:"not null"`
}

func (replayCapsRow) TableName() string { return "replay_caps" }

// supersededIndexes were replaced by the indexes above; Migrate drops them
// from databases created before.
var supersededIndexes = []string{"idx_tasks_user_created", "idx_tasks_user_due", "idx_tasks_user_priority", "idx_tasks_user_title"}

func (taskRow) TableName() string { return "tasks" }

// tagRow is one tag. NameKey is the lower-cased name: a unique index on
// (user_id, name_key) makes names unique per user ignoring case, the same
// way on PostgreSQL and SQLite.
type tagRow struct {
	ID        string    `gorm:"primaryKey;size:36"`
	UserID    string    `gorm:"size:255;not null;uniqueIndex:idx_tags_user_name,priority:1;index:idx_tags_user_seq,priority:1"`
	Name      string    `gorm:"size:50;not null"`
	NameKey   string    `gorm:"size:50;not null;uniqueIndex:idx_tags_user_name,priority:2"`
	Color     *string   `gorm:"size:7"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
	Seq       int64     `gorm:"not null;default:0;index:idx_tags_user_seq,priority:2"` // as taskRow's
}

func (tagRow) TableName() string { return "tags" }

// taskTagRow links a task to a tag. Deleting either side deletes the link.
type taskTagRow struct {
	TaskID string   `gorm:"primaryKey;size:36"`
	TagID  string   `gorm:"primaryKey;size:36;index"`
	Task   *taskRow `gorm:"foreignKey:TaskID;constraint:OnDelete:CASCADE"`
	Tag    *tagRow  `gorm:"foreignKey:TagID;constraint:OnDelete:CASCADE"`
}

func (taskTagRow) TableName() string { return "task_tags" }

// idempotencyKeyRow is an Idempotency-Key a user sent with a write, the
// fingerprint (SHA-256 of method, path and body) of the request it
// belongs to, and the answer that request got, replayed byte for byte.
// user_id is a local account id or an external subject, so it carries no
// foreign key; rows are pruned a day after created_at, which is indexed
// for that.
type idempotencyKeyRow struct {
	UserID         string    `gorm:"primaryKey;size:255;index:idx_idempotency_keys_user_created,priority:1"`
	IdempotencyKey string    `gorm:"primaryKey;size:255"`
	Fingerprint    string    `gorm:"size:64;not null"`
	Status         int       `gorm:"not null"`
	ContentType    string    `gorm:"size:255;not null"`
	Location       string    `gorm:"size:2048;not null"`
	ETag           string    `gorm:"column:etag;size:255;not null"`
	Body           []byte    `gorm:"not null"`
	CreatedAt      time.Time `gorm:"not null;index;index:idx_idempotency_keys_user_created,priority:2"`
}

func (idempotencyKeyRow) TableName() string { return "idempotency_keys" }

// schema lists every table, in creation order.
func schema() []any {
	return []any{&userRow{}, &refreshTokenRow{}, &taskRow{}, &tagRow{}, &taskTagRow{}, &schemaStepRow{}, &tokenCutoffRow{},
		&idempotencyKeyRow{}, &eventRow{}, &eventCounterRow{}, &eventTicketRow{}, &projectRow{},
		&tombstoneRow{}, &tempIDRow{}, &replayCapsRow{}, &streamLeaseRow{}}
}
