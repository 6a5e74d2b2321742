package investment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/store"
)

// PermContact lets a role see enterprise contact phone numbers unmasked.
var PermContact = httpapi.DefinePermission("investment.contact", "查看招商企业联系电话", httpapi.RoleAdmin, httpapi.RoleHandler)

// Command types.
const (
	CmdEnterpriseCreate = "investment.enterprise.create"
	CmdEnterpriseUpdate = "investment.enterprise.update"
	CmdEnterpriseImport = "investment.enterprise.import"
	CmdChainCreate      = "investment.chain.create"
	CmdNodeCreate       = "investment.node.create"
	CmdNodeLink         = "investment.node.link"
	CmdParkCreate       = "investment.park.create"
	CmdParkImport       = "investment.park.import"
	CmdSpaceCreate      = "investment.space.create"
	CmdLeadCreate       = "investment.lead.create"
	CmdLeadUpdate       = "investment.lead.update"
	CmdParkUpdate       = "investment.park.update"
	CmdLeadImport       = "investment.lead.import"
	CmdLeadMove         = "investment.lead.move"
	CmdLeadLinkProject  = "investment.lead.link_project"
	CmdVisitCreate      = "investment.visit.create"
	CmdVisitDone        = "investment.visit.done"
	CmdGapWeightsSet    = "investment.gap_weights.set"
)

// Pipeline stages in order, and the lost marker.
var Stages = []string{"线索", "接洽", "考察", "洽谈", "签约", "注册", "开工", "投产"}

const (
	StageSigned     = "签约"
	StageRegistered = "注册"
	Lost            = "丢失"
)

func stageIndex(s string) int { return slices.Index(Stages, s) }

// Options configure the module.
type Options struct {
	Org      *org.Module
	Projects *projects.Module
	Logf     func(string, ...any)
}

// Module is the investment-attraction module.
type Module struct {
	opts Options
	st   *store.Store
}

var _ httpapi.Module = (*Module)(nil)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Module{opts: opts}
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "investment" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("investment", migrations...)
	st.Register(CmdEnterpriseCreate, 1, m.applyEnterpriseCreate)
	st.Register(CmdEnterpriseUpdate, 1, m.applyEnterpriseUpdate)
	st.Register(CmdEnterpriseImport, 1, m.applyEnterpriseImport)
	st.Register(CmdChainCreate, 1, m.applyChainCreate)
	st.Register(CmdNodeCreate, 1, m.applyNodeCreate)
	st.Register(CmdNodeLink, 1, m.applyNodeLink)
	st.Register(CmdParkCreate, 1, m.applyParkCreate)
	st.Register(CmdParkImport, 1, m.applyParkImport)
	st.Register(CmdSpaceCreate, 1, m.applySpaceCreate)
	st.Register(CmdLeadCreate, 1, m.applyLeadCreate)
	st.Register(CmdLeadUpdate, 1, m.applyLeadUpdate)
	st.Register(CmdParkUpdate, 1, m.applyParkUpdate)
	st.Register(CmdLeadImport, 1, m.applyLeadImport)
	st.Register(CmdLeadMove, 1, m.applyLeadMove)
	st.Register(CmdLeadLinkProject, 1, m.applyLeadLinkProject)
	st.Register(CmdVisitCreate, 1, m.applyVisitCreate)
	st.Register(CmdVisitDone, 1, m.applyVisitDone)
	st.Register(CmdGapWeightsSet, 1, m.applyGapWeightsSet)
}

func decode(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "%s: %v", cmd.Type, err)
	}
	return nil
}

func invalid(what string, f map[string]string) error {
	var parts []string
	for k, v := range f {
		parts = append(parts, k+" "+v)
	}
	slices.Sort(parts)
	return &store.Error{Code: "invalid", Message: "invalid " + what + ": " + strings.Join(parts, "; "), Fields: f}
}

func fieldsOf(v *httpapi.Validator) map[string]string {
	if err := v.Err(); err != nil {
		return store.AsError(err).Fields
	}
	return nil
}

