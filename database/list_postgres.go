package database

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"taskflow/models"
)

// The list's rows, one result for the whole page (pgListQuery): each row's
// first column says what it carries, the rest share the task's columns.
const (
	listRowTask  = 0 // pos, then taskColumns
	listRowTag   = 1 // pos (name order), id, name, color, created_at, task count
	listRowLink  = 2 // task id, tag id
	listRowTotal = 3 // the total, in version's column
)

// Columns of a list row.
const (
	colKind = iota
	colPos
	colID
	colTitle // a tag's name, a link's tag id
	colDescription
	colCompleted
	colPriority
	colDueDate
	colCreatedAt
	colUpdatedAt
	colCompletedAt
	colVersion // a tag's task count, the total
	colProjectID
	colParentID
	colPosition
	listColumns
)

// pgListQuery is the list's one statement. page is the page's rows
// (MATERIALIZED: read once, by the index of its order, each with its
// position); links their tag links; then each distinct tag of the page,
// counted once (a popular tag is not recounted for every task carrying
// it) and ranked in name order; the total is an uncorrelated subquery, so
// an empty page past the end still carries it. The links and tags are
// looked up by = ANY of an array, one index scan each.
//
// It returns rows, not the page's JSON: PostgreSQL building the JSON
// (string concatenation, to_json and replace per string) cost it about
// 1.5 times the work of the same page as rows in pgbench, more than the
// server spends encoding it (models' AppendJSON, about 20 µs a page).
// where is listWhere's clause with $n placeholders ($1 is its user id),
// and limitArg and offsetArg number the page's two parameters.
//
// The limit and offset are sub-selects so that no plan knows their values.
// A prepared statement gets a custom plan (planned again on every
// execution) whenever PostgreSQL estimates one cheaper than its generic
// plan. With a bare OFFSET $n, the first page's custom plan (offset 0)
// looks cheaper than the generic one (which assumes an offset of a tenth
// of the rows), by more than its planning cost as soon as the statistics
// put the index scan's cost a little higher, as an ANALYZE after updates
// does: the plan is the same, but planning it on every execution halved
// the list's throughput (docs/benchmarks.md, "The list's generic plan").
// Unknown to both plans, limit and offset cost the same in each, so the
// generic plan, planned once per connection, is no longer the dearer one
// on paper.
//
// Positions are numbered after the limit, over the page's rows only (the
// offset plus their row number): numbered over the whole order, as they
// were, the window made PostgreSQL sort every match of a search (ranked
// by its title, an order no index gives) in full, where a page needs a
// bounded sort of its rows. A search matching 9,500 of a user's tasks
// took about half the time this way; a list in an index's order reads
// its rows in order either way.
func pgListQuery(where, order string, limitArg, offsetArg int) string {
	limit := "(SELECT CAST($" + strconv.Itoa(limitArg) + " AS bigint))"
	offset := "(SELECT CAST($" + strconv.Itoa(offsetArg) + " AS bigint))"
	return `WITH page AS MATERIALIZED (SELECT ` + taskColumns + `, ` + offset + ` + row_number() OVER (ORDER BY ` + order + `) AS pos
		FROM (SELECT * FROM tasks WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ` + limit + ` OFFSET ` + offset + `) AS tasks),
	links AS MATERIALIZED (SELECT task_id, tag_id FROM task_tags WHERE task_id = ANY(ARRAY(SELECT id FROM page)))
	SELECT 0, pos, ` + taskColumns + ` FROM page
	UNION ALL SELECT 1, row_number() OVER (ORDER BY tg.name_key, tg.id), tg.id, tg.name, tg.color, NULL, NULL, NULL, tg.created_at, NULL, NULL, ` + tagTaskCount + `, NULL, NULL, NULL
		FROM tags tg WHERE tg.user_id = $1 AND tg.id = ANY(ARRAY(SELECT DISTINCT tag_id FROM links))
	UNION ALL SELECT 2, NULL, task_id, tag_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM links
	UNION ALL SELECT 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM tasks WHERE ` + where + `), NULL, NULL, NULL`
}

// listReader builds a page from pgListQuery's rows, which may come in any
// order: tasks are placed by their position, tags by their rank. Readers
// are pooled with everything they hold (the page's tasks, the strings'
// bytes, the tags' backing array), so a list request allocates next to
// nothing for them: what a request allocates sets how often the collector
// runs, and so how small a heap it can keep at a given cost in CPU.
type listReader struct {
	page   models.TaskPage
	tasks  map[string]int // task id -> index in page.Items
	tags   []rankedTag
	rank   map[string]int // tag id -> index in tags, once sorted
	links  [][2]string    // task id, tag id
	total  bool
	placed int // task rows read
	values rowValues
	// text holds the bytes of every string of the page: the strings
	// point into it (see str), so they are only valid until the reader
	// is reused, and the page never leaves appendListJSON.
	text      []byte
	tagSpans  []int        // per task, where its tags start in tagsOf
	tagsOf    []models.Tag // every task's tags, one after another
	tagCursor []int
	times     []time.Time // what the tasks' optional times point to
}

