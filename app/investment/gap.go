package investment

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"

	"github.com/yiwang/yiwang/store"
)

// GapWeights configure the chain-gap score. For a node with importance
// weight w (1..10) and L local enterprises:
//
//	gap       = 1 − min(L, StrongThreshold) / StrongThreshold   (1 = nobody local)
//	nodeScore = Importance × w/10 + Absence × gap + NoLeader × [no local 链主 at the node]
//
// A node is listed when L < StrongThreshold: 补链 when L = 0, 延链 when L = 0
// and the node is an extension segment, 强链 when 0 < L < StrongThreshold.
// Each target enterprise linked to a listed node scores
//
//	targetScore = nodeScore × Scale[enterprise scale] (× LeaderBonus when it is a 链主 elsewhere)
//
// and nodes and targets are ranked by score, highest first.
type GapWeights struct {
	Importance      float64            `json:"importance"`
	Absence         float64            `json:"absence"`
	NoLeader        float64            `json:"no_leader"`
	LeaderBonus     float64            `json:"leader_bonus"`
	StrongThreshold int                `json:"strong_threshold"`
	Scale           map[string]float64 `json:"scale" doc:"weight per enterprise scale; unknown scale uses the 小型 weight"`
}

// DefaultGapWeights are used until investment.gap_weights.set stores others.
func DefaultGapWeights() GapWeights {
	return GapWeights{Importance: 1, Absence: 2, NoLeader: 0.5, LeaderBonus: 1.5, StrongThreshold: 3,
		Scale: map[string]float64{"大型": 1, "中型": 0.7, "小型": 0.4, "微型": 0.2}}
}

// Validate implements httpapi.Validatable.
func (g *GapWeights) Validate() error {
	f := map[string]string{}
	if g.Importance < 0 || g.Absence < 0 || g.NoLeader < 0 {
		f["weights"] = "must not be negative"
	}
	if g.LeaderBonus < 1 || g.LeaderBonus > 10 {
		f["leader_bonus"] = "must be between 1 and 10"
	}
	if g.StrongThreshold < 1 || g.StrongThreshold > 100 {
		f["strong_threshold"] = "must be between 1 and 100"
	}
	for k, v := range g.Scale {
		if v < 0 || v > 10 {
			f["scale"] = k + " must be between 0 and 10"
		}
	}
	if len(f) > 0 {
		return invalid("gap weights", f)
	}
	return nil
}

func (m *Module) applyGapWeightsSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var g GapWeights
	if err := decode(cmd, &g); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(g)
	_, err := tx.Exec(`INSERT INTO investment_settings(id, gap_weights) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET gap_weights=excluded.gap_weights`, string(b))
	return g, err
}