func actorUser(actor string) int64 {
	if s, ok := strings.CutPrefix(actor, "user:"); ok {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return 0
}

func now(tx *store.Tx) string { return httpapi.FormatDBTime(tx.Now()) }

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// ---- enterprises ----

// Scales of enterprises.
var Scales = []string{"大型", "中型", "小型", "微型"}

// EnterpriseInput is the editable part of an enterprise.
type EnterpriseInput struct {
	CreditCode   string   `json:"credit_code" doc:"统一社会信用代码 (18 characters, GB 32100-2015)"`
	Name         string   `json:"name"`
	Industry     string   `json:"industry,omitempty"`
	Scale        string   `json:"scale,omitempty" doc:"大型, 中型, 小型, 微型"`
	Region       string   `json:"region,omitempty" doc:"where it is registered"`
	Local        bool     `json:"local" doc:"located in the county"`
	Address      string   `json:"address,omitempty"`
	ContactName  string   `json:"contact_name,omitempty"`
	ContactPhone string   `json:"contact_phone,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Profile      string   `json:"profile,omitempty" doc:"企业简介"`
	ChainID      int64    `json:"chain_id,omitempty"`
}

// Check validates the input; messages are per field.
func (in *EnterpriseInput) Check() map[string]string {
	var v httpapi.Validator
	in.CreditCode = strings.ToUpper(strings.TrimSpace(in.CreditCode))
	if msg := ValidateCreditCode(in.CreditCode); msg != "" {
		v.Add("credit_code", msg)
	}
	v.Text("name", in.Name, 1, 100)
	v.Text("industry", in.Industry, 0, 40)
	if in.Scale != "" {
		v.OneOf("scale", in.Scale, Scales...)
	}
	v.Text("region", in.Region, 0, 60)
	v.Text("address", in.Address, 0, 200)
	v.Text("contact_name", in.ContactName, 0, 40)
	if in.ContactPhone != "" {
		ok := len(in.ContactPhone) >= 5 && len(in.ContactPhone) <= 20
		for _, r := range in.ContactPhone {
			if !(r >= '0' && r <= '9' || r == '-' || r == '+' || r == ' ') {
				ok = false
			}
		}
		v.Check(ok, "contact_phone", "must be a phone number (digits, -, +)")
	}
	v.Check(len(in.Tags) <= 20, "tags", "at most 20 tags")
	for _, t := range in.Tags {
		if t == "" || len([]rune(t)) > 20 || strings.Contains(t, ",") {
			v.Add("tags", "tags must be 1-20 characters without commas")
		}
	}
	v.MultilineText("profile", in.Profile, 4000)
	return fieldsOf(&v)
}

// Validate implements httpapi.Validatable.
func (in *EnterpriseInput) Validate() error {
	if f := in.Check(); f != nil {
		return invalid("enterprise", f)
	}
	return nil
}

// Enterprise is an enterprise as the API shows it.
type Enterprise struct {
	ID int64 `json:"id"`
	EnterpriseInput
	ChainName   string `json:"chain_name"`
	PhoneMasked bool   `json:"phone_masked,omitempty"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

const entCols = `e.id, e.credit_code, e.name, e.industry, e.scale, e.region, e.local, e.address, e.contact_name, e.contact_phone, e.tags, e.profile, e.chain_id,
	COALESCE((SELECT name FROM investment_chain c WHERE c.id = e.chain_id), ''), e.created_at, e.updated_at`

func scanEnterprise(s scanner) (*Enterprise, error) {
	var e Enterprise
	var tags string
	if err := s.Scan(&e.ID, &e.CreditCode, &e.Name, &e.Industry, &e.Scale, &e.Region, &e.Local, &e.Address, &e.ContactName, &e.ContactPhone,
		&tags, &e.Profile, &e.ChainID, &e.ChainName, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, err
	}
	e.Tags = []string{}
	if tags != "" {
		e.Tags = strings.Split(tags, ",")
	}
	return &e, nil
}

// MaskPhone keeps the first 3 and last 4 digits: 13812345678 → 138****5678.
func MaskPhone(p string) string {
	r := []rune(p)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	if len(r) < 8 {
		return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
	}
	return string(r[:3]) + strings.Repeat("*", len(r)-7) + string(r[len(r)-4:])
}

func (e *Enterprise) maskFor(p *httpapi.Principal) {
	if e.ContactPhone != "" && !p.Can(PermContact) {
		e.ContactPhone, e.PhoneMasked = MaskPhone(e.ContactPhone), true
	}
}

func getEnterprise(ctx context.Context, q querier, id int64) (*Enterprise, error) {
	e, err := scanEnterprise(q.QueryRowContext(ctx, `SELECT `+entCols+` FROM investment_enterprise e WHERE e.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "enterprise %d not found", id)
	}
	return e, err
}

func (m *Module) insertEnterprise(tx *store.Tx, in EnterpriseInput) (int64, error) {
	if f := in.Check(); f != nil {
		return 0, invalid("enterprise", f)
	}
	var dup int64
	if err := tx.QueryRow(`SELECT id FROM investment_enterprise WHERE credit_code = ?`, in.CreditCode).Scan(&dup); err == nil {
		return 0, &store.Error{Code: "conflict", Message: fmt.Sprintf("enterprise with credit code %s already exists (id %d)", in.CreditCode, dup), Fields: map[string]string{"credit_code": "already exists"}}
	}
	if err := checkChain(tx, in.ChainID); err != nil {
		return 0, err
	}
	t := now(tx)
	res, err := tx.Exec(`INSERT INTO investment_enterprise(credit_code, name, industry, scale, region, local, address, contact_name, contact_phone, tags, profile, chain_id, created_by, created_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, in.CreditCode, in.Name, in.Industry, in.Scale, in.Region, in.Local, in.Address, in.ContactName, in.ContactPhone,
		strings.Join(in.Tags, ","), in.Profile, in.ChainID, actorUser(tx.Actor()), t, t)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func checkChain(tx *store.Tx, id int64) error {
	if id == 0 {
		return nil
	}
	var n int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM investment_chain WHERE id = ?`, id).Scan(&n)
	if n == 0 {
		return &store.Error{Code: "invalid", Message: fmt.Sprintf("chain_id: chain %d not found", id), Fields: map[string]string{"chain_id": "not found"}}
	}
	return nil
}

func (m *Module) applyEnterpriseCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in EnterpriseInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	id, err := m.insertEnterprise(tx, in)
	if err != nil {
		return nil, err
	}
	return getEnterprise(context.Background(), tx, id)
}

type enterpriseUpdate struct {
	ID int64 `json:"id"`
	EnterpriseInput
}

func (m *Module) applyEnterpriseUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in enterpriseUpdate
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if f := in.Check(); f != nil {
		return nil, invalid("enterprise", f)
	}
	ctx := context.Background()
	if _, err := getEnterprise(ctx, tx, in.ID); err != nil {
		return nil, err
	}
	var dup int64
	if err := tx.QueryRow(`SELECT id FROM investment_enterprise WHERE credit_code = ? AND id <> ?`, in.CreditCode, in.ID).Scan(&dup); err == nil {
		return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("credit code %s belongs to enterprise %d", in.CreditCode, dup), Fields: map[string]string{"credit_code": "already exists"}}
	}
	if err := checkChain(tx, in.ChainID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE investment_enterprise SET credit_code=?, name=?, industry=?, scale=?, region=?, local=?, address=?, contact_name=?, contact_phone=?, tags=?, profile=?, chain_id=?, updated_at=? WHERE id=?`,
		in.CreditCode, in.Name, in.Industry, in.Scale, in.Region, in.Local, in.Address, in.ContactName, in.ContactPhone, strings.Join(in.Tags, ","), in.Profile, in.ChainID, now(tx), in.ID); err != nil {
		return nil, err
	}
	return getEnterprise(ctx, tx, in.ID)
}

type enterpriseImport struct {
	Rows []EnterpriseInput `json:"rows"`
}

func (m *Module) applyEnterpriseImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var in enterpriseImport
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ids := []int64{}
	for i, r := range in.Rows {
		id, err := m.insertEnterprise(tx, r)
		if err != nil {
			e := store.AsError(err)
			return nil, &store.Error{Code: e.Code, Message: fmt.Sprintf("row %d: %s", i+1, e.Message), Fields: e.Fields}
		}
		ids = append(ids, id)
	}
	return map[string][]int64{"ids": ids}, nil
}

// ---- chains ----

// Tiers of a chain.
var Tiers = []string{"上游", "中游", "下游"}

// ChainInput creates a chain.
type ChainInput struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *ChainInput) Validate() error {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 60)
	v.MultilineText("description", in.Description, 2000)
	if f := fieldsOf(&v); f != nil {
		return invalid("chain", f)
	}
	return nil
}

func (m *Module) applyChainCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in ChainInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var n int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM investment_chain WHERE name = ?`, in.Name).Scan(&n)
	if n > 0 {
		return nil, store.Errorf("conflict", "chain %s already exists", in.Name)
	}
	res, err := tx.Exec(`INSERT INTO investment_chain(name, description, created_at) VALUES(?,?,?)`, in.Name, in.Description, now(tx))
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	return map[string]any{"id": id, "name": in.Name}, nil
}

// NodeInput adds a node to a chain.
type NodeInput struct {
	ChainID   int64   `json:"chain_id,omitempty"`
	Name      string  `json:"name"`
	Tier      string  `json:"tier" doc:"上游, 中游, 下游"`
	Weight    float64 `json:"weight" doc:"importance 1..10"`
	Extension bool    `json:"extension,omitempty" doc:"an extension segment the county does not have yet (延链)"`
}

// Validate implements httpapi.Validatable.
func (in *NodeInput) Validate() error {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 60)
	v.OneOf("tier", in.Tier, Tiers...)
	v.Check(in.Weight >= 1 && in.Weight <= 10, "weight", "must be between 1 and 10")
	if f := fieldsOf(&v); f != nil {
		return invalid("node", f)
	}
	return nil
}

func (m *Module) applyNodeCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in NodeInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.ChainID == 0 {
		return nil, store.Errorf("invalid", "chain_id is required")
	}
	if err := checkChain(tx, in.ChainID); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`INSERT INTO investment_node(chain_id, name, tier, weight, extension) VALUES(?,?,?,?,?)`, in.ChainID, in.Name, in.Tier, in.Weight, in.Extension)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return nil, store.Errorf("conflict", "node %s already exists in chain %d", in.Name, in.ChainID)
		}
		return nil, err
	}
	id, _ := res.LastInsertId()
	return map[string]any{"id": id}, nil
}

// LinkInput ties an enterprise to a chain node (Remove unlinks).
type LinkInput struct {
	NodeID       int64  `json:"node_id,omitempty"`
	EnterpriseID int64  `json:"enterprise_id"`
	Role         string `json:"role" doc:"local (本地企业) or target (目标企业)"`
	ChainLeader  bool   `json:"chain_leader,omitempty" doc:"链主"`
	Remove       bool   `json:"remove,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *LinkInput) Validate() error {
	var v httpapi.Validator
	v.Check(in.EnterpriseID > 0, "enterprise_id", "is required")
	if !in.Remove {
		v.OneOf("role", in.Role, "local", "target")
	}
	if f := fieldsOf(&v); f != nil {
		return invalid("link", f)
	}
	return nil
}

