package investment

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/app/projects/sheet"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

var entListSpec = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "e.id", "name": "e.name", "credit_code": "e.credit_code", "updated_at": "e.updated_at"},
	DefaultSort: "-id",
	Tiebreak:    "e.id",
	Search:      []string{"e.name", "e.credit_code"},
	Filters: map[string]httpapi.Filter{
		"industry": {Column: "e.industry"},
		"scale":    {Column: "e.scale", Kind: httpapi.FilterIn},
		"local":    {Column: "e.local", Kind: httpapi.FilterBool},
		"chain_id": {Column: "e.chain_id", Kind: httpapi.FilterInt},
		"tag": {Doc: "one tag", Func: func(v string) (string, []any, error) {
			return "(',' || e.tags || ',') LIKE ? ESCAPE '\\'", []any{"%," + httpapi.EscapeLike(v) + ",%"}, nil
		}},
	},
}

var leadListSpec = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "id", "updated_at": "updated_at", "expected_investment": "expected_investment", "probability": "probability"},
	DefaultSort: "-updated_at",
	Tiebreak:    "id",
	Search:      []string{"name", "company"},
	Filters: map[string]httpapi.Filter{
		"stage":    {Column: "stage", Kind: httpapi.FilterIn},
		"lost":     {Column: "lost", Kind: httpapi.FilterBool},
		"owner_id": {Column: "owner_id", Kind: httpapi.FilterInt},
		"chain_id": {Column: "chain_id", Kind: httpapi.FilterInt},
		"park_id":  {Column: "park_id", Kind: httpapi.FilterInt},
		"industry": {Column: "industry"},
	},
}