type rankedTag struct {
	rank int64
	tag  models.Tag
}

var listReaders = sync.Pool{New: func() any {
	return &listReader{tasks: map[string]int{}, rank: map[string]int{}, text: make([]byte, 0, 16<<10)}
}}

// maxPooledText is the largest string buffer a reader goes back to the pool
// with: a rare huge page should not keep its memory for good.
const maxPooledText = 256 << 10

// appendListJSON reads a page from rows and appends it as JSON to dst.
func appendListJSON(dst []byte, rows pgx.Rows, f models.TaskFilter) ([]byte, error) {
	r := listReaders.Get().(*listReader)
	defer r.release()
	r.reset(f)
	if err := r.read(rows); err != nil {
		return dst, err
	}
	return r.page.AppendJSON(dst), nil
}

func (r *listReader) reset(f models.TaskFilter) {
	items := r.page.Items[:0]
	if items == nil {
		items = make([]models.Task, 0, f.Limit) // never nil: an empty page has [], not null
	}
	r.page = models.TaskPage{Items: items, Limit: f.Limit, Offset: f.Offset}
	clear(r.tasks)
	clear(r.rank)
	r.tags, r.links, r.text = r.tags[:0], r.links[:0], r.text[:0]
	r.times = slices.Grow(r.times[:0], 2*f.Limit) // room for every task's two
	r.total, r.placed = false, 0
}

func (r *listReader) release() {
	if cap(r.text) > maxPooledText {
		return
	}
	r.values = rowValues{} // the connection's buffers, not the reader's
	listReaders.Put(r)
}

// str returns b as a string kept in r.text. When text grows, strings made
// before point into its old array, which stays alive while they do.
func (r *listReader) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	start := len(r.text)
	r.text = append(r.text, b...)
	return unsafe.String(&r.text[start], len(b))
}

