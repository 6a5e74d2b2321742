// Package extracttest builds small documents of every importable format
// (zip containers, .docx, .ofd, .pdf) for the tests of the extractor and of
// the knowledge base's import, so neither depends on binary fixtures.
package extracttest

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
)

// Zip builds a zip archive of name/content pairs, in order.
func Zip(files ...string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		w, err := zw.Create(files[i])
		if err != nil {
			panic(err)
		}
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// Docx builds a .docx with one paragraph per string; each paragraph is
// split into two runs to exercise run joining.
func Docx(paras ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		r := []rune(p)
		h := len(r) / 2
		fmt.Fprintf(&b, `<w:p><w:r><w:t>%s</w:t></w:r><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, string(r[:h]), string(r[h:]))
	}
	b.WriteString(`</w:body></w:document>`)
	return Zip("[Content_Types].xml", `<Types/>`, "word/document.xml", b.String())
}

// OFD builds a one-page .ofd with one text object per line.
func OFD(lines ...string) []byte {
	var c strings.Builder
	c.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="1">`)
	for i, l := range lines {
		fmt.Fprintf(&c, `<ofd:TextObject ID="%d" Boundary="10 %d 100 5" Font="3" Size="4"><ofd:TextCode X="0" Y="4">%s</ofd:TextCode></ofd:TextObject>`, i+10, 10+i*8, l)
	}
	c.WriteString(`</ofd:Layer></ofd:Content></ofd:Page>`)
	return Zip(
		"OFD.xml", `<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`,
		"Doc_0/Document.xml", `<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData><ofd:MaxUnitID>20</ofd:MaxUnitID></ofd:CommonData><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>`,
		"Doc_0/Pages/Page_0/Content.xml", c.String())
}

// PDFEncrypt is the trailer addition that marks a PDF built by PDF as
// encrypted.
const PDFEncrypt = "/Encrypt 6 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]"

// PDF builds a one-page PDF with a Helvetica text line; extraTrailer is
// added to the trailer dictionary (PDFEncrypt adds an encryption
// dictionary).
func PDF(text, extraTrailer string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.4\n")
	stream := fmt.Sprintf("BT /F1 12 Tf 72 712 Td (%s) Tj ET", text)
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	if extraTrailer != "" {
		obj("<< /Filter /Standard /V 1 /R 2 /O <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /U <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /P -44 >>")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, extraTrailer, xref)
	return b.Bytes()
}

// Encrypted returns a copy of a zip archive with the "encrypted" flag set
// on every local and central header.
func Encrypted(zipData []byte) []byte {
	enc := append([]byte(nil), zipData...)
	for i := 0; i+8 < len(enc); i++ {
		if bytes.Equal(enc[i:i+4], []byte("PK\x03\x04")) {
			enc[i+6] |= 1
		}
		if bytes.Equal(enc[i:i+4], []byte("PK\x01\x02")) {
			enc[i+8] |= 1
		}
	}
	return enc
}