func (m *Module) gapWeights(ctx context.Context) (GapWeights, error) {
	var body string
	err := m.st.DB().QueryRowContext(ctx, `SELECT gap_weights FROM investment_settings WHERE id = 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultGapWeights(), nil
	}
	if err != nil {
		return GapWeights{}, err
	}
	g := DefaultGapWeights()
	return g, json.Unmarshal([]byte(body), &g)
}

// NodeEnt is an enterprise on a chain node.
type NodeEnt struct {
	EnterpriseID int64   `json:"enterprise_id"`
	Name         string  `json:"name"`
	CreditCode   string  `json:"credit_code"`
	Scale        string  `json:"scale"`
	Region       string  `json:"region"`
	Role         string  `json:"role"`
	ChainLeader  bool    `json:"chain_leader"`
	Score        float64 `json:"score,omitempty"`
}

// Node is a chain node with its enterprises.
type Node struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Weight    float64   `json:"weight"`
	Extension bool      `json:"extension"`
	Local     []NodeEnt `json:"local"`
	Targets   []NodeEnt `json:"targets"`
}

// Chain is a chain map.
type Chain struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Nodes       []Node  `json:"nodes"`
	Covered     int     `json:"covered" doc:"nodes with at least one local enterprise"`
	Coverage    float64 `json:"coverage" doc:"covered / nodes"`
}

func (m *Module) chain(ctx context.Context, id int64) (*Chain, error) {
	db := m.st.DB()
	var c Chain
	err := db.QueryRowContext(ctx, `SELECT id, name, description FROM investment_chain WHERE id = ?`, id).Scan(&c.ID, &c.Name, &c.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "chain %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, name, tier, weight, extension FROM investment_node WHERE chain_id = ?
		ORDER BY CASE tier WHEN '上游' THEN 0 WHEN '中游' THEN 1 ELSE 2 END, id`, id)
	if err != nil {
		return nil, err
	}
	c.Nodes = []Node{}
	for rows.Next() {
		n := Node{Local: []NodeEnt{}, Targets: []NodeEnt{}}
		if err := rows.Scan(&n.ID, &n.Name, &n.Tier, &n.Weight, &n.Extension); err != nil {
			rows.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	rows.Close()
	for i := range c.Nodes {
		n := &c.Nodes[i]
		rs, err := db.QueryContext(ctx, `SELECT e.id, e.name, e.credit_code, e.scale, e.region, ne.role, ne.chain_leader
			FROM investment_node_ent ne JOIN investment_enterprise e ON e.id = ne.enterprise_id WHERE ne.node_id = ? ORDER BY e.id`, n.ID)
		if err != nil {
			return nil, err
		}
		for rs.Next() {
			var e NodeEnt
			if err := rs.Scan(&e.EnterpriseID, &e.Name, &e.CreditCode, &e.Scale, &e.Region, &e.Role, &e.ChainLeader); err != nil {
				rs.Close()
				return nil, err
			}
			if e.Role == "local" {
				n.Local = append(n.Local, e)
			} else {
				n.Targets = append(n.Targets, e)
			}
		}
		rs.Close()
		if len(n.Local) > 0 {
			c.Covered++
		}
	}
	if len(c.Nodes) > 0 {
		c.Coverage = float64(c.Covered) / float64(len(c.Nodes))
	}
	return &c, nil
}

// Gap is one node with no or weak local presence.
type Gap struct {
	NodeID     int64     `json:"node_id"`
	Node       string    `json:"node"`
	Tier       string    `json:"tier"`
	Kind       string    `json:"kind" doc:"补链, 强链, 延链"`
	LocalCount int       `json:"local_count"`
	HasLeader  bool      `json:"has_leader"`
	Score      float64   `json:"score"`
	Targets    []NodeEnt `json:"targets" doc:"ranked by score"`
}

// Gaps analyses one chain with weights g (pure: see GapWeights).
func Gaps(c *Chain, g GapWeights) []Gap {
	out := []Gap{}
	round := func(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
	for _, n := range c.Nodes {
		local := len(n.Local)
		if local >= g.StrongThreshold {
			continue
		}
		leader := false
		for _, e := range n.Local {
			leader = leader || e.ChainLeader
		}
		gap := 1 - float64(min(local, g.StrongThreshold))/float64(g.StrongThreshold)
		score := g.Importance*n.Weight/10 + g.Absence*gap
		if !leader {
			score += g.NoLeader
		}
		kind := "强链"
		if local == 0 {
			kind = "补链"
			if n.Extension {
				kind = "延链"
			}
		}
		gp := Gap{NodeID: n.ID, Node: n.Name, Tier: n.Tier, Kind: kind, LocalCount: local, HasLeader: leader, Score: round(score), Targets: []NodeEnt{}}
		for _, t := range n.Targets {
			w, ok := g.Scale[t.Scale]
			if !ok {
				w = g.Scale["小型"]
			}
			s := score * w
			if t.ChainLeader {
				s *= g.LeaderBonus
			}
			t.Score = round(s)
			gp.Targets = append(gp.Targets, t)
		}
		sort.SliceStable(gp.Targets, func(i, j int) bool { return gp.Targets[i].Score > gp.Targets[j].Score })
		out = append(out, gp)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}