// read consumes rows into r.page.
func (r *listReader) read(rows pgx.Rows) error {
	defer rows.Close()
	r.values.types = rows.Conn().TypeMap()
	for rows.Next() {
		r.values.fields, r.values.raw = rows.FieldDescriptions(), rows.RawValues()
		if len(r.values.raw) != listColumns {
			return fmt.Errorf("database: a list row has %d columns, not %d", len(r.values.raw), listColumns)
		}
		if err := r.row(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !r.total {
		return fmt.Errorf("database: the list's rows carry no total")
	}
	if r.placed != len(r.page.Items) {
		return fmt.Errorf("database: the list's positions skip a task")
	}
	r.attachTags()
	return nil
}

func (r *listReader) row() error {
	v := &r.values
	kind, err := v.int(colKind)
	if err != nil {
		return err
	}
	switch kind {
	case listRowTask:
		return r.task()
	case listRowTag:
		return r.tag()
	case listRowLink:
		r.links = append(r.links, [2]string{r.str(v.raw[colID]), r.str(v.raw[colTitle])})
		return nil
	case listRowTotal:
		r.total = true
		r.page.Total, err = v.int(colVersion)
		return err
	}
	return fmt.Errorf("database: a list row of unknown kind %d", kind)
}

// task places a task row at its position on the page; positions count
// from the first task of the whole order, 1 up.
func (r *listReader) task() error {
	v := &r.values
	pos, err := v.int(colPos)
	if err != nil {
		return err
	}
	i := int(pos - 1 - r.page.Offset)
	if i < 0 || i >= r.page.Limit {
		return fmt.Errorf("database: a list row at position %d is off the page", pos)
	}
	t := models.Task{ID: r.str(v.raw[colID]), Title: r.str(v.raw[colTitle]), Description: r.str(v.raw[colDescription])}
	var priority int64
	if t.Completed, err = v.bool(colCompleted); err != nil {
		return err
	}
	if priority, err = v.int(colPriority); err != nil {
		return err
	}
	if priority < 0 || int(priority) >= len(priorityNames) {
		return fmt.Errorf("task %s has unknown priority %d", t.ID, priority)
	}
	t.Priority = priorityNames[priority]
	if t.DueDate, err = r.timePtr(colDueDate); err != nil {
		return err
	}
	if t.CreatedAt, err = v.time(colCreatedAt); err != nil {
		return err
	}
	if t.UpdatedAt, err = v.time(colUpdatedAt); err != nil {
		return err
	}
	if t.CompletedAt, err = r.timePtr(colCompletedAt); err != nil {
		return err
	}
	if t.Version, err = v.int(colVersion); err != nil {
		return err
	}
	t.ProjectID, t.ParentID = r.strPtr(colProjectID), r.strPtr(colParentID)
	t.Position = r.str(v.raw[colPosition])
	if _, seen := r.tasks[t.ID]; seen {
		return fmt.Errorf("database: task %s is twice on a list page", t.ID)
	}
	if i >= len(r.page.Items) {
		r.page.Items = slices.Grow(r.page.Items, i+1-len(r.page.Items))[:i+1]
	}
	r.page.Items[i] = t
	r.tasks[t.ID] = i
	r.placed++
	return nil
}

func (r *listReader) tag() error {
	v := &r.values
	var rt rankedTag
	var err error
	if rt.rank, err = v.int(colPos); err != nil {
		return err
	}
	rt.tag = models.Tag{ID: r.str(v.raw[colID]), Name: r.str(v.raw[colTitle])}
	if !v.null(colDescription) {
		color := r.str(v.raw[colDescription])
		rt.tag.Color = &color
	}
	if rt.tag.CreatedAt, err = v.time(colCreatedAt); err != nil {
		return err
	}
	if rt.tag.TaskCount, err = v.int(colVersion); err != nil {
		return err
	}
	r.tags = append(r.tags, rt)
	return nil
}

// attachTags gives each task its tags in name order, all of them slices
// of one array: the links are counted per task, then placed.
func (r *listReader) attachTags() {
	slices.SortFunc(r.tags, func(a, b rankedTag) int { return int(a.rank - b.rank) })
	for i, t := range r.tags {
		r.rank[t.tag.ID] = i
	}
	n := len(r.page.Items)
	r.tagSpans = slices.Grow(r.tagSpans[:0], n+1)[:n+1]
	clear(r.tagSpans)
	placed := 0
	for _, l := range r.links {
		i, mine := r.tasks[l[0]]
		_, ok := r.rank[l[1]]
		if mine && ok {
			r.tagSpans[i+1]++
			placed++
		}
	}
	for i := range n {
		r.tagSpans[i+1] += r.tagSpans[i]
	}
	if r.tagsOf == nil {
		r.tagsOf = make([]models.Tag, 0, 64) // never nil: a task without tags has [], not null
	}
	r.tagsOf = slices.Grow(r.tagsOf[:0], placed)[:placed]
	r.tagCursor = append(r.tagCursor[:0], r.tagSpans[:n]...)
	for _, l := range r.links {
		i, mine := r.tasks[l[0]]
		at, ok := r.rank[l[1]]
		if mine && ok {
			r.tagsOf[r.tagCursor[i]] = r.tags[at].tag
			r.tagCursor[i]++
		}
	}
	for i := range r.page.Items {
		start, end := r.tagSpans[i], r.tagSpans[i+1]
		tags := r.tagsOf[start:end:end]
		slices.SortFunc(tags, func(a, b models.Tag) int { return r.rank[a.ID] - r.rank[b.ID] })
		r.page.Items[i].Tags = tags
	}
}

// rowValues decodes one row's raw values in either format: binary where
// statements are prepared, text where a pooler has them run unprepared
// (pgx asks text results then). Binary values are decoded here, text ones
// through the connection's type map.
type rowValues struct {
	types  *pgtype.Map
	fields []pgconn.FieldDescription
	raw    [][]byte
}

func (v *rowValues) null(i int) bool { return v.raw[i] == nil }

func (v *rowValues) binary(i int) bool { return v.fields[i].Format == pgx.BinaryFormatCode }

func (v *rowValues) int(i int) (int64, error) {
	b := v.raw[i]
	if b == nil {
		return 0, fmt.Errorf("database: list column %d is NULL", i)
	}
	if !v.binary(i) {
		return strconv.ParseInt(string(b), 10, 64)
	}
	switch len(b) {
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("database: list column %d is an integer of %d bytes", i, len(b))
}

func (v *rowValues) bool(i int) (bool, error) {
	b := v.raw[i]
	if len(b) != 1 {
		return false, fmt.Errorf("database: list column %d is not a boolean", i)
	}
	if v.binary(i) {
		return b[0] == 1, nil
	}
	return b[0] == 't', nil
}

// pgEpochMicros is where PostgreSQL's binary timestamps count
// microseconds from, 2000-01-01 UTC, in Unix microseconds.
const pgEpochMicros = 946_684_800_000_000

func (v *rowValues) time(i int) (time.Time, error) {
	b := v.raw[i]
	if v.binary(i) && len(b) == 8 {
		return time.UnixMicro(int64(binary.BigEndian.Uint64(b)) + pgEpochMicros).UTC(), nil
	}
	var t time.Time
	if err := v.types.Scan(pgtype.TimestamptzOID, v.fields[i].Format, b, &t); err != nil {
		return time.Time{}, fmt.Errorf("database: list column %d: %w", i, err)
	}
	return t.UTC(), nil
}

// strPtr reads an optional string column; its pointer points into r's
// page like its strings do.
func (r *listReader) strPtr(i int) *string {
	if r.values.null(i) {
		return nil
	}
	s := r.str(r.values.raw[i])
	return &s
}

// timePtr reads an optional time into r.times. When times grows, pointers
// made before point into its old array, which stays alive while they do.
func (r *listReader) timePtr(i int) (*time.Time, error) {
	if r.values.null(i) {
		return nil, nil
	}
	t, err := r.values.time(i)
	r.times = append(r.times, t)
	return &r.times[len(r.times)-1], err
}