func (m *Module) applyNodeLink(tx *store.Tx, cmd *store.Command) (any, error) {
	var in LinkInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.Remove {
		_, err := tx.Exec(`DELETE FROM investment_node_ent WHERE node_id = ? AND enterprise_id = ?`, in.NodeID, in.EnterpriseID)
		return map[string]bool{"removed": true}, err
	}
	var n int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM investment_node WHERE id = ?`, in.NodeID).Scan(&n)
	if n == 0 {
		return nil, store.Errorf("not_found", "node %d not found", in.NodeID)
	}
	if _, err := getEnterprise(context.Background(), tx, in.EnterpriseID); err != nil {
		return nil, err
	}
	_, err := tx.Exec(`INSERT INTO investment_node_ent(node_id, enterprise_id, role, chain_leader) VALUES(?,?,?,?)
		ON CONFLICT(node_id, enterprise_id) DO UPDATE SET role=excluded.role, chain_leader=excluded.chain_leader`, in.NodeID, in.EnterpriseID, in.Role, in.ChainLeader)
	return map[string]bool{"linked": err == nil}, err
}

// ---- parks ----

// ParkInput is a park (园区) or carrier (载体).
type ParkInput struct {
	Name       string  `json:"name"`
	Kind       string  `json:"kind" doc:"园区 or 载体"`
	Address    string  `json:"address,omitempty"`
	TotalArea  float64 `json:"total_area" doc:"m²"`
	VacantArea float64 `json:"vacant_area" doc:"m²"`
	Price      float64 `json:"price"`
	PriceUnit  string  `json:"price_unit,omitempty" doc:"e.g. 元/m²·月, 万元/亩"`
}

// Check validates the input.
func (in *ParkInput) Check() map[string]string {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 100)
	v.OneOf("kind", in.Kind, "园区", "载体")
	v.Text("address", in.Address, 0, 200)
	v.Check(in.TotalArea >= 0 && in.TotalArea < 1e10, "total_area", "must be a non-negative area")
	v.Check(in.VacantArea >= 0 && in.VacantArea <= in.TotalArea, "vacant_area", "must be between 0 and total_area")
	v.Check(in.Price >= 0 && in.Price < 1e9, "price", "must not be negative")
	v.Text("price_unit", in.PriceUnit, 0, 20)
	return fieldsOf(&v)
}

// Validate implements httpapi.Validatable.
func (in *ParkInput) Validate() error {
	if f := in.Check(); f != nil {
		return invalid("park", f)
	}
	return nil
}

func insertPark(tx *store.Tx, in ParkInput) (int64, error) {
	if f := in.Check(); f != nil {
		return 0, invalid("park", f)
	}
	var n int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM investment_park WHERE name = ?`, in.Name).Scan(&n)
	if n > 0 {
		return 0, &store.Error{Code: "conflict", Message: "park " + in.Name + " already exists", Fields: map[string]string{"name": "already exists"}}
	}
	res, err := tx.Exec(`INSERT INTO investment_park(name, kind, address, total_area, vacant_area, price, price_unit, created_at) VALUES(?,?,?,?,?,?,?,?)`,
		in.Name, in.Kind, in.Address, in.TotalArea, in.VacantArea, in.Price, in.PriceUnit, now(tx))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (m *Module) applyParkCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in ParkInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	id, err := insertPark(tx, in)
	if err != nil {
		return nil, err
	}
	return getPark(context.Background(), tx, id)
}

