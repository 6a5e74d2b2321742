package extract

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/yiwang/yiwang/search/extract/extracttest"
)

func zipOf(t testing.TB, files map[string]string, order ...string) []byte {
	t.Helper()
	if len(order) == 0 {
		for n := range files {
			order = append(order, n)
		}
	}
	var pairs []string
	for _, n := range order {
		pairs = append(pairs, n, files[n])
	}
	return extracttest.Zip(pairs...)
}

func docx(t testing.TB, paras ...string) []byte { return extracttest.Docx(paras...) }

func ofd(t testing.TB, lines ...string) []byte { return extracttest.OFD(lines...) }

func minimalPDF(text, extraTrailer string) []byte { return extracttest.PDF(text, extraTrailer) }

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
	encZip := extracttest.Encrypted(good)
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
