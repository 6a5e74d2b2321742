package kb

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/search/meta"
	"github.com/yiwang/yiwang/store"
)

// Command types.
const (
	CmdCreate   = "kb.document.create"
	CmdUpdate   = "kb.document.update"
	CmdDelete   = "kb.document.delete"
	CmdLink     = "kb.link.create"
	CmdUnlink   = "kb.link.delete"
	CmdSynonyms = "kb.synonyms.set"
)

// Kinds, statuses and link kinds.
var (
	Kinds     = []string{search.KindPolicy, search.KindCase, search.KindPlan, search.KindStandard}
	Statuses  = []string{meta.StatusCurrent, meta.StatusAmended, meta.StatusRepealed}
	Levels    = []string{"国家", "省", "市", "县"}
	LinkKinds = []string{LinkAmends, LinkRepeals, LinkReplaces}
)

// Link kinds: from 修改/废止/替代 to.
const (
	LinkAmends   = "修改"
	LinkRepeals  = "废止"
	LinkReplaces = "替代"
)

// Limits of stored values.
const (
	MaxText   = 20 << 20 // bytes of document text (the extractor's own limit)
	maxTitle  = 500
	maxField  = 200
	maxTags   = 20
	maxGroups = 5000
)

const schema = `CREATE TABLE kb_document(
	id TEXT PRIMARY KEY,
	kind TEXT NOT NULL,
	title TEXT NOT NULL,
	doc_number TEXT NOT NULL DEFAULT '',
	issuer TEXT NOT NULL DEFAULT '',
	doc_type TEXT NOT NULL DEFAULT '',
	level TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT '',
	written TEXT NOT NULL DEFAULT '',
	published TEXT NOT NULL DEFAULT '',
	tags TEXT NOT NULL DEFAULT '[]',
	text TEXT NOT NULL,
	content_hash TEXT NOT NULL UNIQUE,
	size INTEGER NOT NULL DEFAULT 0,
	source_name TEXT NOT NULL DEFAULT '',
	source_format TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	updated_by TEXT NOT NULL DEFAULT '')`

