package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/kb"
	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/search/extract/extracttest"
)

const kbLawMD = `# 城市道路管理条例

（1996年6月4日中华人民共和国国务院令第198号发布）

第一条 为了加强城市道路管理，保障城市道路完好，充分发挥城市道路功能，制定本条例。

第二条 本条例所称城市道路，是指城市供车辆、行人通行的，具备一定技术条件的道路、桥梁及其附属设施。

第二十七条 城市道路范围内禁止占用城市道路摆摊设点、堆放物料。

第四十四条 违反本条例规定，擅自占用或者挖掘城市道路的，由市政工程行政主管部门责令限期改正，可以处以2万元以下的罚款。
`

const kbNoticeTxt = `国务院办公厅关于进一步做好最低生活保障工作的通知
国办发〔2017〕39号
各省、自治区、直辖市人民政府：
为了规范最低生活保障审核审批，切实保障困难群众基本生活，现就有关事项通知如下。
一、共同生活的家庭成员人均收入低于当地最低生活保障标准的，按规定给予保障。
国务院办公厅
2017年5月12日
`

// kbUpload posts one file to the import endpoint.
func (s *testServer) kbUpload(token, name string, data []byte, fields ...string) (int, kb.ImportResult, string) {
	s.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	code, b, _ := s.do("POST", "/api/v1/kb/import", token, body.Bytes(), "Content-Type", mw.FormDataContentType())
	var res kb.ImportResult
	json.Unmarshal(b, &res)
	return code, res, string(b)
}

func (s *testServer) kbWait(idx uint64) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.a.KB().WaitIndexed(ctx, idx); err != nil {
		s.t.Fatalf("index did not reach %d (at %d)", idx, s.a.KB().Watermark())
	}
}

func (s *testServer) kbSearch(token string, v url.Values) search.Result {
	s.t.Helper()
	var res search.Result
	s.must("GET", "/api/v1/kb/search?"+v.Encode(), token, nil, 200, &res)
	return res
}

