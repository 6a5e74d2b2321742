package duty

import (
	"net/http"

	"github.com/yiwang/yiwang/app/httpapi"
)

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	tags := []string{"duty"}
	read, write := httpapi.PermDutyRead, httpapi.PermDutyWrite
	h := func(method, path, summary, perm string, list *httpapi.ListSpec, req, resp any, status int, fn httpapi.HandlerFunc) {
		r.Handle(httpapi.Route{Method: method, Path: path, Summary: summary, Tags: tags, Perm: perm, List: list,
			Request: req, Response: resp, Status: status, Handler: fn})
	}
	h("GET", "/api/v1/duty/roster", "Duty roster (who is on duty per day, shift and department) in the caller's departments", read, rosterList, nil, httpapi.Page[Entry]{}, 0, m.listRoster)
	h("POST", "/api/v1/duty/roster", "Put someone on the roster of a department in the caller's scope", write, nil, EntryInput{}, Entry{}, http.StatusCreated, m.addRoster)
	h("DELETE", "/api/v1/duty/roster/{id}", "Take a roster entry off", write, nil, nil, nil, http.StatusNoContent, m.removeRoster)
	h("GET", "/api/v1/duty/handovers", "Shift handover notes of the caller's departments", read, handoverList, nil, httpapi.Page[Handover]{}, 0, m.listHandovers)
	h("POST", "/api/v1/duty/handovers", "Write a shift handover note", write, nil, HandoverInput{}, Handover{}, http.StatusCreated, m.createHandover)
	h("POST", "/api/v1/duty/handovers/{id}/ack", "Take over a shift (acknowledge its handover note)", write, nil, nil, Handover{}, 0, m.ackHandover)
	h("GET", "/api/v1/duty/messages", "Group messages sent by the caller or to the caller's departments", read, messageList, nil, httpapi.Page[Message]{}, 0, m.listMessages)
	h("GET", "/api/v1/duty/messages/{id}", "A message with its read receipts", read, nil, nil, Message{}, 0, m.getMessage)
	h("POST", "/api/v1/duty/messages", "Send a message to departments, optionally about a case or an alarm", write, nil, MessageInput{}, Message{}, http.StatusCreated, m.sendMessage)
	h("POST", "/api/v1/duty/messages/{id}/read", "Mark a message read for the caller's recipient departments", read, nil, nil, Message{}, 0, m.readMessage)
}