type parkImport struct {
	Rows []ParkInput `json:"rows"`
}

func (m *Module) applyParkImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var in parkImport
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ids := []int64{}
	for i, r := range in.Rows {
		id, err := insertPark(tx, r)
		if err != nil {
			e := store.AsError(err)
			return nil, &store.Error{Code: e.Code, Message: fmt.Sprintf("row %d: %s", i+1, e.Message), Fields: e.Fields}
		}
		ids = append(ids, id)
	}
	return map[string][]int64{"ids": ids}, nil
}

// SpaceInput is a plot (地块) or building (楼宇/厂房) of a park.
type SpaceInput struct {
	ParkID     int64   `json:"park_id,omitempty"`
	Name       string  `json:"name"`
	Kind       string  `json:"kind" doc:"地块, 楼宇, 厂房"`
	Area       float64 `json:"area"`
	VacantArea float64 `json:"vacant_area"`
	Price      float64 `json:"price"`
}

// Validate implements httpapi.Validatable.
func (in *SpaceInput) Validate() error {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 100)
	v.OneOf("kind", in.Kind, "地块", "楼宇", "厂房")
	v.Check(in.Area >= 0, "area", "must not be negative")
	v.Check(in.VacantArea >= 0 && in.VacantArea <= in.Area, "vacant_area", "must be between 0 and area")
	v.Check(in.Price >= 0, "price", "must not be negative")
	if f := fieldsOf(&v); f != nil {
		return invalid("space", f)
	}
	return nil
}