var leadScope = httpapi.ScopeColumns{Dept: "dept_id", Owner: "owner_id"}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	read, write := httpapi.PermInvestRead, httpapi.PermInvestWrite
	h := func(method, path, summary, perm string, req, resp any, status int, fn httpapi.HandlerFunc, mod ...func(*httpapi.Route)) {
		rt := httpapi.Route{Method: method, Path: path, Summary: summary, Perm: perm, Tags: []string{"investment"}, Request: req, Response: resp, Status: status, Handler: fn}
		for _, f := range mod {
			f(&rt)
		}
		r.Handle(rt)
	}
	xlsxOut := func(rt *httpapi.Route) { rt.ResponseContentType = sheet.ContentType; rt.NoTimeout = true }
	xlsxIn := func(rt *httpapi.Route) {
		rt.RequestContentType = sheet.ContentType
		rt.MaxBody = 10 << 20
		rt.Query = []httpapi.Param{{Name: "commit", Type: "boolean", Description: "false (default): preview every row's errors; true: write all rows, or nothing when any row is bad"}}
	}
	h("GET", "/api/v1/enterprises", "List enterprises (contact phones masked without investment.contact)", read, nil, httpapi.Page[Enterprise]{}, 0, m.listEnterprises, func(rt *httpapi.Route) { rt.List = entListSpec })
	h("POST", "/api/v1/enterprises", "Add an enterprise (统一社会信用代码 checked, GB 32100-2015)", write, EnterpriseInput{}, Enterprise{}, http.StatusCreated, m.createEnterprise)
	h("GET", "/api/v1/enterprises/{id}", "Enterprise profile: chain nodes and leads", read, nil, Profile{}, 0, m.getEnterprise)
	h("PUT", "/api/v1/enterprises/{id}", "Replace an enterprise", write, EnterpriseInput{}, Enterprise{}, 0, m.updateEnterprise)
	h("GET", "/api/v1/enterprises/export", "Export enterprises as .xlsx", read, nil, nil, 0, m.exportEnterprises, xlsxOut)
	h("POST", "/api/v1/enterprises/import", "Import enterprises from .xlsx (preview or commit)", write, nil, sheet.Report{}, 0, m.importEnterprises, xlsxIn)

	h("GET", "/api/v1/chains", "List industry chains with coverage", read, nil, []Chain{}, 0, m.listChains)
	h("POST", "/api/v1/chains", "Create an industry chain", write, ChainInput{}, nil, http.StatusCreated, m.simple(CmdChainCreate, func(*http.Request, int64) (any, error) { return &ChainInput{}, nil }, false))
	h("GET", "/api/v1/chains/{id}", "Chain map: nodes by tier with local and target enterprises, 链主", read, nil, Chain{}, 0, m.getChain)
	h("POST", "/api/v1/chains/{id}/nodes", "Add a node (上游/中游/下游) to a chain", write, NodeInput{}, nil, http.StatusCreated, m.simple(CmdNodeCreate, func(_ *http.Request, id int64) (any, error) { return &NodeInput{ChainID: id}, nil }, true))
	h("POST", "/api/v1/chain-nodes/{id}/enterprises", "Link (or remove) a local or target enterprise on a node", write, LinkInput{}, nil, 0, m.simple(CmdNodeLink, func(_ *http.Request, id int64) (any, error) { return &LinkInput{NodeID: id}, nil }, true))
	h("GET", "/api/v1/chains/{id}/gaps", "Chain-gap analysis (补链/强链/延链) ranked by the configured score", read, nil, []Gap{}, 0, m.gaps)
	h("GET", "/api/v1/investment/gap-weights", "Weights of the chain-gap score", read, nil, GapWeights{}, 0, m.getGapWeights)
	h("PUT", "/api/v1/investment/gap-weights", "Replace the weights of the chain-gap score", write, GapWeights{}, GapWeights{}, 0, m.simple(CmdGapWeightsSet, func(*http.Request, int64) (any, error) { return &GapWeights{}, nil }, false))

	h("GET", "/api/v1/parks", "List parks and carriers", read, nil, []Park{}, 0, m.listParks)
	h("POST", "/api/v1/parks", "Add a park (园区) or carrier (载体)", write, ParkInput{}, Park{}, http.StatusCreated, m.simple(CmdParkCreate, func(*http.Request, int64) (any, error) { return &ParkInput{}, nil }, false))
	h("GET", "/api/v1/parks/{id}", "A park with plots/buildings and the leads looking at it", read, nil, Park{}, 0, m.getPark)
	h("PUT", "/api/v1/parks/{id}", "Replace a park's fields (area, vacancy, price)", write, ParkInput{}, Park{}, 0, m.updatePark)
	h("POST", "/api/v1/parks/{id}/spaces", "Add a plot or building to a park", write, SpaceInput{}, Park{}, http.StatusCreated, m.simple(CmdSpaceCreate, func(_ *http.Request, id int64) (any, error) { return &SpaceInput{ParkID: id}, nil }, true))
	h("GET", "/api/v1/parks/export", "Export parks as .xlsx", read, nil, nil, 0, m.exportParks, xlsxOut)
	h("POST", "/api/v1/parks/import", "Import parks from .xlsx (preview or commit)", write, nil, sheet.Report{}, 0, m.importParks, xlsxIn)

	h("GET", "/api/v1/leads", "List leads (data scope: department and owner)", read, nil, httpapi.Page[Lead]{}, 0, m.listLeads, func(rt *httpapi.Route) { rt.List = leadListSpec })
	h("POST", "/api/v1/leads", "Create a lead (stage 线索)", write, LeadInput{}, Lead{}, http.StatusCreated, m.createLead)
	h("GET", "/api/v1/leads/{id}", "A lead with its stage log, visits and allowed moves", read, nil, LeadDetail{}, 0, m.getLead)
	h("PUT", "/api/v1/leads/{id}", "Replace a lead's editable fields (owner, department, probability, expected investment, park...)", write, LeadInput{}, Lead{}, 0, m.updateLead)
	h("POST", "/api/v1/leads/{id}/move", "Move a lead to the next stage or 丢失 (409 lists allowed moves)", write, MoveInput{}, Lead{}, 0, m.moveLead)
	h("POST", "/api/v1/leads/{id}/project", "Turn a signed lead into a major project (idempotent; linked both ways)", write, ProjectInput{}, ToProjectOutput{}, http.StatusCreated, m.toProject)
	h("POST", "/api/v1/leads/{id}/visits", "Record a visit (外访/来访/考察) with an optional reminder", write, VisitInput{}, nil, http.StatusCreated, m.createVisit)
	h("POST", "/api/v1/investment-visits/{id}/done", "Mark a visit's reminder done", write, nil, nil, 0, m.visitDone)
	h("GET", "/api/v1/investment/reminders", "Follow-up reminders due by a date (default today)", read, nil, []Reminder{}, 0, m.reminders, func(rt *httpapi.Route) {
		rt.Query = []httpapi.Param{{Name: "until", Description: "YYYY-MM-DD"}}
	})
	h("GET", "/api/v1/leads/export", "Export leads as .xlsx", read, nil, nil, 0, m.exportLeads, xlsxOut)
	h("POST", "/api/v1/leads/import", "Import leads from .xlsx (preview or commit)", write, nil, sheet.Report{}, 0, m.importLeads, xlsxIn)
	h("GET", "/api/v1/investment/dashboard", "Pipeline by stage, signed and landed investment by month, chain coverage", read, nil, Dashboard{}, 0, m.dashboard, func(rt *httpapi.Route) {
		rt.Query = []httpapi.Param{{Name: "year", Type: "integer"}}
	})
}

