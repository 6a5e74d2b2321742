package cases

import (
	"context"
	"strings"

	"github.com/yiwang/yiwang/store"
)

// Go API for other modules that act on cases under their own name (plugins
// open and annotate cases as "plugin:NAME"). They call these instead of
// building the module's command payloads, so the payloads stay private.

// OpenAs reports a case as actor (e.g. "plugin:sms-gateway") with the given
// role label on the timeline. idem, when set, makes the call idempotent
// (a retried open returns the same case). The input is validated as the API
// validates it.
func (m *Module) OpenAs(ctx context.Context, actor, actorRole, idem string, in CaseInput) (*Case, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	res, err := m.applyAs(ctx, actor, idem, CmdCreate, createPayload{CaseInput: in, ActorRole: actorRole})
	if err != nil {
		return nil, err
	}
	var out ChangeResult
	if err := res.Decode(&out); err != nil || out.Case == nil {
		return nil, store.Errorf("internal", "case created but its result is unreadable: %v", err)
	}
	return out.Case, nil
}

// NoteAs adds a note to a case's timeline as actor. A finished case refuses
// notes (conflict), like the API.
func (m *Module) NoteAs(ctx context.Context, actor, actorRole string, caseID int64, note string) error {
	note = strings.TrimSpace(note)
	if note == "" {
		return store.Errorf("invalid", "empty note")
	}
	p := transitionPayload{CaseID: caseID, Action: ActNote, ActorRole: actorRole, ActionInput: ActionInput{Note: truncate(note, 2000)}}
	_, err := m.applyAs(ctx, actor, "", CmdTransition, p)
	return err
}