func (m *Module) applySpaceCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in SpaceInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if _, err := getPark(context.Background(), tx, in.ParkID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO investment_space(park_id, name, kind, area, vacant_area, price) VALUES(?,?,?,?,?,?)`, in.ParkID, in.Name, in.Kind, in.Area, in.VacantArea, in.Price); err != nil {
		return nil, err
	}
	return getPark(context.Background(), tx, in.ParkID)
}

// Park is a park with its spaces.
type Park struct {
	ID int64 `json:"id"`
	ParkInput
	Spaces    []Space `json:"spaces,omitempty"`
	Leads     []Lead  `json:"leads,omitempty" doc:"leads interested in this park"`
	CreatedAt string  `json:"created_at"`
}

// Space is a plot or building.
type Space struct {
	ID int64 `json:"id"`
	SpaceInput
}

func getPark(ctx context.Context, q querier, id int64) (*Park, error) {
	var p Park
	err := q.QueryRowContext(ctx, `SELECT id, name, kind, address, total_area, vacant_area, price, price_unit, created_at FROM investment_park WHERE id = ?`, id).
		Scan(&p.ID, &p.Name, &p.Kind, &p.Address, &p.TotalArea, &p.VacantArea, &p.Price, &p.PriceUnit, &p.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "park %d not found", id)
	}
	return &p, err
}

// ---- leads ----

// LeadInput creates a lead.
type LeadInput struct {
	Name               string  `json:"name" doc:"项目名称"`
	EnterpriseID       int64   `json:"enterprise_id,omitempty"`
	Company            string  `json:"company,omitempty" doc:"investor name when not in the library"`
	Industry           string  `json:"industry,omitempty"`
	ChainID            int64   `json:"chain_id,omitempty"`
	NodeID             int64   `json:"node_id,omitempty"`
	ParkID             int64   `json:"park_id,omitempty" doc:"park the investor is looking at"`
	Source             string  `json:"source,omitempty" doc:"e.g. 以商招商, 展会, 中介"`
	OwnerID            int64   `json:"owner_id,omitempty" doc:"招商负责人 (default: creator)"`
	DeptID             int64   `json:"dept_id,omitempty"`
	Probability        int     `json:"probability" doc:"0..100"`
	ExpectedInvestment float64 `json:"expected_investment" doc:"万元"`
	Note               string  `json:"note,omitempty"`
}

// Check validates the input.
func (in *LeadInput) Check() map[string]string {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 100)
	v.Text("company", in.Company, 0, 100)
	v.Text("industry", in.Industry, 0, 40)
	v.Text("source", in.Source, 0, 40)
	v.Check(in.Probability >= 0 && in.Probability <= 100, "probability", "must be 0..100")
	v.Check(in.ExpectedInvestment >= 0 && in.ExpectedInvestment < 1e9, "expected_investment", "must be between 0 and 1e9 (万元)")
	v.MultilineText("note", in.Note, 2000)
	return fieldsOf(&v)
}

// Validate implements httpapi.Validatable.
func (in *LeadInput) Validate() error {
	if f := in.Check(); f != nil {
		return invalid("lead", f)
	}
	return nil
}

// Lead is a lead as the API shows it.
type Lead struct {
	ID int64 `json:"id"`
	LeadInput
	Stage      string `json:"stage"`
	Lost       bool   `json:"lost"`
	LostReason string `json:"lost_reason,omitempty"`
	ProjectID  int64  `json:"project_id,omitempty" doc:"重大项目 created from this lead"`
	SignedAt   string `json:"signed_at,omitempty"`
	LandedAt   string `json:"landed_at,omitempty" doc:"reached 注册"`
	CreatedBy  int64  `json:"created_by"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

const leadCols = `id, name, enterprise_id, company, industry, chain_id, node_id, park_id, source, owner_id, dept_id, probability, expected_investment, note,
	stage, lost, lost_reason, project_id, signed_at, landed_at, created_by, created_at, updated_at`

func scanLead(s scanner) (*Lead, error) {
	var l Lead
	err := s.Scan(&l.ID, &l.Name, &l.EnterpriseID, &l.Company, &l.Industry, &l.ChainID, &l.NodeID, &l.ParkID, &l.Source, &l.OwnerID, &l.DeptID,
		&l.Probability, &l.ExpectedInvestment, &l.Note, &l.Stage, &l.Lost, &l.LostReason, &l.ProjectID, &l.SignedAt, &l.LandedAt, &l.CreatedBy, &l.CreatedAt, &l.UpdatedAt)
	return &l, err
}

func getLead(ctx context.Context, q querier, id int64) (*Lead, error) {
	l, err := scanLead(q.QueryRowContext(ctx, `SELECT `+leadCols+` FROM investment_lead WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "lead %d not found", id)
	}
	return l, err
}

func checkLeadRefs(tx *store.Tx, in LeadInput) error {
	for _, ref := range []struct {
		id          int64
		table, what string
	}{{in.EnterpriseID, "investment_enterprise", "enterprise_id"}, {in.ChainID, "investment_chain", "chain_id"}, {in.NodeID, "investment_node", "node_id"}, {in.ParkID, "investment_park", "park_id"}} {
		if ref.id == 0 {
			continue
		}
		var n int
		_ = tx.QueryRow(`SELECT COUNT(*) FROM `+ref.table+` WHERE id = ?`, ref.id).Scan(&n)
		if n == 0 {
			return &store.Error{Code: "invalid", Message: fmt.Sprintf("%s: %d not found", ref.what, ref.id), Fields: map[string]string{ref.what: "not found"}}
		}
	}
	return nil
}

func insertLead(tx *store.Tx, in LeadInput) (int64, error) {
	if f := in.Check(); f != nil {
		return 0, invalid("lead", f)
	}
	if err := checkLeadRefs(tx, in); err != nil {
		return 0, err
	}
	if in.OwnerID == 0 {
		in.OwnerID = actorUser(tx.Actor())
	}
	t := now(tx)
	res, err := tx.Exec(`INSERT INTO investment_lead(name, enterprise_id, company, industry, chain_id, node_id, park_id, source, owner_id, dept_id, probability, expected_investment, note, stage, created_by, created_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, in.Name, in.EnterpriseID, in.Company, in.Industry, in.ChainID, in.NodeID, in.ParkID, in.Source, in.OwnerID, in.DeptID,
		in.Probability, in.ExpectedInvestment, in.Note, Stages[0], actorUser(tx.Actor()), t, t)
	if err != nil {
		return 0, err
	}
	id, _ := res.LastInsertId()
	_, err = tx.Exec(`INSERT INTO investment_lead_log(lead_id, from_stage, to_stage, note, actor, at) VALUES(?,?,?,?,?,?)`, id, "", Stages[0], "", tx.Actor(), t)
	return id, err
}

func (m *Module) applyLeadCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in LeadInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	id, err := insertLead(tx, in)
	if err != nil {
		return nil, err
	}
	return getLead(context.Background(), tx, id)
}

type leadUpdate struct {
	ID int64 `json:"id"`
	LeadInput
}

// applyLeadUpdate replaces a lead's editable fields (owner, department,
// probability, expected investment, park, ...); the stage changes only
// through moves.
func (m *Module) applyLeadUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in leadUpdate
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if f := in.Check(); f != nil {
		return nil, invalid("lead", f)
	}
	ctx := context.Background()
	l, err := getLead(ctx, tx, in.ID)
	if err != nil {
		return nil, err
	}
	if err := checkLeadRefs(tx, in.LeadInput); err != nil {
		return nil, err
	}
	if in.OwnerID == 0 {
		in.OwnerID = l.OwnerID
	}
	if _, err := tx.Exec(`UPDATE investment_lead SET name=?, enterprise_id=?, company=?, industry=?, chain_id=?, node_id=?, park_id=?, source=?, owner_id=?, dept_id=?,
		probability=?, expected_investment=?, note=?, updated_at=? WHERE id=?`, in.Name, in.EnterpriseID, in.Company, in.Industry, in.ChainID, in.NodeID, in.ParkID, in.Source,
		in.OwnerID, in.DeptID, in.Probability, in.ExpectedInvestment, in.Note, now(tx), in.ID); err != nil {
		return nil, err
	}
	return getLead(ctx, tx, in.ID)
}

type parkUpdate struct {
	ID int64 `json:"id"`
	ParkInput
}

func (m *Module) applyParkUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in parkUpdate
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if f := in.Check(); f != nil {
		return nil, invalid("park", f)
	}
	ctx := context.Background()
	if _, err := getPark(ctx, tx, in.ID); err != nil {
		return nil, err
	}
	var n int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM investment_park WHERE name = ? AND id <> ?`, in.Name, in.ID).Scan(&n)
	if n > 0 {
		return nil, &store.Error{Code: "conflict", Message: "park " + in.Name + " already exists", Fields: map[string]string{"name": "already exists"}}
	}
	if _, err := tx.Exec(`UPDATE investment_park SET name=?, kind=?, address=?, total_area=?, vacant_area=?, price=?, price_unit=? WHERE id=?`,
		in.Name, in.Kind, in.Address, in.TotalArea, in.VacantArea, in.Price, in.PriceUnit, in.ID); err != nil {
		return nil, err
	}
	return getPark(ctx, tx, in.ID)
}

type leadImport struct {
	Rows []LeadInput `json:"rows"`
}

func (m *Module) applyLeadImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var in leadImport
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ids := []int64{}
	for i, r := range in.Rows {
		id, err := insertLead(tx, r)
		if err != nil {
			e := store.AsError(err)
			return nil, &store.Error{Code: e.Code, Message: fmt.Sprintf("row %d: %s", i+1, e.Message), Fields: e.Fields}
		}
		ids = append(ids, id)
	}
	return map[string][]int64{"ids": ids}, nil
}

// AllowedMoves lists the legal next stages of a lead.
func AllowedMoves(l *Lead) []string {
	if l.Lost {
		return []string{}
	}
	i := stageIndex(l.Stage)
	out := []string{}
	if i+1 < len(Stages) {
		out = append(out, Stages[i+1])
	}
	if i < stageIndex(StageSigned) {
		out = append(out, Lost)
	}
	return out
}

// MoveInput moves a lead along the pipeline.
type MoveInput struct {
	ID          int64   `json:"id,omitempty"`
	To          string  `json:"to" doc:"the next stage, or 丢失 (before 签约)"`
	Note        string  `json:"note,omitempty"`
	LostReason  string  `json:"lost_reason,omitempty" doc:"required for 丢失"`
	Probability *int    `json:"probability,omitempty"`
	Investment  float64 `json:"expected_investment,omitempty" doc:"update of the expected investment (万元), e.g. the signed amount"`
}

func (m *Module) applyLeadMove(tx *store.Tx, cmd *store.Command) (any, error) {
	var in MoveInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ctx := context.Background()
	l, err := getLead(ctx, tx, in.ID)
	if err != nil {
		return nil, err
	}
	allowed := AllowedMoves(l)
	if !slices.Contains(allowed, in.To) {
		state := l.Stage
		if l.Lost {
			state += "（已丢失）"
		}
		return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("lead %d is at %s: moving to %s is not allowed", l.ID, state, in.To), Allowed: allowed}
	}
	if in.Probability != nil && (*in.Probability < 0 || *in.Probability > 100) {
		return nil, store.Errorf("invalid", "probability must be 0..100")
	}
	if in.Investment < 0 || in.Investment > 1e9 || len([]rune(in.Note)) > 2000 || len([]rune(in.LostReason)) > 500 {
		return nil, store.Errorf("invalid", "expected_investment, note or lost_reason out of range")
	}
	t := now(tx)
	if in.To == Lost {
		if strings.TrimSpace(in.LostReason) == "" {
			return nil, &store.Error{Code: "invalid", Message: "lost_reason: 丢失 needs a reason", Fields: map[string]string{"lost_reason": "is required"}}
		}
		_, err = tx.Exec(`UPDATE investment_lead SET lost=1, lost_reason=?, updated_at=? WHERE id=?`, in.LostReason, t, l.ID)
	} else {
		set := `stage=?, updated_at=?`
		args := []any{in.To, t}
		if in.To == StageSigned {
			set += `, signed_at=?`
			args = append(args, t)
		}
		if in.To == StageRegistered {
			set += `, landed_at=?`
			args = append(args, t)
		}
		if in.Probability != nil {
			set += `, probability=?`
			args = append(args, *in.Probability)
		}
		if in.Investment > 0 {
			set += `, expected_investment=?`
			args = append(args, in.Investment)
		}
		_, err = tx.Exec(`UPDATE investment_lead SET `+set+` WHERE id=?`, append(args, l.ID)...)
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO investment_lead_log(lead_id, from_stage, to_stage, note, actor, at) VALUES(?,?,?,?,?,?)`, l.ID, l.Stage, in.To, strings.TrimSpace(in.Note+" "+in.LostReason), tx.Actor(), t); err != nil {
		return nil, err
	}
	return getLead(ctx, tx, l.ID)
}