// simple decodes into the value mk returns (with the path id when withID)
// and applies typ.
func (m *Module) simple(typ string, mk func(*http.Request, int64) (any, error), withID bool) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var id int64
		if withID {
			var err error
			if id, err = httpapi.PathInt64(r, "id"); err != nil {
				return err
			}
		}
		in, err := mk(r, id)
		if err != nil {
			return err
		}
		if err := httpapi.Decode(r, in); err != nil {
			return err
		}
		switch v := in.(type) {
		case *NodeInput:
			v.ChainID = id
		case *LinkInput:
			v.NodeID = id
		case *SpaceInput:
			v.ParkID = id
		}
		res, err := httpapi.Apply(r, m.st, typ, 1, in)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if r.Method == "POST" && typ != CmdNodeLink {
			status = http.StatusCreated
		}
		return httpapi.JSON(w, status, res.Value)
	}
}

func each(ctx context.Context, db *sql.DB, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (m *Module) listEnterprises(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, entListSpec)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	var total int
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*) FROM investment_enterprise e`+" "+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	items := []Enterprise{}
	err = each(r.Context(), m.st.DB(), `SELECT `+entCols+` FROM investment_enterprise e`+" "+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), q.Args(), func(rs *sql.Rows) error {
		e, err := scanEnterprise(rs)
		if err != nil {
			return err
		}
		e.maskFor(p)
		items = append(items, *e)
		return nil
	})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Enterprise]{Items: items, Total: total})
}

func (m *Module) createEnterprise(w http.ResponseWriter, r *http.Request) error {
	var in EnterpriseInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdEnterpriseCreate, 1, in)
	if err != nil {
		return err
	}
	var e Enterprise
	if err := res.Decode(&e); err != nil {
		return err
	}
	e.maskFor(httpapi.MustPrincipal(r))
	return httpapi.JSON(w, http.StatusCreated, e)
}

func (m *Module) updateEnterprise(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	var in EnterpriseInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdEnterpriseUpdate, 1, enterpriseUpdate{ID: id, EnterpriseInput: in})
	if err != nil {
		return err
	}
	var e Enterprise
	if err := res.Decode(&e); err != nil {
		return err
	}
	e.maskFor(httpapi.MustPrincipal(r))
	return httpapi.JSON(w, http.StatusOK, e)
}

// Profile is an enterprise's profile page.
type Profile struct {
	Enterprise
	Nodes []ProfileNode `json:"nodes"`
	Leads []Lead        `json:"leads" doc:"visible leads of this enterprise"`
}

// ProfileNode is a chain node the enterprise is linked to.
type ProfileNode struct {
	ChainID     int64  `json:"chain_id"`
	Chain       string `json:"chain"`
	NodeID      int64  `json:"node_id"`
	Node        string `json:"node"`
	Tier        string `json:"tier"`
	Role        string `json:"role"`
	ChainLeader bool   `json:"chain_leader"`
}

func (m *Module) getEnterprise(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	e, err := m.Enterprise(r.Context(), id)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	e.maskFor(p)
	out := Profile{Enterprise: *e, Nodes: []ProfileNode{}, Leads: []Lead{}}
	if err := each(r.Context(), m.st.DB(), `SELECT c.id, c.name, n.id, n.name, n.tier, ne.role, ne.chain_leader FROM investment_node_ent ne
		JOIN investment_node n ON n.id = ne.node_id JOIN investment_chain c ON c.id = n.chain_id WHERE ne.enterprise_id = ? ORDER BY c.id, n.id`, []any{id}, func(rs *sql.Rows) error {
		var x ProfileNode
		if err := rs.Scan(&x.ChainID, &x.Chain, &x.NodeID, &x.Node, &x.Tier, &x.Role, &x.ChainLeader); err != nil {
			return err
		}
		out.Nodes = append(out.Nodes, x)
		return nil
	}); err != nil {
		return err
	}
	cond, args := p.ScopeFilter(leadScope)
	if err := each(r.Context(), m.st.DB(), `SELECT `+leadCols+` FROM investment_lead WHERE enterprise_id = ? AND `+cond+` ORDER BY id`, append([]any{id}, args...), func(rs *sql.Rows) error {
		l, err := scanLead(rs)
		if err == nil {
			out.Leads = append(out.Leads, *l)
		}
		return err
	}); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) listChains(w http.ResponseWriter, r *http.Request) error {
	var ids []int64
	if err := each(r.Context(), m.st.DB(), `SELECT id FROM investment_chain ORDER BY id`, nil, func(rs *sql.Rows) error {
		var id int64
		err := rs.Scan(&id)
		ids = append(ids, id)
		return err
	}); err != nil {
		return err
	}
	out := []Chain{}
	for _, id := range ids {
		c, err := m.chain(r.Context(), id)
		if err != nil {
			return err
		}
		out = append(out, *c)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) getChain(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	c, err := m.chain(r.Context(), id)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, c)
}

func (m *Module) gaps(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	c, err := m.chain(r.Context(), id)
	if err != nil {
		return err
	}
	g, err := m.gapWeights(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, Gaps(c, g))
}

func (m *Module) getGapWeights(w http.ResponseWriter, r *http.Request) error {
	g, err := m.gapWeights(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, g)
}

func (m *Module) parks(ctx context.Context) ([]Park, error) {
	out := []Park{}
	err := each(ctx, m.st.DB(), `SELECT id, name, kind, address, total_area, vacant_area, price, price_unit, created_at FROM investment_park ORDER BY id`, nil, func(rs *sql.Rows) error {
		var p Park
		if err := rs.Scan(&p.ID, &p.Name, &p.Kind, &p.Address, &p.TotalArea, &p.VacantArea, &p.Price, &p.PriceUnit, &p.CreatedAt); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

func (m *Module) listParks(w http.ResponseWriter, r *http.Request) error {
	ps, err := m.parks(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, ps)
}

func (m *Module) getPark(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	p, err := getPark(r.Context(), m.st.DB(), id)
	if err != nil {
		return err
	}
	p.Spaces, p.Leads = []Space{}, []Lead{}
	if err := each(r.Context(), m.st.DB(), `SELECT id, park_id, name, kind, area, vacant_area, price FROM investment_space WHERE park_id = ? ORDER BY id`, []any{id}, func(rs *sql.Rows) error {
		var s Space
		if err := rs.Scan(&s.ID, &s.ParkID, &s.Name, &s.Kind, &s.Area, &s.VacantArea, &s.Price); err != nil {
			return err
		}
		p.Spaces = append(p.Spaces, s)
		return nil
	}); err != nil {
		return err
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(leadScope)
	if err := each(r.Context(), m.st.DB(), `SELECT `+leadCols+` FROM investment_lead WHERE park_id = ? AND lost = 0 AND `+cond+` ORDER BY id`, append([]any{id}, args...), func(rs *sql.Rows) error {
		l, err := scanLead(rs)
		if err == nil {
			p.Leads = append(p.Leads, *l)
		}
		return err
	}); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, p)
}

func (m *Module) listLeads(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, leadListSpec)
	if err != nil {
		return err
	}
	q.Scope(httpapi.MustPrincipal(r), leadScope)
	var total int
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*) FROM investment_lead`+" "+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	items := []Lead{}
	if err := each(r.Context(), m.st.DB(), `SELECT `+leadCols+` FROM investment_lead`+" "+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), q.Args(), func(rs *sql.Rows) error {
		l, err := scanLead(rs)
		if err == nil {
			items = append(items, *l)
		}
		return err
	}); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Lead]{Items: items, Total: total})
}

