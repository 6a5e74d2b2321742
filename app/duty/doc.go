// Package duty is 值班值守 with a light 融合通信: the duty roster (who is on
// duty per day, shift and department), shift handover notes (交接班) and
// group messages to departments, optionally tied to a case or an alarm.
//
// # Why it is built this way
//
// Every change is a store command (duty.roster_add, duty.roster_remove,
// duty.handover_create, duty.handover_ack, duty.message_send,
// duty.message_read), so the roster and the messages are replicated and the
// command log records who changed a roster or sent a message.
//
// The module never reads other modules' tables. Users, departments, cases
// and alarms are checked through their modules' Go APIs in the HTTP handler
// before the command is applied, and the names the lists show (user name,
// phone, department name) are copied into the command, so a roster entry
// still reads right after someone changes departments.
//
// Department scope is applied in SQL: a roster entry or a handover belongs to
// one department; a message belongs to every recipient department and to its
// sender. Handlers (dept_tree scope) see and write their departments only;
// county-wide roles see everything.
//
// Messages reach recipients live: the hub classifier sends duty.message to
// the recipient departments (and the sender), and the console turns it
// into a notification-centre entry.
package duty
