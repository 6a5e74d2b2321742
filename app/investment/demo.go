package investment

import (
	"context"
	"fmt"

	"github.com/yiwang/yiwang/app/demo"
)

func init() {
	demo.Register("investment", seedDemo)
}

// DemoCreditCode builds a valid 统一社会信用代码 from its 2-character
// registration kind, 6-digit division code and 8-character organisation
// code body (both check characters computed). Sample data only.
func DemoCreditCode(kind, division, body string) string {
	oc, err := OrgCheckChar(body)
	if err != nil {
		panic(err)
	}
	first := kind + division + body + string(oc)
	cc, err := CreditCheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(cc)
}

// seedDemo adds a 新能源电池 chain, local and target enterprises, a park and
// leads in several stages (fictional companies).
func seedDemo(ctx context.Context, s *demo.Seeder) error {
	type created struct {
		ID int64 `json:"id"`
	}
	apply := func(typ string, payload any) (int64, error) {
		res, err := s.Apply(ctx, typ, 1, payload)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", typ, err)
		}
		var c created
		_ = res.Decode(&c)
		return c.ID, nil
	}
	chain, err := apply(CmdChainCreate, ChainInput{Name: "新能源电池", Description: "锂电池材料—电芯—储能与回收"})
	if err != nil {
		return err
	}
	nodes := map[string]int64{}
	for _, n := range []NodeInput{
		{Name: "锂矿及碳酸锂", Tier: "上游", Weight: 6}, {Name: "正极材料", Tier: "上游", Weight: 8}, {Name: "电解液", Tier: "上游", Weight: 5},
		{Name: "电芯制造", Tier: "中游", Weight: 10}, {Name: "电池模组与PACK", Tier: "中游", Weight: 7},
		{Name: "储能系统集成", Tier: "下游", Weight: 7}, {Name: "电池回收利用", Tier: "下游", Weight: 5, Extension: true},
	} {
		n.ChainID = chain
		id, err := apply(CmdNodeCreate, n)
		if err != nil {
			return err
		}
		nodes[n.Name] = id
	}
	ents := []struct {
		in    EnterpriseInput
		node  string
		role  string
		owner bool
	}{
		{EnterpriseInput{Name: "示范县锂源新材料有限公司", Industry: "新材料", Scale: "中型", Region: "示范县", Local: true, ContactName: "陈总", ContactPhone: "13900001001", Tags: []string{"高新技术企业"}, Profile: "碳酸锂提纯，本地龙头。"}, "正极材料", "local", true},
		{EnterpriseInput{Name: "示范县华储能源科技有限公司", Industry: "新能源", Scale: "小型", Region: "示范县", Local: true, ContactName: "吴经理", ContactPhone: "13900001002"}, "储能系统集成", "local", false},
		{EnterpriseInput{Name: "东海动力电池股份有限公司", Industry: "新能源", Scale: "大型", Region: "江苏省", ContactName: "赵总监", ContactPhone: "13900002001", Tags: []string{"上市公司", "链主"}}, "电芯制造", "target", true},
		{EnterpriseInput{Name: "南岭电解液科技有限公司", Industry: "化工", Scale: "中型", Region: "广东省", ContactName: "钱经理", ContactPhone: "13900002002"}, "电解液", "target", false},
		{EnterpriseInput{Name: "绿环再生资源有限公司", Industry: "环保", Scale: "小型", Region: "浙江省", ContactName: "孙经理", ContactPhone: "13900002003"}, "电池回收利用", "target", false},
	}
	entIDs := []int64{}
	for i, x := range ents {
		x.in.CreditCode = DemoCreditCode("91", "139999", fmt.Sprintf("MA%06d", 100+i))
		x.in.ChainID = chain
		id, err := apply(CmdEnterpriseCreate, x.in)
		if err != nil {
			return err
		}
		entIDs = append(entIDs, id)
		if _, err := apply(CmdNodeLink, LinkInput{NodeID: nodes[x.node], EnterpriseID: id, Role: x.role, ChainLeader: x.owner}); err != nil {
			return err
		}
	}
	park, err := apply(CmdParkCreate, ParkInput{Name: "示范县经济开发区", Kind: "园区", Address: "示范县城东", TotalArea: 3200000, VacantArea: 860000, Price: 18, PriceUnit: "万元/亩"})
	if err != nil {
		return err
	}
	if _, err := apply(CmdSpaceCreate, SpaceInput{ParkID: park, Name: "A-07 工业地块", Kind: "地块", Area: 66000, VacantArea: 66000, Price: 18}); err != nil {
		return err
	}
	if _, err := apply(CmdSpaceCreate, SpaceInput{ParkID: park, Name: "标准厂房3号楼", Kind: "厂房", Area: 12000, VacantArea: 4000, Price: 12}); err != nil {
		return err
	}
	dept := s.County.Departments["商务局"]
	leads := []struct {
		in    LeadInput
		stage string
	}{
		{LeadInput{Name: "东海动力20GWh电芯项目", EnterpriseID: entIDs[2], Industry: "新能源", ChainID: chain, NodeID: nodes["电芯制造"], ParkID: park, Source: "以商招商", Probability: 60, ExpectedInvestment: 500000}, "洽谈"},
		{LeadInput{Name: "南岭电解液生产基地", EnterpriseID: entIDs[3], Industry: "化工", ChainID: chain, NodeID: nodes["电解液"], ParkID: park, Source: "展会", Probability: 30, ExpectedInvestment: 80000}, "考察"},
		{LeadInput{Name: "绿环电池回收项目", EnterpriseID: entIDs[4], Industry: "环保", ChainID: chain, NodeID: nodes["电池回收利用"], Source: "中介", Probability: 90, ExpectedInvestment: 30000}, "注册"},
		{LeadInput{Name: "储能电站EPC合作", Company: "某央企新能源公司", Industry: "新能源", Source: "上级推介", Probability: 10, ExpectedInvestment: 20000}, "线索"},
	}
	for _, l := range leads {
		l.in.DeptID = dept
		id, err := apply(CmdLeadCreate, l.in)
		if err != nil {
			return err
		}
		for _, st := range Stages[1 : stageIndex(l.stage)+1] {
			if _, err := s.Apply(ctx, CmdLeadMove, 1, MoveInput{ID: id, To: st}); err != nil {
				return err
			}
		}
		if _, err := apply(CmdVisitCreate, VisitInput{LeadID: id, Kind: "外访", Date: "2026-03-10", Summary: "拜访企业总部，介绍园区政策", NextAction: "邀请来县考察", RemindAt: "2026-04-01"}); err != nil {
			return err
		}
	}
	return nil
}