func (m *Module) createLead(w http.ResponseWriter, r *http.Request) error {
	var in LeadInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if in.DeptID == 0 {
		in.DeptID = p.DeptID
	}
	if in.DeptID != 0 && p.Scope.Kind != httpapi.ScopeAll && !p.InDeptScope(in.DeptID) {
		return httpapi.Errorf(httpapi.CodeForbidden, "dept_id %d is outside your data scope", in.DeptID)
	}
	res, err := httpapi.Apply(r, m.st, CmdLeadCreate, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, res.Value)
}

func (m *Module) visibleLead(r *http.Request) (*Lead, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	l, err := m.Lead(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !httpapi.MustPrincipal(r).InScope(l.DeptID, "", l.OwnerID) {
		return nil, store.Errorf("not_found", "lead %d not found", id)
	}
	return l, nil
}

// LeadDetail is a lead with its history.
type LeadDetail struct {
	Lead
	Allowed []string  `json:"allowed" doc:"legal moves now"`
	Log     []LeadLog `json:"log"`
	Visits  []Visit   `json:"visits"`
}

// LeadLog is one stage move.
type LeadLog struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Note  string `json:"note"`
	Actor string `json:"actor"`
	At    string `json:"at"`
}

// Visit is a visit record.
type Visit struct {
	ID     int64 `json:"id"`
	LeadID int64 `json:"lead_id"`
	VisitInput
	Done  bool   `json:"done"`
	Actor string `json:"actor"`
}