func TestKBImportFormatsAndRefusals(t *testing.T) {
	s := startServer(t)
	admin, op := s.tokens["admin"], s.tokens["operator"]

	good := []struct {
		name  string
		data  []byte
		title string
	}{
		{"道路.md", []byte(kbLawMD), "城市道路管理条例"},
		{"低保通知.txt", []byte(kbNoticeTxt), "国务院办公厅关于进一步做好最低生活保障工作的通知"},
		{"page.html", []byte(`<html><head><title>网格化管理办法</title><script>var x="不要";</script></head><body><p>网格员负责日常巡查。</p></body></html>`), "网格化管理办法"},
		{"plan.docx", extracttest.Docx("防汛应急预案", "第一条 汛期河道水位超过警戒水位时启动应急响应。"), "防汛应急预案"},
		{"gov.ofd", extracttest.OFD("北京市人民政府文件", "京政发[2018]3号", "关于加强城市管理的意见"), "北京市人民政府文件"},
		{"scan.pdf", extracttest.PDF("Standard for street lighting", ""), "Standard for street lighting"},
	}
	var last uint64
	ids := map[string]string{}
	for i, g := range good {
		token := admin
		if i%2 == 1 {
			token = op // operators hold kb.write too
		}
		code, res, raw := s.kbUpload(token, g.name, g.data)
		if code != 201 || res.Status != kb.Imported || res.ID == "" || res.Title != g.title {
			t.Fatalf("%s: %d %s", g.name, code, raw)
		}
		ids[g.name] = res.ID
		last = res.Index
	}
	var st kb.Status
	s.must("GET", "/api/v1/kb/status", admin, nil, 200, &st)
	if st.Documents != len(good) {
		t.Fatalf("status %+v", st)
	}

	// 智能解析 on import: 发文字号 normalised, 发文机关 from the agency code.
	var d kb.Document
	s.must("GET", "/api/v1/kb/documents/"+ids["低保通知.txt"], s.tokens["viewer"], nil, 200, &d)
	if d.Number != "国办发〔2017〕39号" || d.Issuer != "国务院办公厅" || d.Status != "现行有效" || d.Written != "2017-05-12" {
		t.Errorf("parsed metadata: %+v", d.Meta)
	}
	s.must("GET", "/api/v1/kb/documents/"+ids["gov.ofd"], admin, nil, 200, &d)
	if d.Number != "京政发〔2018〕3号" {
		t.Errorf("ofd 发文字号 %q", d.Number)
	}

	// Duplicates (same text, whatever the file name or format) are skipped.
	code, res, raw := s.kbUpload(admin, "copy-of-道路.md", []byte(kbLawMD+"\n\n"))
	if code != 200 || res.Status != kb.Skipped || res.DuplicateOf != ids["道路.md"] {
		t.Errorf("duplicate: %d %s", code, raw)
	}

	// Refusals: every format's bad input, without side effects.
	okDocx := extracttest.Docx("正文")
	enc := extracttest.Encrypted(okDocx)
	okOFD := extracttest.OFD("正文")
	okPDF := extracttest.PDF("text", "")
	bad := []struct {
		name   string
		data   []byte
		status int
		reason string
	}{
		{"empty.txt", []byte(" \n "), 400, "no text"},
		{"binary.txt", []byte("abc\x00\x01\x02\x03"), 400, "corrupt"},
		{"empty.md", []byte("\n\n"), 400, "no text"},
		{"bad.html", []byte("\xff\xfe\x00"), 400, "corrupt"},
		{"garbage.docx", []byte("this is not a zip"), 400, "corrupt"},
		{"trunc.docx", okDocx[:len(okDocx)/2], 400, "corrupt"},
		{"bomb.docx", extracttest.Zip("word/document.xml", strings.Repeat("0", 16<<20)), 400, "zip bomb"},
		{"enc.docx", enc, 400, "encrypted"},
		{"ole.docx", append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 512)...), 400, "encrypted"},
		{"garbage.pdf", []byte("%PDF-1.4\ngarbage"), 400, "corrupt"},
		{"trunc.pdf", okPDF[:len(okPDF)-40], 400, "corrupt"},
		{"enc.pdf", extracttest.PDF("secret", extracttest.PDFEncrypt), 400, "encrypted"},
		{"garbage.ofd", []byte("garbage"), 400, "corrupt"},
		{"trunc.ofd", okOFD[:len(okOFD)-30], 400, "corrupt"},
		{"bomb.ofd", extracttest.Zip("OFD.xml", strings.Repeat(" ", 16<<20)), 400, "zip bomb"},
		{"tool.exe", []byte("MZ\x90\x00"), 415, "unsupported"},
		{"huge.txt", bytes.Repeat([]byte("大"), (kb.MaxUpload/3)+10), 413, "too large"},
	}
	for _, b := range bad {
		code, _, raw := s.kbUpload(admin, b.name, b.data)
		if code != b.status || !strings.Contains(raw, b.reason) {
			t.Errorf("%s: %d %s, want %d with %q", b.name, code, raw, b.status, b.reason)
		}
	}
	// Malformed requests.
	for _, c := range []struct {
		ct   string
		body string
		want int
	}{
		{"application/json", `{}`, 415},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n案例\r\n--x--\r\n", 400},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\ntext", 400},
	} {
		if code, b, _ := s.do("POST", "/api/v1/kb/import", admin, c.body, "Content-Type", c.ct); code != c.want {
			t.Errorf("%s %q: %d %s, want %d", c.ct, c.body, code, b, c.want)
		}
	}
	if code, _, raw := s.kbUpload(admin, "x.md", []byte("# 标题\n正文"), "kind", "杂项"); code != 400 {
		t.Errorf("bad kind: %d %s", code, raw)
	}
	s.must("GET", "/api/v1/kb/status", admin, nil, 200, &st)
	if st.Documents != len(good) {
		t.Errorf("refused files left documents behind: %+v", st)
	}

	// Roles: reading is for every interactive role, writing for kb.write.
	for _, user := range []string{"viewer", "handler", "gridworker", "leader", "commander"} {
		if code, _, raw := s.kbUpload(s.tokens[user], "x.md", []byte("# 新文件\n正文内容")); code != 403 {
			t.Errorf("%s imported: %d %s", user, code, raw)
		}
		s.must("GET", "/api/v1/kb/search?q=道路", s.tokens[user], nil, 200, nil)
	}
	if code, _, _ := s.kbUpload("", "x.md", []byte("# 新文件\n正文内容")); code != 401 {
		t.Errorf("anonymous import: %d", code)
	}
	s.must("GET", "/api/v1/kb/search?q=道路", "", nil, 401, nil)

	// Search over what was imported: titles, 发文字号, articles, facets.
	s.kbWait(last)
	viewer := s.tokens["viewer"]
	res1 := s.kbSearch(viewer, url.Values{"q": {"城市道路管理条例 第四十四条"}})
	if len(res1.Hits) == 0 || res1.Hits[0].ID != ids["道路.md"] || res1.Hits[0].Article == nil || res1.Hits[0].Article.Anchor != "art-44" {
		t.Errorf("article lookup: %+v", res1.Hits)
	}
	for _, q := range []string{"国办发〔2017〕39号", "国办发[2017]39号", "39号文", "低保"} {
		r := s.kbSearch(viewer, url.Values{"q": {q}})
		if len(r.Hits) == 0 || r.Hits[0].ID != ids["低保通知.txt"] {
			t.Errorf("%s: %+v", q, r.Hits)
		}
	}
	r := s.kbSearch(viewer, url.Values{"q": {"城市"}, "limit": {"1"}, "offset": {"1"}})
	if r.Total < 2 || len(r.Hits) != 1 || len(r.Facets["kind"]) == 0 {
		t.Errorf("pagination/facets: %+v", r)
	}
	if !strings.Contains(s.kbSearch(viewer, url.Values{"q": {"摆摊设点"}}).Hits[0].Snippet, "<mark>摆摊设点</mark>") {
		t.Errorf("snippet without highlight")
	}
	if r := s.kbSearch(viewer, url.Values{"q": {"城市"}, "kind": {"预案"}}); r.Total != 0 {
		t.Errorf("kind filter: %+v", r)
	}
	for _, bad := range []string{"limit=0", "limit=101", "offset=-1", "year=abc", "facets=color", "color=red", "q=" + strings.Repeat("长", 201)} {
		s.must("GET", "/api/v1/kb/search?"+bad, viewer, nil, 400, nil)
	}
	var sug kb.SuggestOutput
	s.must("GET", "/api/v1/kb/suggest?q="+url.QueryEscape("城市道"), viewer, nil, 200, &sug)
	if len(sug.Items) == 0 || sug.Items[0].ID != ids["道路.md"] {
		t.Errorf("suggest: %+v", sug)
	}
	s.must("GET", "/api/v1/kb/suggest", viewer, nil, 400, nil)
}

