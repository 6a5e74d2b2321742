// Package sla is yiwang's time-limit machinery, shared by every module
// that times work: the case module (per-stage deadlines of 事件处置) and the
// major-projects module (问题清单). It holds the working calendar (working
// periods of a day, weekend days, public holidays, 调休 make-up workdays),
// deadline arithmetic in 紧急工作时 (clock hours), 工作时 (working hours) and
// 工作日 (working days), remaining time and overdue status, and the
// escalation scheduler that issues 催办 and 督办.
//
// # Why it is built this way
//
// The calendar is replicated state: it is edited through the
// sla.calendar.set command and read with LoadCalendar from a command
// handler's own transaction, so a deadline computed while applying a command
// is the same on every node and is stored with the record (records carry
// their deadline; the calendar is not consulted again to list them).
//
// 工作日 follow the legal convention that the starting day does not count:
// N working days end at the close of business of the N-th working day after
// the start. 工作时 start counting at the next working period when the clock
// starts outside working hours, and a deadline that falls exactly on the end
// of a period stays there.
//
// Escalation belongs to the record's module, not to sla: a Source lists
// its due items with an indexed query and applies an escalation as its own
// store command (so it lands in its timeline, its live events, its
// notifications). The scheduler runs only on the raft leader
// (store.IsLeader) and gives every escalation a deterministic idempotency
// key — Key(level, kind, id, stage, round), e.g.
// "urge:case:123:stage:dispatch:1" — which the source must use as the
// command's IdempotencyKey, so a scan that overlaps a leader change can
// never apply a 催办 or 督办 twice.
//
// Reuse from another module (projects):
//
//	s := casesModule.SLA()            // one shared instance
//	cal, _ := sla.LoadCalendar(ctx, tx) // inside a handler
//	deadline := cal.Deadline(tx.Now(), sla.Limit{Value: 5, Unit: sla.WorkDays})
//	s.AddSource(myIssueSource)        // before Start
package sla