type linkProject struct {
	ID        int64 `json:"id"`
	ProjectID int64 `json:"project_id"`
}

func (m *Module) applyLeadLinkProject(tx *store.Tx, cmd *store.Command) (any, error) {
	var in linkProject
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	l, err := getLead(context.Background(), tx, in.ID)
	if err != nil {
		return nil, err
	}
	if l.ProjectID != 0 && l.ProjectID != in.ProjectID {
		return nil, store.Errorf("conflict", "lead %d is already linked to project %d", l.ID, l.ProjectID)
	}
	if _, err := tx.Exec(`UPDATE investment_lead SET project_id=?, updated_at=? WHERE id=?`, in.ProjectID, now(tx), in.ID); err != nil {
		return nil, err
	}
	return getLead(context.Background(), tx, in.ID)
}

// ---- visits ----

// Visit kinds.
var VisitKinds = []string{"外访", "来访", "考察"}

// VisitInput records a visit or follow-up.
type VisitInput struct {
	LeadID     int64  `json:"lead_id,omitempty"`
	Kind       string `json:"kind" doc:"外访, 来访, 考察"`
	Date       string `json:"date" doc:"YYYY-MM-DD"`
	Summary    string `json:"summary"`
	NextAction string `json:"next_action,omitempty"`
	RemindAt   string `json:"remind_at,omitempty" doc:"YYYY-MM-DD reminder for the next follow-up"`
}

func validDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := strconv.Atoi(strings.ReplaceAll(s, "-", ""))
	return err == nil && s[4] == '-' && s[7] == '-' && s[5:7] >= "01" && s[5:7] <= "12" && s[8:] >= "01" && s[8:] <= "31"
}

// Validate implements httpapi.Validatable.
func (in *VisitInput) Validate() error {
	var v httpapi.Validator
	v.OneOf("kind", in.Kind, VisitKinds...)
	v.Check(validDate(in.Date), "date", "must be YYYY-MM-DD")
	v.Check(in.RemindAt == "" || validDate(in.RemindAt), "remind_at", "must be YYYY-MM-DD")
	v.Text("summary", strings.TrimSpace(in.Summary), 1, 2000)
	v.Text("next_action", in.NextAction, 0, 500)
	if f := fieldsOf(&v); f != nil {
		return invalid("visit", f)
	}
	return nil
}

func (m *Module) applyVisitCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in VisitInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if _, err := getLead(context.Background(), tx, in.LeadID); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`INSERT INTO investment_visit(lead_id, kind, date, summary, next_action, remind_at, actor, created_at) VALUES(?,?,?,?,?,?,?,?)`,
		in.LeadID, in.Kind, in.Date, in.Summary, in.NextAction, in.RemindAt, tx.Actor(), now(tx))
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	return map[string]int64{"id": id}, nil
}