func (m *Module) visits(ctx context.Context, where string, args ...any) ([]Visit, error) {
	out := []Visit{}
	err := each(ctx, m.st.DB(), `SELECT v.id, v.lead_id, v.kind, v.date, v.summary, v.next_action, v.remind_at, v.done, v.actor FROM investment_visit v `+where, args, func(rs *sql.Rows) error {
		var v Visit
		if err := rs.Scan(&v.ID, &v.LeadID, &v.Kind, &v.Date, &v.Summary, &v.NextAction, &v.RemindAt, &v.Done, &v.Actor); err != nil {
			return err
		}
		v.VisitInput.LeadID = v.LeadID
		out = append(out, v)
		return nil
	})
	return out, err
}

func (m *Module) getLead(w http.ResponseWriter, r *http.Request) error {
	l, err := m.visibleLead(r)
	if err != nil {
		return err
	}
	d := LeadDetail{Lead: *l, Allowed: AllowedMoves(l), Log: []LeadLog{}}
	if err := each(r.Context(), m.st.DB(), `SELECT from_stage, to_stage, note, actor, at FROM investment_lead_log WHERE lead_id = ? ORDER BY id`, []any{l.ID}, func(rs *sql.Rows) error {
		var x LeadLog
		if err := rs.Scan(&x.From, &x.To, &x.Note, &x.Actor, &x.At); err != nil {
			return err
		}
		d.Log = append(d.Log, x)
		return nil
	}); err != nil {
		return err
	}
	if d.Visits, err = m.visits(r.Context(), `WHERE v.lead_id = ? ORDER BY v.date DESC, v.id DESC`, l.ID); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) updateLead(w http.ResponseWriter, r *http.Request) error {
	l, err := m.visibleLead(r)
	if err != nil {
		return err
	}
	var in LeadInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if in.DeptID == 0 {
		in.DeptID = l.DeptID
	}
	if in.DeptID != l.DeptID && p.Scope.Kind != httpapi.ScopeAll && !p.InDeptScope(in.DeptID) {
		return httpapi.Errorf(httpapi.CodeForbidden, "dept_id %d is outside your data scope", in.DeptID)
	}
	res, err := httpapi.Apply(r, m.st, CmdLeadUpdate, 1, leadUpdate{ID: l.ID, LeadInput: in})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

func (m *Module) updatePark(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	var in ParkInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdParkUpdate, 1, parkUpdate{ID: id, ParkInput: in})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

func (m *Module) moveLead(w http.ResponseWriter, r *http.Request) error {
	l, err := m.visibleLead(r)
	if err != nil {
		return err
	}
	var in MoveInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.ID = l.ID
	res, err := httpapi.Apply(r, m.st, CmdLeadMove, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

// ToProjectOutput is the linked pair.
type ToProjectOutput struct {
	Lead    *Lead             `json:"lead"`
	Project *projects.Project `json:"project"`
}

func (m *Module) toProject(w http.ResponseWriter, r *http.Request) error {
	l, err := m.visibleLead(r)
	if err != nil {
		return err
	}
	var in ProjectInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if !p.Can(httpapi.PermProjectWrite) {
		return httpapi.Errorf(httpapi.CodeForbidden, "creating a major project needs the permission %s", httpapi.PermProjectWrite)
	}
	dept := in.DeptID
	if dept == 0 {
		dept = l.DeptID
	}
	if dept != 0 && !p.InScope(dept, in.GridCode, 0) {
		return httpapi.Errorf(httpapi.CodeForbidden, "dept_id %d is outside your data scope", dept)
	}
	lead, proj, err := m.ToProject(r.Context(), p.Actor(), l.ID, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, ToProjectOutput{Lead: lead, Project: proj})
}

func (m *Module) createVisit(w http.ResponseWriter, r *http.Request) error {
	l, err := m.visibleLead(r)
	if err != nil {
		return err
	}
	var in VisitInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.LeadID = l.ID
	res, err := httpapi.Apply(r, m.st, CmdVisitCreate, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, res.Value)
}

func (m *Module) visitDone(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	vs, err := m.visits(r.Context(), `WHERE v.id = ?`, id)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return store.Errorf("not_found", "visit %d not found", id)
	}
	l, err := m.Lead(r.Context(), vs[0].LeadID)
	if err != nil || !httpapi.MustPrincipal(r).InScope(l.DeptID, "", l.OwnerID) {
		return store.Errorf("not_found", "visit %d not found", id)
	}
	res, err := httpapi.Apply(r, m.st, CmdVisitDone, 1, map[string]int64{"id": id})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

// Reminder is a due follow-up.
type Reminder struct {
	Visit
	LeadName string `json:"lead_name"`
	OwnerID  int64  `json:"owner_id"`
	Overdue  bool   `json:"overdue"`
}

func (m *Module) reminders(w http.ResponseWriter, r *http.Request) error {
	today := time.Now().In(sla.China).Format("2006-01-02")
	until := today
	if s := r.URL.Query().Get("until"); s != "" {
		if !validDate(s) {
			return httpapi.FieldError("until", "must be YYYY-MM-DD")
		}
		until = s
	}
	p := httpapi.MustPrincipal(r)
	cond, args := p.ScopeFilter(httpapi.ScopeColumns{Dept: "l.dept_id", Owner: "l.owner_id"})
	out := []Reminder{}
	err := each(r.Context(), m.st.DB(), `SELECT v.id, v.lead_id, v.kind, v.date, v.summary, v.next_action, v.remind_at, v.done, v.actor, l.name, l.owner_id
		FROM investment_visit v JOIN investment_lead l ON l.id = v.lead_id
		WHERE v.done = 0 AND v.remind_at <> '' AND v.remind_at <= ? AND `+cond+` ORDER BY v.remind_at, v.id`, append([]any{until}, args...), func(rs *sql.Rows) error {
		var x Reminder
		if err := rs.Scan(&x.ID, &x.LeadID, &x.Kind, &x.Date, &x.Summary, &x.NextAction, &x.RemindAt, &x.Done, &x.Actor, &x.LeadName, &x.OwnerID); err != nil {
			return err
		}
		x.VisitInput.LeadID = x.LeadID
		x.Overdue = x.RemindAt < today
		out = append(out, x)
		return nil
	})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

// Dashboard is the investment dashboard.
type Dashboard struct {
	Year     int          `json:"year"`
	Pipeline []StageStat  `json:"pipeline"`
	Lost     int          `json:"lost"`
	Months   []MonthStat  `json:"months"`
	Coverage []ChainCover `json:"coverage"`
}

// StageStat is one pipeline stage.
type StageStat struct {
	Stage    string  `json:"stage"`
	Count    int     `json:"count"`
	Expected float64 `json:"expected_investment"`
	Weighted float64 `json:"weighted_investment" doc:"Σ expected × probability"`
}

// MonthStat is signed and landed investment in one month.
type MonthStat struct {
	Month            string  `json:"month"`
	Signed           int     `json:"signed"`
	SignedInvestment float64 `json:"signed_investment"`
	Landed           int     `json:"landed"`
	LandedInvestment float64 `json:"landed_investment"`
}

// ChainCover is the coverage of one chain.
type ChainCover struct {
	ChainID  int64   `json:"chain_id"`
	Name     string  `json:"name"`
	Nodes    int     `json:"nodes"`
	Covered  int     `json:"covered"`
	Coverage float64 `json:"coverage"`
}

func (m *Module) dashboard(w http.ResponseWriter, r *http.Request) error {
	year := time.Now().In(sla.China).Year()
	if s := r.URL.Query().Get("year"); s != "" {
		y, err := strconv.Atoi(s)
		if err != nil || y < 2000 || y > 2100 {
			return httpapi.FieldError("year", "must be a year")
		}
		year = y
	}
	ctx, db := r.Context(), m.st.DB()
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(leadScope)
	d := Dashboard{Year: year}
	byStage := map[string]*StageStat{}
	for _, s := range Stages {
		d.Pipeline = append(d.Pipeline, StageStat{Stage: s})
	}
	for i := range d.Pipeline {
		byStage[d.Pipeline[i].Stage] = &d.Pipeline[i]
	}
	if err := each(ctx, db, `SELECT stage, COUNT(*), SUM(expected_investment), SUM(expected_investment * probability / 100.0) FROM investment_lead WHERE lost = 0 AND `+cond+` GROUP BY stage`, args, func(rs *sql.Rows) error {
		var s string
		var x StageStat
		if err := rs.Scan(&s, &x.Count, &x.Expected, &x.Weighted); err != nil {
			return err
		}
		if p := byStage[s]; p != nil {
			p.Count, p.Expected, p.Weighted = x.Count, x.Expected, x.Weighted
		}
		return nil
	}); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM investment_lead WHERE lost = 1 AND `+cond, args...).Scan(&d.Lost); err != nil {
		return err
	}
	for mo := 1; mo <= 12; mo++ {
		d.Months = append(d.Months, MonthStat{Month: fmt.Sprintf("%d-%02d", year, mo)})
	}
	// Times are stored in UTC; months are counted in China time.
	for _, col := range []string{"signed_at", "landed_at"} {
		if err := each(ctx, db, `SELECT `+col+`, expected_investment FROM investment_lead WHERE `+col+` <> '' AND `+cond, args, func(rs *sql.Rows) error {
			var at string
			var inv float64
			if err := rs.Scan(&at, &inv); err != nil {
				return err
			}
			t := httpapi.ParseDBTime(at).In(sla.China)
			if t.Year() != year {
				return nil
			}
			ms := &d.Months[int(t.Month())-1]
			if col == "signed_at" {
				ms.Signed++
				ms.SignedInvestment += inv
			} else {
				ms.Landed++
				ms.LandedInvestment += inv
			}
			return nil
		}); err != nil {
			return err
		}
	}
	d.Coverage = []ChainCover{}
	if err := each(ctx, db, `SELECT c.id, c.name, COUNT(n.id),
		COUNT(CASE WHEN EXISTS (SELECT 1 FROM investment_node_ent ne WHERE ne.node_id = n.id AND ne.role = 'local') THEN 1 END)
		FROM investment_chain c LEFT JOIN investment_node n ON n.chain_id = c.id GROUP BY c.id ORDER BY c.id`, nil, func(rs *sql.Rows) error {
		var c ChainCover
		if err := rs.Scan(&c.ChainID, &c.Name, &c.Nodes, &c.Covered); err != nil {
			return err
		}
		if c.Nodes > 0 {
			c.Coverage = float64(c.Covered) / float64(c.Nodes)
		}
		d.Coverage = append(d.Coverage, c)
		return nil
	}); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

var _ = strings.TrimSpace
