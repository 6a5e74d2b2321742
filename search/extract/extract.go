// Package extract turns uploaded files (.txt, .md, .html, .docx, .pdf, .ofd)
// into plain text for the knowledge base. It is defensive: every input is
// size-limited, archives are checked for zip bombs before anything is
// inflated, and encrypted or corrupt files are refused with a typed error.
// Extraction has no side effects (nothing is written anywhere), so a refused
// file leaves no trace.
package extract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Document is the text extracted from a file.
type Document struct {
	Name   string `json:"name"`
	Format string `json:"format"` // txt, md, html, docx, pdf, ofd
	Title  string `json:"title"`  // best guess; meta.Parse refines it
	Text   string `json:"text"`
}

// Refusal reasons. Errors returned by Extract wrap one of these; test with
// errors.Is.
var (
	ErrTooLarge    = errors.New("file too large")
	ErrZipBomb     = errors.New("archive expands too much (possible zip bomb)")
	ErrEncrypted   = errors.New("file is encrypted")
	ErrCorrupt     = errors.New("file is corrupt or truncated")
	ErrUnsupported = errors.New("unsupported file type")
	ErrEmpty       = errors.New("no text found")
)

// Limits bound the resources one extraction may use.
type Limits struct {
	MaxFileSize     int64 // bytes of the input file
	MaxUncompressed int64 // total bytes inflated from an archive
	MaxRatio        int64 // max uncompressed/compressed ratio per archive entry
	MaxEntries      int   // max entries in an archive
	MaxTextSize     int   // bytes of extracted text
}

// DefaultLimits suit policy documents: 50 MB files, 200 MB inflated.
var DefaultLimits = Limits{
	MaxFileSize:     50 << 20,
	MaxUncompressed: 200 << 20,
	MaxRatio:        200,
	MaxEntries:      5000,
	MaxTextSize:     20 << 20,
}

// Extract reads a file of the given size and returns its text, using
// DefaultLimits. The format is chosen by the file extension of name.
func Extract(name string, r io.Reader, size int64) (*Document, error) {
	return DefaultLimits.Extract(name, r, size)
}

// Formats lists the supported extensions.
func Formats() []string { return []string{"txt", "md", "html", "htm", "docx", "pdf", "ofd"} }

// Extract is Extract with these limits.
func (l Limits) Extract(name string, r io.Reader, size int64) (doc *Document, err error) {
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(name)), ".")
	if size > l.MaxFileSize {
		return nil, fmt.Errorf("%s: %w (%d bytes, limit %d)", name, ErrTooLarge, size, l.MaxFileSize)
	}
	// never trust size: read at most MaxFileSize+1 bytes.
	data, err := io.ReadAll(io.LimitReader(r, l.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", name, err)
	}
	if int64(len(data)) > l.MaxFileSize {
		return nil, fmt.Errorf("%s: %w (limit %d)", name, ErrTooLarge, l.MaxFileSize)
	}
	defer func() {
		// third-party parsers may panic on hostile input.
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("%s: %w: %v", name, ErrCorrupt, p)
		}
	}()
	doc = &Document{Name: name, Format: ext}
	switch ext {
	case "txt", "text":
		doc.Text, err = decodeText(data)
	case "md", "markdown":
		doc.Text, err = decodeText(data)
		if err == nil {
			doc.Title = markdownTitle(doc.Text)
			doc.Text = cleanMarkdown(doc.Text)
		}
	case "html", "htm":
		doc.Title, doc.Text, err = htmlText(data)
	case "docx":
		doc.Text, err = l.docxText(data)
	case "pdf":
		doc.Text, err = l.pdfText(data)
	case "ofd":
		doc.Text, err = l.ofdText(data)
	default:
		return nil, fmt.Errorf("%s: %w %q", name, ErrUnsupported, ext)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	doc.Text = normalizeSpace(doc.Text)
	if len(doc.Text) > l.MaxTextSize {
		return nil, fmt.Errorf("%s: %w (text over %d bytes)", name, ErrTooLarge, l.MaxTextSize)
	}
	if strings.TrimSpace(doc.Text) == "" {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if doc.Title == "" {
		doc.Title = firstLine(doc.Text)
	}
	return doc, nil
}

// decodeText accepts UTF-8 (with or without BOM), UTF-16 with BOM and GB18030.
func decodeText(b []byte) (string, error) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return decodeUTF16(b)
	}
	if utf8.Valid(b) {
		if bytes.IndexByte(b, 0) >= 0 {
			return "", fmt.Errorf("%w: binary data in a text file", ErrCorrupt)
		}
		return string(b), nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(out) || bytes.IndexByte(b, 0) >= 0 {
		return "", fmt.Errorf("%w: not UTF-8 or GB18030 text", ErrCorrupt)
	}
	return string(out), nil
}

func decodeUTF16(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: odd UTF-16 length", ErrCorrupt)
	}
	le := b[0] == 0xFF
	b = b[2:]
	u := make([]uint16, len(b)/2)
	for i := range u {
		if le {
			u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		} else {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
	}
	var sb strings.Builder
	for i := 0; i < len(u); i++ {
		r := rune(u[i])
		if r >= 0xD800 && r < 0xDC00 && i+1 < len(u) {
			r = (r-0xD800)<<10 | (rune(u[i+1]) - 0xDC00) + 0x10000
			i++
		}
		sb.WriteRune(r)
	}
	return sb.String(), nil
}

func markdownTitle(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "# ") {
			t := strings.TrimSpace(strings.TrimPrefix(l, "# "))
			if i := strings.Index(t, "<!--"); i >= 0 {
				t = strings.TrimSpace(t[:i])
			}
			return t
		}
	}
	return ""
}

// cleanMarkdown drops front matter and HTML comments; headings keep their
// text so 第一章 stays searchable.
func cleanMarkdown(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.HasPrefix(s, "---\n") {
		if i := strings.Index(s[4:], "\n---"); i >= 0 {
			s = s[4+i+4:]
		}
	}
	for {
		i := strings.Index(s, "<!--")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "-->")
		if j < 0 {
			s = s[:i]
			break
		}
		s = s[:i] + s[i+j+3:]
	}
	return s
}

func normalizeSpace(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\u3000")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimLeft(l, "# "))
		if l != "" {
			if r := []rune(l); len(r) > 80 {
				l = string(r[:80])
			}
			return l
		}
	}
	return ""
}
