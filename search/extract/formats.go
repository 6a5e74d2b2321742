package extract

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ledongthuc/pdf"
	"golang.org/x/net/html"
)

// ---- zip (docx, ofd) ----

// safeZip opens an archive after checking the central directory against
// the limits: entry count, declared total size and per-entry ratio. Reads
// are limited again while inflating, since declared sizes can lie.
type safeZip struct {
	zr    *zip.Reader
	l     Limits
	total int64
}

func (l Limits) openZip(data []byte) (*safeZip, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(zr.File) > l.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrZipBomb, len(zr.File))
	}
	var total uint64
	for _, f := range zr.File {
		if f.Flags&0x1 != 0 {
			return nil, fmt.Errorf("%w: encrypted zip entry %s", ErrEncrypted, f.Name)
		}
		total += f.UncompressedSize64
		if total > uint64(l.MaxUncompressed) {
			return nil, fmt.Errorf("%w: declared %d bytes", ErrZipBomb, total)
		}
		if f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > uint64(l.MaxRatio) && f.UncompressedSize64 > 1<<20 {
			return nil, fmt.Errorf("%w: entry %s ratio %d", ErrZipBomb, f.Name, f.UncompressedSize64/f.CompressedSize64)
		}
	}
	return &safeZip{zr: zr, l: l}, nil
}

func (z *safeZip) find(name string) *zip.File {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	for _, f := range z.zr.File {
		if strings.EqualFold(strings.TrimPrefix(path.Clean("/"+f.Name), "/"), name) {
			return f
		}
	}
	return nil
}

func (z *safeZip) read(name string) ([]byte, error) {
	f := z.find(name)
	if f == nil {
		return nil, fmt.Errorf("%w: missing %s", ErrCorrupt, name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	defer rc.Close()
	remain := z.l.MaxUncompressed - z.total
	limit := remain
	if byRatio := int64(f.CompressedSize64)*z.l.MaxRatio + 1<<20; byRatio < limit {
		limit = byRatio
	}
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s inflates past its limit", ErrZipBomb, name)
	}
	z.total += int64(len(b))
	return b, nil
}

// ---- docx ----

func (l Limits) docxText(data []byte) (string, error) {
	if bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}) {
		// OLE compound file: a password-protected docx or a legacy .doc.
		return "", fmt.Errorf("%w: OLE container (password-protected or legacy .doc)", ErrEncrypted)
	}
	z, err := l.openZip(data)
	if err != nil {
		return "", err
	}
	b, err := z.read("word/document.xml")
	if err != nil {
		return "", err
	}
	return wordXMLText(b)
}

// wordXMLText collects w:t runs, with paragraph breaks at w:p and tabs/breaks.
func wordXMLText(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%w: document.xml: %v", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				inText = true
			case "tab":
				sb.WriteByte('\t')
			case "br", "cr":
				sb.WriteByte('\n')
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				sb.WriteByte('\n')
			}
		case xml.CharData:
			if inText {
				sb.Write(t)
			}
		}
	}
	return sb.String(), nil
}

// ---- ofd (GB/T 33190) ----

