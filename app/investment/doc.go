// Package investment is the investment-attraction module (招商): the
// enterprise library keyed by 统一社会信用代码 (GB 32100-2015 check
// character and the embedded GB 11714 organisation-code check, see
// creditcode.go), industry chains (产业链) with upstream/midstream/downstream
// nodes, 链主 and local/target enterprises per node, chain-gap analysis
// (补链/强链/延链) ranked by a configurable score (gap.go), parks and space
// (园区/载体), the leads pipeline 线索 → 接洽 → 考察 → 洽谈 → 签约 → 注册 → 开工 →
// 投产 with visit records and reminders, dashboards, and Excel import/export.
//
// # Why it is built this way
//
// Every change is a store command with a deterministic handler, like every
// yiwang module. The pipeline is a state machine in the handler: only the
// next stage (or 丢失 with a reason before 签约) is legal, and a refused
// move is a 409 carrying the allowed moves.
//
// A signed lead becomes a major project through the projects module's Go
// API (projects.Module.CreateFromLead, idempotent per lead): this module
// never writes projects_* tables. The project keeps lead_id, and the lead
// keeps project_id through this module's own investment.lead.link_project
// command, so the link is visible from both sides.
//
// Contact phone numbers are masked (138****5678) for callers without
// investment.contact. Leads are scoped by department and owner through
// Principal.ScopeFilter; the enterprise library, chains and parks are
// county-wide reference data visible to every holder of investment.read.
package investment
