// Package cases is 事件分拨处置, the case-handling heart of 一网统管: every
// problem the county learns of becomes one case that is handled to the end
// and measured.
//
// # Why it is built this way
//
// The workflow is an explicit state machine (state.go: one table, action →
// from-state → to-state) that follows GB/T 30428:
//
//	collected 信息收集 → registered 立案 → dispatched 派遣 → handling 处置
//	  → feedback 反馈 → verified 核查 → closed 结案 → evaluated 评价
//
// with return 回退 and reassign 改派 (reason required), rework 返工 (核查不通过),
// extend_request/extend_approve/extend_reject 延期, park/unpark 挂账, void 作废,
// merge 合并 (duplicate: same category, within merge_radius_m, open), note,
// urge 催办 and supervise 督办. An action not allowed in the current state is
// refused with 409 and error.allowed lists what is allowed. Every applied
// action writes one cases_step row (actor, role, time, note, reason,
// department, attachments) in the same transaction: the timeline can never
// lose a step, and the store's command log is its audit trail.
//
// Every write is a store command (case.create, case.transition,
// case.attachment.add, case.rule.set/delete, case.settings.set,
// case.category.set). Handlers are deterministic: deadlines are computed in
// the handler from tx.Now() and the calendar read from the same
// transaction (package sla), and stored with the case, so every node agrees
// and lists never recompute them.
//
// Timers. Each state has a timed stage: register 立案, dispatch 派遣, handle
// 处置 (limit from the 立案条件 of the 小类, extended by approved 延期), verify
// 核查, close 结案 (limits in settings). A case stores its stage deadline, the
// 催办 instant (80% of the stage) and next_esc_at, the next instant the
// scheduler must look at it; the sla scheduler (raft leader only) reads the
// due cases through a partial index and applies case.transition urge /
// supervise with the idempotency key "urge:case:<id>:stage:<stage>:<round>".
// round increases with every timer start (re-dispatch, rework, extension),
// so each timer is escalated at most once per level, whatever leader
// changes happen. Escalations are recorded (cases_escalation, the
// timeline) and published as case.urged / case.supervised live events to
// the department and the county-wide roles.
//
// Dispatch rules (权责清单) map category × grid prefix to a department; the
// most specific rule wins (longest grid prefix, then 小类 over 大类 over any).
// Registering applies them at once; a case no rule places stays registered
// with dept_id 0, which is the dispatch centre's queue (?queue=dispatch).
// A dispatcher can always name the department instead.
//
// Attachments are sniffed (JPEG, PNG, GIF, WebP, PDF; anything else 415),
// limited in size (413), and stored in SQLite under their SHA-256
// (cases_blob, deduplicated): bytes replicate with the raft log, so any node
// — a follower too — serves them, and backups carry them. The upload
// command is registered NoLogPayload so the command log table keeps only
// its hash.
//
// Evaluation (综合评价) reads cases_agg, monthly counters per department,
// township (9-digit grid prefix) and acting role, maintained by the same
// command transactions that move cases (立案, 派遣, 处置反馈 on time, 结案 on
// time, 返工, 回退, handling seconds). Rates and the weighted score are
// computed on read from a few rows, never from a scan of cases.
//
// Data scope is applied in SQL (httpapi.Principal.ScopeFilter on dept_id,
// grid_code, created_by) on every list, read, download and action: a
// department handler sees and acts on its department's cases, a grid worker
// on its grid's; out-of-scope cases answer 404. Actions by non-county-wide
// principals carry the department they saw, and the handler refuses the
// action if the case moved meanwhile.
//
// # Performance
//
// Open cases live in partial indexes (WHERE open = 1) keyed by department,
// state, grid and stage deadline, so queues and overdue lists touch only open
// cases however many closed ones accumulate; grid-scoped queues pin
// cases_case_open_grid (the planner would otherwise walk the grid's
// history). Totals that would count large sets are maintained by triggers
// in the command transactions: cases_open_day (open cases per deadline day,
// for the county-wide overdue total) and cases_total (all cases).
// Calendar arithmetic is integer day arithmetic (two years of working time
// in about 40 µs), so listing long-overdue cases stays cheap.
//
// BenchmarkQueries1M (go test -run '^$' -bench Queries1M -benchtime 100x
// ./app/cases; CASES_BENCH_N sets the size) seeds 1,000,000 cases (5% open)
// and reports p50/p99 over 300 calls. On the 2-core build machine, under a
// load average of 14-16 from other work, 2026-11-22: dispatch-centre queue
// (16,666 waiting) 2.8/7.7 ms, department queue 1.2/3.1 ms, grid-worker
// queue 1.9/8.8 ms, county overdue (49,857) 1.3/7.3 ms, department overdue
// 1.2/3.3 ms, monthly evaluation by department 0.23/1.1 ms, by township
// 0.12/0.5 ms, escalation scan 0.13/0.25 ms, unfiltered county list page
// 1.0 ms p50 (62 ms before the maintained total).
//
// # Endpoints
//
//	POST /api/v1/cases                           intake (staff, grid, hotline, leader); register=true 立案+派遣
//	GET  /api/v1/cases                           list/queues: state, dept_id, grid, township, source, category,
//	                                             stage, since, until, open, overdue, supervised,
//	                                             queue=dispatch|handling|verify, q, sort, limit, offset
//	GET  /api/v1/cases/overdue                   overdue list, most overdue first
//	GET  /api/v1/cases/{id}                      case + timeline + attachments + escalations, sla_status, remaining
//	POST /api/v1/cases/{id}/actions/{action}     workflow action (body ActionInput)
//	GET  /api/v1/cases/{id}/duplicates           merge candidates
//	POST /api/v1/cases/attachments               raw photo/PDF upload → id (then reference it)
//	GET  /api/v1/cases/{id}/attachments/{aid}    download
//	GET  /api/v1/cases/categories                大类/小类 tree with 立案条件, 时限, 结案条件
//	PUT  /api/v1/cases/categories                create/change a category (case.config)
//	GET|POST /api/v1/cases/rules, DELETE /api/v1/cases/rules/{id}   权责清单
//	GET|PUT  /api/v1/cases/settings              stage limits, weights, merge radius
//	GET  /api/v1/cases/evaluation?month=&dim=    dept|township|role figures, score, rank
//	GET  /api/v1/cases/evaluation.xlsx           the same as Excel
//	GET|PUT /api/v1/sla/calendar, GET /api/v1/sla/deadline   working calendar (package sla)
//	GET  /open311/v2/services.json, /open311/v2/services/{code}.json      public
//	POST /open311/v2/requests.json (form or JSON, api_key = integrator token)
//	GET  /open311/v2/requests.json, /open311/v2/requests/{id}.json        api_key required
//
// # Go API
//
//	OpenFromAlarm(ctx, AlarmInput) (caseID, error)   idempotent per AlarmID ("alarm:"+AlarmID)
//	NoteAlarmCleared(ctx, caseID, alarmID, clearedAt, note) error
//	SLA() *sla.Module                                 the shared timers (projects module)
//	DecodeEvent(store.Event) (Event, bool)            case.created / case.state_changed / ...
//	Evaluate, Overdue, Queue, Categories, Case
package cases
