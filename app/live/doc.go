// Package live delivers post-commit events to consoles as Server-Sent
// Events at GET /api/v1/events.
//
// # Why it is built this way
//
// The store already keeps every committed command in order with its index
// and can replay from any index (store.Subscribe). So each SSE connection
// holds its own store subscription starting at the client's Last-Event-ID
// (or ?since=N, or "now"): a console that reconnects after a network blip
// resumes exactly where it stopped, with no hub-side buffer to size, and a
// slow console is disconnected (it reconnects and catches up) instead of
// slowing anyone else.
//
// Events carry {"type","index","time","data"}. What a connection receives
// is filtered by the principal: each module registers a Classifier for its
// command types that turns an event into the message to send and its
// Audience (permission needed, departments, grids, users concerned), and the
// hub checks the audience against the principal's permissions and data
// scope. Events nobody classified reach only principals whose scope is the
// whole county, without data. Modules may also Publish transient messages
// that are not commands (index 0, not resumable).
//
// EventSource cannot set headers, so the yw_session cookie authenticates
// browsers; integrators use a Bearer token. The desktop shell (Wails) uses the
// same stream over a loopback connection.
package live
