// Package projects is the major-projects module (重大项目): the project
// library and its lifecycle 谋划 → 储备 → 实施 (开工 → 建设 → 竣工 → 投运) →
// 退库 with a two-level review (初审, 复审 by a different person) before a
// project enters 储备 and 实施; annual planned investment split by month and
// monthly completed-investment reports; 形象进度 with photos; milestones
// (baseline vs actual, a Gantt endpoint); the 问题清单 with 交办 → 催办 → 督办
// → 督查; 停复工 log; red/yellow/green status; ranking of 责任单位; Excel
// import/export and .docx 交办/督办 letters.
//
// # Why it is built this way
//
// Status is derived state kept in the project row, but it is computed only
// inside command handlers (every command that changes its inputs ends with
// recompute(tx, id), and project.recompute recomputes every project) from
// tx.Now(), the stored rules and the project's own rows. It is therefore
// identical on every node and reproducible from the log; there is no
// background job writing status behind the command log's back.
//
// Problem-list deadlines reuse app/sla: the deadline and the 催办 instant
// are computed in the handler from the replicated working calendar
// (sla.LoadCalendar on the handler's tx) and stored with the issue; the
// module registers an sla.Source with the shared scheduler, which applies
// 催办/督办 as project.issue.escalate commands with the scheduler's
// deterministic idempotency keys.
//
// Other modules create projects through the Go API (CreateFromLead): the
// investment module turns a signed lead into a project without touching
// this module's tables; the project keeps lead_id, the lead keeps
// project_id.
package projects
