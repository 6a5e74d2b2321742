package extract

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func zipOf(t testing.TB, files map[string]string, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if len(order) == 0 {
		for n := range files {
			order = append(order, n)
		}
	}
	for _, n := range order {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func docx(t testing.TB, paras ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		// split runs in the middle to check run joining
		r := []rune(p)
		h := len(r) / 2
		fmt.Fprintf(&b, `<w:p><w:r><w:t>%s</w:t></w:r><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, string(r[:h]), string(r[h:]))
	}
	b.WriteString(`</w:body></w:document>`)
	return zipOf(t, map[string]string{"[Content_Types].xml": `<Types/>`, "word/document.xml": b.String()})
}

func ofd(t testing.TB, lines ...string) []byte {
	var c strings.Builder
	c.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="http://www.ofdspec.org/2016"><ofd:Content><ofd:Layer ID="1">`)
	for i, l := range lines {
		fmt.Fprintf(&c, `<ofd:TextObject ID="%d" Boundary="10 %d 100 5" Font="3" Size="4"><ofd:TextCode X="0" Y="4">%s</ofd:TextCode></ofd:TextObject>`, i+10, 10+i*8, l)
	}
	c.WriteString(`</ofd:Layer></ofd:Content></ofd:Page>`)
	return zipOf(t, map[string]string{
		"OFD.xml":                        `<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>x</ofd:DocID></ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`,
		"Doc_0/Document.xml":             `<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="http://www.ofdspec.org/2016"><ofd:CommonData><ofd:MaxUnitID>20</ofd:MaxUnitID></ofd:CommonData><ofd:Pages><ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/></ofd:Pages></ofd:Document>`,
		"Doc_0/Pages/Page_0/Content.xml": c.String(),
	})
}

// minimalPDF builds a one-page PDF with a Helvetica text line; extra is
// added to the trailer dictionary.
func minimalPDF(text, extraTrailer string) []byte {
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

func TestFormats(t *testing.T) {
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String("关于做好低保工作的通知\n第一条 内容")
	cases := []struct {
		name, title, want string
		data              []byte
	}{
		{"a.txt", "关于做好低保工作的通知", "第一条 内容", []byte("\xEF\xBB\xBF关于做好低保工作的通知\r\n第一条 内容")},
		{"gbk.txt", "关于做好低保工作的通知", "第一条 内容", []byte(gbk)},
		{"a.md", "中华人民共和国劳动法", "第一条 为了保护", []byte("---\nbookHidden: true\n---\n# 中华人民共和国劳动法\n\n<!-- INFO END -->\n第一条 为了保护劳动者")},
		{"a.html", "网页标题", "正文第一段", []byte(`<html><head><title>网页标题</title><style>p{}</style></head><body><script>var x="不要";</script><p>正文第一段</p><p>第二段</p></body></html>`)},
		{"a.docx", "国务院办公厅关于印发的通知", "国办发〔2017〕39号", docx(t, "国务院办公厅关于印发的通知", "国办发〔2017〕39号", "各省人民政府：")},
		{"a.ofd", "北京市人民政府文件", "京政发〔2018〕3号", ofd(t, "北京市人民政府文件", "京政发〔2018〕3号", "正文")},
		{"a.pdf", "Hello PDF world", "Hello PDF world", minimalPDF("Hello PDF world", "")},
	}
	for _, c := range cases {
		d, err := Extract(c.name, bytes.NewReader(c.data), int64(len(c.data)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d.Title != c.title || !strings.Contains(d.Text, c.want) {
			t.Errorf("%s: title %q text %q", c.name, d.Title, d.Text)
		}
		if strings.Contains(d.Text, "不要") || strings.Contains(d.Text, "INFO END") {
			t.Errorf("%s: script or comment leaked: %q", c.name, d.Text)
		}
	}
}

func TestBadInput(t *testing.T) {
	small := Limits{MaxFileSize: 1 << 20, MaxUncompressed: 2 << 20, MaxRatio: 100, MaxEntries: 50, MaxTextSize: 1 << 20}
	good := docx(t, "正文")
	bomb := zipOf(t, map[string]string{"word/document.xml": strings.Repeat("0", 8<<20)})
	many := map[string]string{}
	for i := 0; i < 60; i++ {
		many[fmt.Sprintf("f%d.xml", i)] = "x"
	}
	encZip := append([]byte(nil), good...)
	// set the "encrypted" flag on every local and central header
	for i := 0; i+8 < len(encZip); i++ {
		if bytes.Equal(encZip[i:i+4], []byte("PK\x03\x04")) {
			encZip[i+6] |= 1
		}
		if bytes.Equal(encZip[i:i+4], []byte("PK\x01\x02")) {
			encZip[i+8] |= 1
		}
	}
	ofdNoDoc := zipOf(t, map[string]string{"OFD.xml": `<ofd:OFD xmlns:ofd="x"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>`})
	goodOFD := ofd(t, "正文")
	pdfOK := minimalPDF("text", "")
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"big.txt", bytes.Repeat([]byte("a"), 2<<20), ErrTooLarge},
		{"bin.txt", []byte("abc\x00\x01\x02"), ErrCorrupt},
		{"empty.md", []byte("  \n"), ErrEmpty},
		{"x.exe", []byte("MZ"), ErrUnsupported},
		{"trunc.docx", good[:len(good)/2], ErrCorrupt},
		{"garbage.docx", []byte("this is not a zip at all"), ErrCorrupt},
		{"bomb.docx", bomb, ErrZipBomb},
		{"many.docx", zipOf(t, many), ErrZipBomb},
		{"enc.docx", encZip, ErrEncrypted},
		{"ole.docx", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), ErrEncrypted},
		{"nodoc.docx", zipOf(t, map[string]string{"a.xml": "<a/>"}), ErrCorrupt},
		{"badxml.docx", zipOf(t, map[string]string{"word/document.xml": "<w:document><w:body><w:p>"}), ErrCorrupt},
		{"trunc.ofd", goodOFD[:len(goodOFD)-30], ErrCorrupt},
		{"nodoc.ofd", ofdNoDoc, ErrCorrupt},
		{"garbage.ofd", []byte("garbage"), ErrCorrupt},
		{"bomb.ofd", zipOf(t, map[string]string{"OFD.xml": strings.Repeat(" ", 8<<20)}), ErrZipBomb},
		{"garbage.pdf", []byte("%PDF-1.4\ngarbage garbage"), ErrCorrupt},
		{"trunc.pdf", pdfOK[:len(pdfOK)-40], ErrCorrupt},
		{"enc.pdf", minimalPDF("secret", "/Encrypt 6 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]"), ErrEncrypted},
		{"bad.html", []byte("\xff\xfe\x00"), ErrCorrupt},
	}
	for _, c := range cases {
		d, err := small.Extract(c.name, bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil {
			t.Errorf("%s: accepted: %q", c.name, d.Text)
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	// a lying size argument does not bypass the limit
	if _, err := small.Extract("lie.txt", bytes.NewReader(bytes.Repeat([]byte("a"), 2<<20)), 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("lying size: %v", err)
	}
}
