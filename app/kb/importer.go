package kb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/search/extract"
	"github.com/yiwang/yiwang/store"
)

// Import outcomes.
const (
	Imported = "imported"
	Skipped  = "skipped"
	Refused  = "refused"
)

// ImportResult is the outcome of importing one file.
type ImportResult struct {
	Name        string `json:"name"`
	Status      string `json:"status"` // imported, skipped, refused
	ID          string `json:"id,omitempty"`
	Title       string `json:"title,omitempty"`
	Number      string `json:"doc_number,omitempty"`
	Kind        string `json:"kind,omitempty"`
	DuplicateOf string `json:"duplicate_of,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Index is the store index of the import: the document is searchable
	// on this node once GET /api/v1/kb/status reports that watermark.
	Index uint64 `json:"index,omitempty"`
}

// Prepare extracts and parses a file into the create command's payload.
// It writes nothing; a refusal is a *store.Error whose code maps to the
// HTTP status (too_large, unsupported_media_type, invalid) and whose
// message is the reason.
func Prepare(name string, data []byte, kind string, tags []string) (*CreateDoc, error) {
	if kind == "" {
		kind = search.KindPolicy
	}
	if !contains(Kinds, kind) {
		return nil, httpapi.FieldError("kind", "must be one of "+strings.Join(Kinds, ", "))
	}
	ed, err := extract.Extract(name, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		code := httpapi.CodeInvalid
		switch {
		case errors.Is(err, extract.ErrTooLarge):
			code = httpapi.CodeTooLarge
		case errors.Is(err, extract.ErrUnsupported):
			code = httpapi.CodeUnsupportedMedia
		}
		return nil, &store.Error{Code: code, Message: err.Error()}
	}
	in := &CreateDoc{Meta: Meta{Kind: kind, Title: ed.Title, Tags: tags}, Text: ed.Text,
		SourceName: filepath.Base(name), SourceFormat: ed.Format, Size: int64(len(data))}
	fillMeta(in)
	if in.Title == "" {
		in.Title = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return in, nil
}

// Duplicate returns the id of the stored document with the same text.
func (m *Module) Duplicate(ctx context.Context, text string) (string, bool) {
	var id string
	err := m.st.DB().QueryRowContext(ctx, `SELECT id FROM kb_document WHERE content_hash=?`, TextHash(text)).Scan(&id)
	return id, err == nil
}

// importFile handles POST /api/v1/kb/import (multipart/form-data).
func (m *Module) importFile(w http.ResponseWriter, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return &store.Error{Code: httpapi.CodeUnsupportedMedia, Message: "send multipart/form-data with a part named file"}
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return httpapi.Errorf(httpapi.CodeInvalid, "bad multipart body: %v", err)
	}
	var (
		name, kind string
		tags       []string
		data       []byte
		got        bool
	)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bodyError(err)
		}
		switch p.FormName() {
		case "file":
			if got {
				return httpapi.FieldError("file", "send one file per request")
			}
			got = true
			name = p.FileName()
			data, err = io.ReadAll(io.LimitReader(p, MaxUpload+1))
			if err != nil {
				return bodyError(err)
			}
			if len(data) > MaxUpload {
				return &store.Error{Code: httpapi.CodeTooLarge, Message: fmt.Sprintf("%s: %v (limit %d MB)", name, extract.ErrTooLarge, MaxUpload>>20)}
			}
		case "kind", "tags":
			b, err := io.ReadAll(io.LimitReader(p, 4096))
			if err != nil {
				return bodyError(err)
			}
			if p.FormName() == "kind" {
				kind = strings.TrimSpace(string(b))
			} else {
				tags = splitList(string(b))
			}
		default:
			return httpapi.FieldError(p.FormName(), "unknown part")
		}
		p.Close()
	}
	if !got || name == "" {
		return httpapi.FieldError("file", "is required (a part named file with a file name)")
	}
	in, err := Prepare(name, data, kind, tags)
	if err != nil {
		return err
	}
	res := ImportResult{Name: name, Title: in.Title, Number: in.Number, Kind: in.Kind}
	if id, dup := m.Duplicate(r.Context(), in.Text); dup {
		res.Status, res.DuplicateOf = Skipped, id
		return httpapi.JSON(w, http.StatusOK, res)
	}
	t, err := m.apply(r, CmdCreate, in)
	if err != nil {
		if se := store.AsError(err); se != nil && se.Code == httpapi.CodeConflict && se.Fields["duplicate_of"] != "" {
			res.Status, res.DuplicateOf = Skipped, se.Fields["duplicate_of"]
			return httpapi.JSON(w, http.StatusOK, res)
		}
		return err
	}
	res.Status, res.ID, res.Index = Imported, t.ID, t.index
	return httpapi.JSON(w, http.StatusCreated, res)
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &store.Error{Code: httpapi.CodeTooLarge, Message: fmt.Sprintf("upload larger than %d MB", MaxUpload>>20)}
	}
	return httpapi.Errorf(httpapi.CodeInvalid, "bad multipart body: %v", err)
}

// CaseText is a closed yiwang case as the knowledge base keeps it (案例).
type CaseText struct {
	Title string
	Text  string
	Tags  []string
}

// CaseReader reads a closed case the principal may see; it is wired by
// the composition root to the cases module (kb never reads its tables).
type CaseReader func(ctx context.Context, p *httpapi.Principal, id int64) (*CaseText, error)

// keepCase handles POST /api/v1/kb/cases/{id}: a closed case worth
// keeping becomes a 案例 document (skipped when its text is stored).
func (m *Module) keepCase(w http.ResponseWriter, r *http.Request) error {
	if m.opt.Cases == nil {
		return store.Errorf("unavailable", "cases are not available on this node")
	}
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	c, err := m.opt.Cases(r.Context(), httpapi.MustPrincipal(r), id)
	if err != nil {
		return err
	}
	in := &CreateDoc{Meta: Meta{Kind: search.KindCase, Title: c.Title, Tags: c.Tags}, Text: c.Text,
		SourceName: fmt.Sprintf("case:%d", id), SourceFormat: "case"}
	fillMeta(in)
	in.Title = c.Title
	if err := in.Validate(); err != nil {
		return err
	}
	res := ImportResult{Name: in.SourceName, Title: in.Title, Kind: in.Kind}
	if dup, ok := m.Duplicate(r.Context(), in.Text); ok {
		res.Status, res.DuplicateOf = Skipped, dup
		return httpapi.JSON(w, http.StatusOK, res)
	}
	t, err := m.apply(r, CmdCreate, in)
	if err != nil {
		return err
	}
	res.Status, res.ID, res.Index = Imported, t.ID, t.index
	return httpapi.JSON(w, http.StatusCreated, res)
}
