package projects

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// Issue is a problem-list issue.
type Issue struct {
	ID          int64      `json:"id"`
	ProjectID   int64      `json:"project_id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	DeptID      int64      `json:"dept_id"`
	DeptName    string     `json:"department_name"`
	Level       string     `json:"level" doc:"交办, 催办, 督办, 督查"`
	Status      string     `json:"status" doc:"open, closed"`
	Result      string     `json:"result"`
	Unit        string     `json:"unit"`
	Start       time.Time  `json:"start"`
	UrgeAt      time.Time  `json:"urge_at"`
	Deadline    time.Time  `json:"deadline"`
	Urged       bool       `json:"urged"`
	Supervised  bool       `json:"supervised"`
	Overdue     bool       `json:"overdue"`
	CreatedAt   string     `json:"created_at"`
	ClosedAt    string     `json:"closed_at,omitempty"`
	Log         []IssueLog `json:"log,omitempty"`
}

// IssueLog is one step of an issue.
type IssueLog struct {
	Action string `json:"action"`
	Note   string `json:"note"`
	Actor  string `json:"actor"`
	At     string `json:"at"`
}

const issueCols = `id, project_id, title, description, dept_id, dept_name, level, status, result, unit, start_at, urge_at, deadline, urged, supervised, created_at, closed_at`

func scanIssue(s scanner, at time.Time) (*Issue, error) {
	var is Issue
	var start, urge, dl string
	if err := s.Scan(&is.ID, &is.ProjectID, &is.Title, &is.Description, &is.DeptID, &is.DeptName, &is.Level, &is.Status, &is.Result, &is.Unit,
		&start, &urge, &dl, &is.Urged, &is.Supervised, &is.CreatedAt, &is.ClosedAt); err != nil {
		return nil, err
	}
	is.Start, is.UrgeAt, is.Deadline = httpapi.ParseDBTime(start), httpapi.ParseDBTime(urge), httpapi.ParseDBTime(dl)
	is.Overdue = is.Status == IssueOpen && !at.Before(is.Deadline)
	return &is, nil
}

type tqx interface {
	querier
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func getIssue(ctx context.Context, q tqx, id int64) (*Issue, error) {
	at := time.Now()
	if tx, ok := q.(*store.Tx); ok {
		at = tx.Now()
	}
	is, err := scanIssue(q.QueryRowContext(ctx, `SELECT `+issueCols+` FROM projects_issue WHERE id = ?`, id), at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "issue %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT action, note, actor, at FROM projects_issue_log WHERE issue_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var l IssueLog
		if err := rows.Scan(&l.Action, &l.Note, &l.Actor, &l.At); err != nil {
			return nil, err
		}
		is.Log = append(is.Log, l)
	}
	return is, rows.Err()
}

// Issue returns one issue with its log.
func (m *Module) Issue(ctx context.Context, id int64) (*Issue, error) {
	return getIssue(ctx, m.st.DB(), id)
}

// issueSource plugs the problem list into the shared sla scheduler.
type issueSource struct{ m *Module }

func (s *issueSource) Kind() string { return issueKind }

// Due lists open issues whose 催办 instant or deadline has come and that
// still lack that escalation (indexed on (status, urge_at) and (status,
// deadline)).
func (s *issueSource) Due(ctx context.Context, now time.Time, _ *sla.Calendar, _ float64, limit int) ([]sla.Item, error) {
	t := httpapi.FormatDBTime(now)
	rows, err := s.m.st.DB().QueryContext(ctx, `SELECT id, round, unit, start_at, urge_at, deadline, urged, supervised FROM projects_issue
		WHERE status = ? AND urge_at <= ? AND urged = 0
		UNION SELECT id, round, unit, start_at, urge_at, deadline, urged, supervised FROM projects_issue
		WHERE status = ? AND deadline <= ? AND supervised = 0
		ORDER BY id LIMIT ?`, IssueOpen, t, IssueOpen, t, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sla.Item
	for rows.Next() {
		var it sla.Item
		var unit, start, urge, dl string
		if err := rows.Scan(&it.ID, &it.Round, &unit, &start, &urge, &dl, &it.Urged, &it.Supervised); err != nil {
			return nil, err
		}
		it.Kind, it.Stage, it.Unit = issueKind, "handle", sla.Unit(unit)
		it.Start, it.UrgeAt, it.Deadline = httpapi.ParseDBTime(start), httpapi.ParseDBTime(urge), httpapi.ParseDBTime(dl)
		out = append(out, it)
	}
	return out, rows.Err()
}

// Escalate applies 催办/督办 as project.issue.escalate with the scheduler's
// idempotency key.
func (s *issueSource) Escalate(ctx context.Context, e sla.Escalation) error {
	_, err := s.m.apply(ctx, "system:sla", e.Key, CmdIssueEscalate, escalatePayload{IssueID: e.Item.ID, Level: string(e.Level), Round: e.Item.Round}, nil)
	return err
}

// ---- .docx letters ----

// Letter renders the 交办函 (kind "交办") or 督办函 (kind "督办") of an issue
// as a minimal WordprocessingML document.
func (m *Module) Letter(ctx context.Context, issueID int64, kind string) ([]byte, string, error) {
	is, err := m.Issue(ctx, issueID)
	if err != nil {
		return nil, "", err
	}
	p, err := m.Project(ctx, is.ProjectID)
	if err != nil {
		return nil, "", err
	}
	if kind == "" {
		kind = LevelAssign
		if issueLevelRank[is.Level] >= issueLevelRank[LevelSupervise] {
			kind = LevelSupervise
		}
	}
	if kind != LevelAssign && kind != LevelSupervise {
		return nil, "", httpapi.FieldError("kind", "must be 交办 or 督办")
	}
	dl := is.Deadline.In(sla.China).Format("2006年1月2日 15:04")
	title := "重大项目问题" + kind + "函"
	paras := []string{
		is.DeptName + "：",
		fmt.Sprintf("现将重大项目“%s”（项目编号 %s，责任单位 %s）存在的问题%s你单位办理：", p.Name, p.Code, p.DeptName, kind),
		"问题：" + is.Title,
	}
	if is.Description != "" {
		paras = append(paras, "情况说明："+is.Description)
	}
	if kind == LevelAssign {
		paras = append(paras, fmt.Sprintf("请于 %s 前办结并反馈办理结果。", dl))
	} else {
		paras = append(paras, fmt.Sprintf("该问题办理时限为 %s，现已%s，请高度重视，立即督促落实，并将办理结果及时反馈。", dl, map[bool]string{true: "超期", false: "临近时限"}[is.Overdue]))
	}
	paras = append(paras, "", "重大项目推进工作领导小组办公室", time.Now().In(sla.China).Format("2006年1月2日"))
	b, err := Docx(title, paras)
	return b, fmt.Sprintf("%s-%d.docx", kind+"函", is.ID), err
}

// Docx builds a minimal valid .docx (a zip of WordprocessingML parts) with
// a centred bold title and one paragraph per entry of paras.
func Docx(title string, paras []string) ([]byte, error) {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var body strings.Builder
	body.WriteString(`<w:p><w:pPr><w:jc w:val="center"/></w:pPr><w:r><w:rPr><w:b/><w:sz w:val="36"/></w:rPr><w:t xml:space="preserve">` + esc(title) + `</w:t></w:r></w:p>`)
	for _, p := range paras {
		body.WriteString(`<w:p><w:r><w:rPr><w:sz w:val="28"/></w:rPr><w:t xml:space="preserve">` + esc(p) + `</w:t></w:r></w:p>`)
	}
	parts := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="851" w:footer="992" w:gutter="0"/></w:sectPr></w:body></w:document>`},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(p.body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