func (m *Module) applyVisitDone(tx *store.Tx, cmd *store.Command) (any, error) {
	var in struct {
		ID int64 `json:"id"`
	}
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`UPDATE investment_visit SET done=1 WHERE id=?`, in.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "visit %d not found", in.ID)
	}
	return map[string]bool{"done": true}, nil
}

// ---- Go API ----

// Lead returns one lead.
func (m *Module) Lead(ctx context.Context, id int64) (*Lead, error) {
	return getLead(ctx, m.st.DB(), id)
}

// Enterprise returns one enterprise (phone unmasked: Go callers decide).
func (m *Module) Enterprise(ctx context.Context, id int64) (*Enterprise, error) {
	return getEnterprise(ctx, m.st.DB(), id)
}

// ProjectInput customises the project created from a lead.
type ProjectInput struct {
	DeptID          int64   `json:"dept_id" doc:"责任单位 (required)"`
	Name            string  `json:"name,omitempty" doc:"default: the lead's name"`
	Type            string  `json:"type,omitempty" doc:"default 产业项目"`
	TotalInvestment float64 `json:"total_investment,omitempty" doc:"default: the lead's expected investment"`
	OwnerName       string  `json:"owner_name,omitempty"`
	LeaderName      string  `json:"leader_name,omitempty"`
	GridCode        string  `json:"grid_code,omitempty"`
	Address         string  `json:"address,omitempty"`
	PlanStart       string  `json:"plan_start,omitempty"`
	PlanFinish      string  `json:"plan_finish,omitempty"`
}

// ToProject turns a signed lead into a major project in one action: it
// calls the projects module's Go API (idempotent per lead) and records the
// project on the lead. Calling it again returns the same project.
func (m *Module) ToProject(ctx context.Context, actor string, leadID int64, in ProjectInput) (*Lead, *projects.Project, error) {
	if m.opts.Projects == nil {
		return nil, nil, store.Errorf("unavailable", "the projects module is not installed")
	}
	l, err := m.Lead(ctx, leadID)
	if err != nil {
		return nil, nil, err
	}
	if l.Lost || stageIndex(l.Stage) < stageIndex(StageSigned) {
		return nil, nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("lead %d is at %s: only a signed lead (签约 or later) becomes a project", l.ID, l.Stage), Allowed: AllowedMoves(l)}
	}
	pin := projects.ProjectInput{Name: in.Name, Type: in.Type, Industry: l.Industry, TotalInvestment: in.TotalInvestment, DeptID: in.DeptID,
		OwnerName: in.OwnerName, LeaderName: in.LeaderName, GridCode: in.GridCode, Address: in.Address, PlanStart: in.PlanStart, PlanFinish: in.PlanFinish,
		Content: "招商引资项目，投资方：" + firstNonEmpty(l.Company, l.Name)}
	if pin.Name == "" {
		pin.Name = l.Name
	}
	if pin.Type == "" {
		pin.Type = "产业项目"
	}
	if pin.TotalInvestment == 0 {
		pin.TotalInvestment = l.ExpectedInvestment
	}
	if pin.DeptID == 0 {
		pin.DeptID = l.DeptID
	}
	p, err := m.opts.Projects.ProjectByLead(ctx, l.ID)
	if err != nil {
		p, err = m.opts.Projects.CreateFromLead(ctx, actor, projects.LeadProject{LeadID: l.ID, ProjectInput: pin})
	}
	if err != nil {
		return nil, nil, err
	}
	cmd, err := store.NewCommand(CmdLeadLinkProject, 1, linkProject{ID: l.ID, ProjectID: p.ID})
	if err != nil {
		return nil, nil, err
	}
	cmd.Actor, cmd.IdempotencyKey = actor, fmt.Sprintf("lead-link-project:%d:%d", l.ID, p.ID)
	res, err := m.st.Apply(ctx, cmd)
	if err != nil {
		return nil, nil, err
	}
	var out Lead
	if err := res.Decode(&out); err != nil {
		return nil, nil, err
	}
	return &out, p, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