func TestKBDocumentsLinksSynonymsRelated(t *testing.T) {
	s := startServer(t)
	admin, viewer := s.tokens["admin"], s.tokens["viewer"]
	var old, amend kb.Document
	s.must("POST", "/api/v1/kb/documents", admin, map[string]any{"text": kbLawMD}, 201, &old)
	if old.Title != "城市道路管理条例" || len(old.Articles) != 4 || old.Articles[3].Anchor != "art-44" || old.Kind != "政策法规" {
		t.Fatalf("created: %+v", old)
	}
	s.must("POST", "/api/v1/kb/documents", admin, map[string]any{"text": kbNoticeTxt, "kind": "标准", "tags": []string{"民生"}}, 201, &amend)
	s.must("POST", "/api/v1/kb/documents", admin, map[string]any{"text": kbLawMD}, 409, nil)
	s.must("POST", "/api/v1/kb/documents", admin, map[string]any{"text": "x", "kind": "杂项"}, 400, nil)
	s.must("POST", "/api/v1/kb/documents", admin, map[string]any{"text": "x", "colour": "red"}, 400, nil)
	s.must("POST", "/api/v1/kb/documents", viewer, map[string]any{"text": "新的文本"}, 403, nil)

	// List (the console's table) with its columns and filters.
	var page struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	s.must("GET", "/api/v1/kb/documents?q="+url.QueryEscape("道路")+"&limit=10", viewer, nil, 200, &page)
	if page.Total != 1 || page.Items[0]["validity"] != "现行有效" || page.Items[0]["title"] != "城市道路管理条例" || page.Items[0]["date"] == nil {
		t.Errorf("list: %+v", page)
	}
	if _, ok := page.Items[0]["text"]; ok {
		t.Errorf("list carries the text")
	}
	s.must("GET", "/api/v1/kb/documents?kind=标准", viewer, nil, 200, &page)
	if page.Total != 1 {
		t.Errorf("kind filter: %+v", page)
	}
	s.must("GET", "/api/v1/kb/documents?bogus=1", viewer, nil, 400, nil)

	// 时效性 edits and links.
	var d kb.Document
	s.must("PATCH", "/api/v1/kb/documents/"+amend.ID, admin, map[string]any{"status": "已修改", "doc_number": "国办发(2017)39号"}, 200, &d)
	if d.Status != "已修改" || d.Number != "国办发〔2017〕39号" {
		t.Errorf("patch: %+v", d.Meta)
	}
	s.must("PATCH", "/api/v1/kb/documents/"+amend.ID, admin, map[string]any{"status": "失效"}, 400, nil)
	s.must("PATCH", "/api/v1/kb/documents/nope", admin, map[string]any{"status": "已废止"}, 404, nil)
	s.must("PATCH", "/api/v1/kb/documents/"+amend.ID, s.tokens["handler"], map[string]any{"status": "已废止"}, 403, nil)
	s.must("POST", "/api/v1/kb/links", admin, kb.LinkInput{From: amend.ID, To: old.ID, Kind: kb.LinkReplaces}, 201, nil)
	s.must("POST", "/api/v1/kb/links", admin, kb.LinkInput{From: amend.ID, To: old.ID, Kind: kb.LinkReplaces}, 409, nil)
	s.must("POST", "/api/v1/kb/links", admin, kb.LinkInput{From: amend.ID, To: amend.ID, Kind: kb.LinkAmends}, 400, nil)
	s.must("POST", "/api/v1/kb/links", admin, kb.LinkInput{From: amend.ID, To: "nope", Kind: kb.LinkAmends}, 404, nil)
	s.must("GET", "/api/v1/kb/documents/"+old.ID, viewer, nil, 200, &d)
	if d.Status != "已废止" || len(d.Links) != 1 || d.Links[0].Direction != "in" || d.Links[0].OtherID != amend.ID || d.Links[0].Kind != "替代" {
		t.Errorf("replaced document: status %s links %+v", d.Status, d.Links)
	}
	s.must("GET", "/api/v1/kb/documents/"+amend.ID, viewer, nil, 200, &d)
	if len(d.Links) != 1 || d.Links[0].Direction != "out" || d.Links[0].Title != "城市道路管理条例" {
		t.Errorf("replacing document links %+v", d.Links)
	}
	q := url.Values{"from_id": {amend.ID}, "to_id": {old.ID}, "kind": {"替代"}}
	s.must("DELETE", "/api/v1/kb/links?"+q.Encode(), admin, nil, 204, nil)
	s.must("DELETE", "/api/v1/kb/links?"+q.Encode(), admin, nil, 404, nil)

	// Synonym dictionary editor.
	var syn kb.SynonymsOutput
	s.must("GET", "/api/v1/kb/synonyms", viewer, nil, 200, &syn)
	if syn.Custom || !strings.Contains(syn.Text, "低保 最低生活保障") {
		t.Errorf("built-in dictionary: %+v", syn)
	}
	s.must("PUT", "/api/v1/kb/synonyms", viewer, map[string]any{"text": "a b"}, 403, nil)
	s.must("PUT", "/api/v1/kb/synonyms", admin, map[string]any{"groups": [][]string{{"单独"}}}, 400, nil)
	text := syn.Text + "马路 城市道路\n"
	s.must("PUT", "/api/v1/kb/synonyms", admin, map[string]any{"text": text}, 200, &syn)
	if !syn.Custom || len(syn.Groups) == 0 || strings.Join(syn.Groups[len(syn.Groups)-1], "|") != "马路|城市道路" {
		t.Errorf("saved dictionary: %+v", syn.Groups)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.kbSearch(viewer, url.Values{"q": {"马路 摆摊设点"}})
		if len(r.Hits) > 0 && r.Hits[0].ID == old.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("synonym 马路 ↔ 城市道路 not applied: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Related (the case detail and project pages call this).
	var rel search.Result
	s.must("POST", "/api/v1/kb/related", s.tokens["handler"], kb.RelatedInput{
		Text: "群众反映某路段有商贩长期占用城市道路摆摊设点，堆放物料，影响车辆和行人通行，请求城管部门处理。"}, 200, &rel)
	if len(rel.Hits) == 0 || rel.Hits[0].ID != old.ID || len(rel.Hits[0].Passages) == 0 {
		t.Errorf("related: %+v", rel)
	}
	s.must("POST", "/api/v1/kb/related", viewer, kb.RelatedInput{Text: " "}, 400, nil)
	s.must("POST", "/api/v1/kb/related", viewer, kb.RelatedInput{Text: "x", Limit: 500}, 400, nil)
	s.must("POST", "/api/v1/kb/related", viewer, map[string]any{"text": "x", "kinds": []string{"杂项"}}, 400, nil)

	// Reindex through the API gives the same answers.
	before := s.kbSearch(viewer, url.Values{"q": {"城市道路"}})
	var ro kb.ReindexOutput
	s.must("POST", "/api/v1/kb/reindex", viewer, nil, 403, nil)
	s.must("POST", "/api/v1/kb/reindex", admin, nil, 200, &ro)
	after := s.kbSearch(viewer, url.Values{"q": {"城市道路"}})
	if ro.Documents != 2 || before.Total != after.Total || before.Hits[0].ID != after.Hits[0].ID {
		t.Errorf("reindex: %+v; before %+v after %+v", ro, before.Hits, after.Hits)
	}

	// Closed yiwang cases worth keeping become 案例.
	var cs struct {
		Items []struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
			Open  bool   `json:"open"`
		} `json:"items"`
	}
	s.must("GET", "/api/v1/cases?limit=500", admin, nil, 200, &cs)
	var closedID, openID int64
	var closedTitle string
	for _, c := range cs.Items {
		if !c.Open && closedID == 0 {
			closedID, closedTitle = c.ID, c.Title
		}
		if c.Open && openID == 0 {
			openID = c.ID
		}
	}
	if closedID == 0 || openID == 0 {
		t.Fatalf("demo county has no closed and open cases: %+v", cs.Items)
	}
	var kept kb.ImportResult
	s.must("POST", fmt.Sprintf("/api/v1/kb/cases/%d", closedID), viewer, nil, 403, nil)
	s.must("POST", fmt.Sprintf("/api/v1/kb/cases/%d", closedID), admin, nil, 201, &kept)
	if kept.Kind != "案例" || kept.Title != closedTitle {
		t.Errorf("kept case: %+v", kept)
	}
	s.must("POST", fmt.Sprintf("/api/v1/kb/cases/%d", closedID), s.tokens["operator"], nil, 200, &kept)
	if kept.Status != kb.Skipped {
		t.Errorf("case kept twice: %+v", kept)
	}
	s.must("POST", fmt.Sprintf("/api/v1/kb/cases/%d", openID), admin, nil, 409, nil)
	s.must("POST", "/api/v1/kb/cases/99999999", admin, nil, 404, nil)
	s.must("GET", "/api/v1/kb/documents?kind=案例", viewer, nil, 200, &page)
	if page.Total != 1 {
		t.Errorf("案例 documents: %+v", page)
	}

	s.must("DELETE", "/api/v1/kb/documents/"+old.ID, viewer, nil, 403, nil)
	s.must("DELETE", "/api/v1/kb/documents/"+old.ID, admin, nil, 204, nil)
	s.must("DELETE", "/api/v1/kb/documents/"+old.ID, admin, nil, 404, nil)
	s.must("GET", "/api/v1/kb/documents/"+old.ID, viewer, nil, 404, nil)
	deadline = time.Now().Add(60 * time.Second)
	for s.kbSearch(viewer, url.Values{"q": {"城市道路管理条例"}}).Total != 0 {
		if time.Now().After(deadline) {
			t.Fatal("deleted document still found")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