var migrations = []store.Migration{
	schema,
	`CREATE INDEX kb_document_number ON kb_document(doc_number)`,
	`CREATE INDEX kb_document_updated ON kb_document(updated_at)`,
	`CREATE TABLE kb_link(
		from_id TEXT NOT NULL,
		to_id TEXT NOT NULL,
		kind TEXT NOT NULL,
		note TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL,
		created_by TEXT NOT NULL DEFAULT '',
		PRIMARY KEY(from_id, to_id, kind))`,
	`CREATE INDEX kb_link_to ON kb_link(to_id)`,
	`CREATE TABLE kb_setting(key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
}

// Meta is the editable metadata of a document.
type Meta struct {
	Kind      string   `json:"kind"`
	Title     string   `json:"title"`
	Number    string   `json:"doc_number"`
	Issuer    string   `json:"issuer"`
	DocType   string   `json:"doc_type"`
	Level     string   `json:"level"`
	Status    string   `json:"status"`
	Written   string   `json:"written"`
	Published string   `json:"published"`
	Tags      []string `json:"tags"`
}

// CreateDoc is the payload of kb.document.create (and the body of
// POST /api/v1/kb/documents): metadata left empty is parsed from the text.
type CreateDoc struct {
	Meta
	Text         string `json:"text"`
	SourceName   string `json:"source_name,omitempty"`
	SourceFormat string `json:"source_format,omitempty"`
	Size         int64  `json:"size,omitempty"`
}

// Validate implements httpapi.Validatable.
func (c *CreateDoc) Validate() error {
	var v httpapi.Validator
	if strings.TrimSpace(c.Text) == "" {
		v.Add("text", "is required")
	} else if len(c.Text) > MaxText || !utf8.ValidString(c.Text) {
		v.Add("text", "must be valid UTF-8 of at most 20 MB")
	}
	c.Meta.validate(&v, false)
	return v.Err()
}

func (m *Meta) validate(v *httpapi.Validator, partial bool) {
	if m.Kind != "" || !partial {
		v.OneOf("kind", m.Kind, Kinds...)
	}
	if m.Title != "" {
		v.Text("title", m.Title, 1, maxTitle)
	}
	for f, s := range map[string]string{"doc_number": m.Number, "issuer": m.Issuer, "doc_type": m.DocType} {
		if s != "" {
			v.Text(f, s, 1, maxField)
		}
	}
	if m.Level != "" {
		v.OneOf("level", m.Level, Levels...)
	}
	if m.Status != "" {
		v.OneOf("status", m.Status, Statuses...)
	}
	for f, s := range map[string]string{"written": m.Written, "published": m.Published} {
		if s != "" {
			if _, err := time.Parse("2006-01-02", s); err != nil {
				v.Add(f, "must be a date YYYY-MM-DD")
			}
		}
	}
	if len(m.Tags) > maxTags {
		v.Add("tags", "at most 20 tags")
	}
	for _, t := range m.Tags {
		if utf8.RuneCountInString(strings.TrimSpace(t)) < 1 || utf8.RuneCountInString(t) > 50 {
			v.Add("tags", "each tag must have 1 to 50 characters")
			break
		}
	}
}

// UpdateDoc is the payload of kb.document.update (PATCH body plus id):
// fields left nil keep their value.
type UpdateDoc struct {
	ID        string    `json:"id,omitempty"`
	Kind      *string   `json:"kind,omitempty"`
	Title     *string   `json:"title,omitempty"`
	Number    *string   `json:"doc_number,omitempty"`
	Issuer    *string   `json:"issuer,omitempty"`
	DocType   *string   `json:"doc_type,omitempty"`
	Level     *string   `json:"level,omitempty"`
	Status    *string   `json:"status,omitempty"`
	Written   *string   `json:"written,omitempty"`
	Published *string   `json:"published,omitempty"`
	Tags      *[]string `json:"tags,omitempty"`
	Text      *string   `json:"text,omitempty"`
}

// Validate implements httpapi.Validatable.
func (u *UpdateDoc) Validate() error {
	var v httpapi.Validator
	m := Meta{Kind: deref(u.Kind), Number: deref(u.Number), Issuer: deref(u.Issuer), DocType: deref(u.DocType),
		Level: deref(u.Level), Status: deref(u.Status), Written: deref(u.Written), Published: deref(u.Published)}
	if u.Tags != nil {
		m.Tags = *u.Tags
	}
	m.validate(&v, true)
	if u.Title != nil {
		v.Text("title", *u.Title, 1, maxTitle)
	}
	if u.Text != nil && (strings.TrimSpace(*u.Text) == "" || len(*u.Text) > MaxText || !utf8.ValidString(*u.Text)) {
		v.Add("text", "must be non-empty valid UTF-8 of at most 20 MB")
	}
	return v.Err()
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// LinkInput is the payload of kb.link.create / kb.link.delete.
type LinkInput struct {
	From string `json:"from_id"`
	To   string `json:"to_id"`
	Kind string `json:"kind"`
	Note string `json:"note,omitempty"`
}

// Validate implements httpapi.Validatable.
func (l *LinkInput) Validate() error {
	var v httpapi.Validator
	v.Required("from_id", l.From)
	v.Required("to_id", l.To)
	v.OneOf("kind", l.Kind, LinkKinds...)
	if l.From != "" && l.From == l.To {
		v.Add("to_id", "a document cannot link to itself")
	}
	if len(l.Note) > 1000 {
		v.Add("note", "at most 1000 bytes")
	}
	return v.Err()
}

// SynonymsInput replaces the synonym dictionary: groups, or text in the
// one-group-per-line format.
type SynonymsInput struct {
	Groups [][]string `json:"groups,omitempty"`
	Text   *string    `json:"text,omitempty"`
}

// Validate implements httpapi.Validatable; it also turns Text into Groups.
func (s *SynonymsInput) Validate() error {
	var v httpapi.Validator
	if s.Text != nil {
		if len(*s.Text) > 1<<20 {
			return httpapi.FieldError("text", "at most 1 MB")
		}
		g, err := search.ParseSynonyms(strings.NewReader(*s.Text))
		if err != nil {
			return httpapi.FieldError("text", err.Error())
		}
		s.Groups, s.Text = g, nil
	}
	if len(s.Groups) > maxGroups {
		v.Add("groups", "at most 5000 groups")
	}
	for _, g := range s.Groups {
		if len(g) < 2 || len(g) > 20 {
			v.Add("groups", "every group needs 2 to 20 terms")
			break
		}
		bad := false
		for _, t := range g {
			if n := utf8.RuneCountInString(strings.TrimSpace(t)); n < 1 || n > 50 || strings.TrimSpace(t) != t {
				bad = true
			}
		}
		if bad {
			v.Add("groups", "every term must have 1 to 50 characters without surrounding spaces")
			break
		}
	}
	return v.Err()
}

// Touched is the result of every kb command: the documents whose index
// entries must be refreshed.
type Touched struct {
	ID       string   `json:"id,omitempty"`
	Affected []string `json:"affected,omitempty"`
	Synonyms bool     `json:"synonyms,omitempty"`

	index uint64 // store index of the command (set by the API)
}

// TextHash is the content hash used to detect duplicate imports: SHA-256
// of the text with surrounding white space removed.
func TextHash(text string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(text)))
	return hex.EncodeToString(h[:])
}

func decode(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "bad payload: %v", err)
	}
	if val, ok := v.(httpapi.Validatable); ok {
		return val.Validate()
	}
	return nil
}

func duplicateError(id string) *store.Error {
	return &store.Error{Code: "conflict", Message: "duplicate of document " + id, Fields: map[string]string{"duplicate_of": id}}
}

func (m *Module) applyCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in CreateDoc
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	hash := TextHash(in.Text)
	var dup string
	err := tx.QueryRow(`SELECT id FROM kb_document WHERE content_hash=?`, hash).Scan(&dup)
	if err == nil {
		return nil, duplicateError(dup)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if in.Title == "" {
		return nil, httpapi.FieldError("title", "is required")
	}
	if in.Status == "" {
		in.Status = meta.StatusCurrent
	}
	id := tx.NewID()
	now := httpapi.FormatDBTime(tx.Now())
	tags, _ := json.Marshal(cleanTags(in.Tags))
	_, err = tx.Exec(`INSERT INTO kb_document(id, kind, title, doc_number, issuer, doc_type, level, status, written, published,
		tags, text, content_hash, size, source_name, source_format, created_at, updated_at, created_by, updated_by)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		id, in.Kind, in.Title, in.Number, in.Issuer, in.DocType, in.Level, in.Status, in.Written, in.Published,
		string(tags), in.Text, hash, in.Size, in.SourceName, in.SourceFormat, now, now, cmd.Actor, cmd.Actor)
	if err != nil {
		return nil, err
	}
	return Touched{ID: id, Affected: []string{id}}, nil
}