func (l Limits) ofdText(data []byte) (string, error) {
	z, err := l.openZip(data)
	if err != nil {
		return "", err
	}
	root, err := z.read("OFD.xml")
	if err != nil {
		return "", err
	}
	var ofd struct {
		Bodies []struct {
			DocRoot string `xml:"DocRoot"`
		} `xml:"DocBody"`
	}
	if err := xml.Unmarshal(root, &ofd); err != nil {
		return "", fmt.Errorf("%w: OFD.xml: %v", ErrCorrupt, err)
	}
	if len(ofd.Bodies) == 0 || ofd.Bodies[0].DocRoot == "" {
		return "", fmt.Errorf("%w: OFD.xml has no DocRoot", ErrCorrupt)
	}
	var sb strings.Builder
	for _, body := range ofd.Bodies {
		docPath := strings.TrimPrefix(body.DocRoot, "/")
		if z.find(docPath) == nil {
			return "", fmt.Errorf("%w: missing %s", ErrCorrupt, docPath)
		}
		docXML, err := z.read(docPath)
		if err != nil {
			return "", err
		}
		var doc struct {
			Encrypt []struct{} `xml:"Encryptions"`
			Pages   []struct {
				BaseLoc string `xml:"BaseLoc,attr"`
			} `xml:"Pages>Page"`
		}
		if err := xml.Unmarshal(docXML, &doc); err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrCorrupt, docPath, err)
		}
		if z.find("Encryptions.xml") != nil || z.find(path.Join(path.Dir(docPath), "Encryptions.xml")) != nil {
			return "", fmt.Errorf("%w: OFD encryption declared", ErrEncrypted)
		}
		for _, p := range doc.Pages {
			loc := p.BaseLoc
			if !strings.HasPrefix(loc, "/") {
				loc = path.Join(path.Dir(docPath), loc)
			}
			if strings.HasSuffix(loc, "/") || !strings.HasSuffix(strings.ToLower(loc), ".xml") {
				loc = path.Join(loc, "Content.xml")
			}
			pb, err := z.read(loc)
			if err != nil {
				return "", err
			}
			if err := ofdPageText(pb, &sb); err != nil {
				return "", fmt.Errorf("%s: %w", loc, err)
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String(), nil
}

// ofdPageText appends the TextCode contents of one page; a TextObject whose
// baseline moves down starts a new line.
func ofdPageText(b []byte, sb *strings.Builder) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	inCode := false
	lastY := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "TextObject" {
				y := ""
				for _, a := range t.Attr {
					if a.Name.Local == "Boundary" {
						if f := strings.Fields(a.Value); len(f) >= 2 {
							y = f[1]
						}
					}
				}
				if lastY != "" && y != lastY {
					sb.WriteByte('\n')
				}
				lastY = y
			}
			if t.Name.Local == "TextCode" {
				inCode = true
			}
		case xml.EndElement:
			if t.Name.Local == "TextCode" {
				inCode = false
			}
		case xml.CharData:
			if inCode {
				sb.Write(t)
			}
		}
	}
}

// ---- pdf ----

func (l Limits) pdfText(data []byte) (string, error) {
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || strings.Contains(err.Error(), "encrypt") {
			return "", fmt.Errorf("%w: %v", ErrEncrypted, err)
		}
		return "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var sb strings.Builder
	n := r.NumPage()
	if n > 5000 {
		return "", fmt.Errorf("%w: %d pages", ErrTooLarge, n)
	}
	for i := 1; i <= n; i++ {
		p := r.Page(i)
		if p.V.IsNull() {
			continue
		}
		rows, err := p.GetTextByRow()
		if err != nil {
			return "", fmt.Errorf("%w: page %d: %v", ErrCorrupt, i, err)
		}
		for _, row := range rows {
			for _, w := range row.Content {
				sb.WriteString(w.S)
			}
			sb.WriteByte('\n')
			if sb.Len() > l.MaxTextSize {
				return "", fmt.Errorf("%w: text over %d bytes", ErrTooLarge, l.MaxTextSize)
			}
		}
		sb.WriteByte('\n')
	}
	if strings.TrimSpace(sb.String()) == "" {
		return "", fmt.Errorf("%w: the PDF has no text layer (scanned?)", ErrEmpty)
	}
	return sb.String(), nil
}

// ---- html ----

func htmlText(data []byte) (title, text string, err error) {
	s, err := decodeText(data)
	if err != nil {
		return "", "", err
	}
	root, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var sb strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "noscript", "template", "head":
				if n.Data == "head" {
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && c.Data == "title" && c.FirstChild != nil {
							title = strings.TrimSpace(c.FirstChild.Data)
						}
					}
				}
				return
			}
		}
		if n.Type == html.TextNode {
			sb.WriteString(strings.Join(strings.Fields(n.Data), " "))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table", "title":
				sb.WriteByte('\n')
			case "td", "th":
				sb.WriteByte('\t')
			}
		}
	}
	walk(root)
	return title, sb.String(), nil
}