func cleanTags(tags []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func (m *Module) applyUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in UpdateDoc
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	d, err := readDoc(tx, in.ID)
	if err != nil {
		return nil, err
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&d.Kind, in.Kind)
	set(&d.Title, in.Title)
	set(&d.Number, in.Number)
	set(&d.Issuer, in.Issuer)
	set(&d.DocType, in.DocType)
	set(&d.Level, in.Level)
	set(&d.Status, in.Status)
	set(&d.Written, in.Written)
	set(&d.Published, in.Published)
	if in.Tags != nil {
		d.Tags = cleanTags(*in.Tags)
	}
	hash := TextHash(d.Text)
	if in.Text != nil {
		d.Text = *in.Text
		hash = TextHash(d.Text)
		var dup string
		err := tx.QueryRow(`SELECT id FROM kb_document WHERE content_hash=? AND id<>?`, hash, d.ID).Scan(&dup)
		if err == nil {
			return nil, duplicateError(dup)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	tags, _ := json.Marshal(d.Tags)
	_, err = tx.Exec(`UPDATE kb_document SET kind=?, title=?, doc_number=?, issuer=?, doc_type=?, level=?, status=?, written=?,
		published=?, tags=?, text=?, content_hash=?, updated_at=?, updated_by=? WHERE id=?`,
		d.Kind, d.Title, d.Number, d.Issuer, d.DocType, d.Level, d.Status, d.Written, d.Published, string(tags),
		d.Text, hash, httpapi.FormatDBTime(tx.Now()), cmd.Actor, d.ID)
	if err != nil {
		return nil, err
	}
	return Touched{ID: d.ID, Affected: []string{d.ID}}, nil
}

func (m *Module) applyDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var in struct {
		ID string `json:"id"`
	}
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`DELETE FROM kb_document WHERE id=?`, in.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "document %s not found", in.ID)
	}
	if _, err := tx.Exec(`DELETE FROM kb_link WHERE from_id=? OR to_id=?`, in.ID, in.ID); err != nil {
		return nil, err
	}
	return Touched{ID: in.ID, Affected: []string{in.ID}}, nil
}

// linkStatus is the 时效性 a link gives its target.
var linkStatus = map[string]string{LinkAmends: meta.StatusAmended, LinkRepeals: meta.StatusRepealed, LinkReplaces: meta.StatusRepealed}

func (m *Module) applyLink(tx *store.Tx, cmd *store.Command) (any, error) {
	var in LinkInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	for _, id := range []string{in.From, in.To} {
		if _, err := readDoc(tx, id); err != nil {
			return nil, err
		}
	}
	res, err := tx.Exec(`INSERT INTO kb_link(from_id, to_id, kind, note, created_at, created_by) VALUES(?,?,?,?,?,?)
		ON CONFLICT DO NOTHING`, in.From, in.To, in.Kind, in.Note, httpapi.FormatDBTime(tx.Now()), cmd.Actor)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, store.Errorf("conflict", "link already exists")
	}
	// The target loses force: 修改 → 已修改, 废止/替代 → 已废止 (a repealed
	// document is never brought back to 已修改 by a later amendment link).
	st := linkStatus[in.Kind]
	if _, err := tx.Exec(`UPDATE kb_document SET status=?, updated_at=?, updated_by=? WHERE id=? AND status<>?`,
		st, httpapi.FormatDBTime(tx.Now()), cmd.Actor, in.To, meta.StatusRepealed); err != nil {
		return nil, err
	}
	return Touched{ID: in.To, Affected: []string{in.To}}, nil
}

func (m *Module) applyUnlink(tx *store.Tx, cmd *store.Command) (any, error) {
	var in LinkInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`DELETE FROM kb_link WHERE from_id=? AND to_id=? AND kind=?`, in.From, in.To, in.Kind)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "link not found")
	}
	return Touched{}, nil
}

func (m *Module) applySynonyms(tx *store.Tx, cmd *store.Command) (any, error) {
	var in SynonymsInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if in.Groups == nil {
		in.Groups = [][]string{}
	}
	b, _ := json.Marshal(in.Groups)
	if _, err := tx.Exec(`INSERT INTO kb_setting(key, value) VALUES('synonyms', ?)
		ON CONFLICT(key) DO UPDATE SET value=excluded.value`, string(b)); err != nil {
		return nil, err
	}
	return Touched{Synonyms: true}, nil
}

// querier is what reads need: a store transaction or the read pool.
type querier interface {
	QueryRow(query string, args ...any) *sql.Row
}

const docColumns = `id, kind, title, doc_number, issuer, doc_type, level, status, written, published, tags, text,
	content_hash, size, source_name, source_format, created_at, updated_at`

func scanDoc(row interface{ Scan(...any) error }) (*Document, error) {
	var d Document
	var tags string
	err := row.Scan(&d.ID, &d.Kind, &d.Title, &d.Number, &d.Issuer, &d.DocType, &d.Level, &d.Status, &d.Written,
		&d.Published, &tags, &d.Text, &d.Hash, &d.Size, &d.SourceName, &d.SourceFormat, &d.CreatedAt, &d.UpdatedAt)
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(tags), &d.Tags)
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.Validity, d.Date = d.Status, d.Published
	if d.Date == "" {
		d.Date = d.Written
	}
	return &d, nil
}

var errNoRows = sql.ErrNoRows

func readDoc(q querier, id string) (*Document, error) {
	d, err := scanDoc(q.QueryRow(`SELECT `+docColumns+` FROM kb_document WHERE id=?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "document %s not found", id)
	}
	return d, err
}
