package pluginhost

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/plugins/abi"
	"github.com/yiwang/yiwang/store"
)

// The host's service interfaces, backed by the store and the other modules.

// applyAs issues a command on a plugin's behalf.
func (m *Module) applyAs(ctx context.Context, plugin, idem, typ string, payload any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor = "plugin:" + plugin
	if idem != "" {
		cmd.IdempotencyKey = cmd.Actor + ":" + idem
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return m.st.Apply(ctx, cmd)
}

// kvStore is the plugins' private key-value store: replicated writes,
// local reads.
type kvStore struct{ m *Module }

func (k kvStore) Get(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	var v []byte
	err := k.m.st.DB().QueryRowContext(ctx, `SELECT value FROM plugins_kv WHERE plugin = ? AND key = ?`, plugin, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return v, err == nil, err
}

func (k kvStore) Set(ctx context.Context, plugin, key string, value []byte) error {
	_, err := k.m.applyAs(ctx, plugin, "", CmdKVSet, KVPayload{Plugin: plugin, Key: key, Value: value})
	return err
}

func (k kvStore) Delete(ctx context.Context, plugin, key string) error {
	_, err := k.m.applyAs(ctx, plugin, "", CmdKVDelete, KVPayload{Plugin: plugin, Key: key})
	return err
}

func (k kvStore) List(ctx context.Context, plugin, prefix string) ([]string, error) {
	lo, hi := httpapi.PrefixRange(prefix)
	rs, err := k.m.st.DB().QueryContext(ctx, `SELECT key FROM plugins_kv WHERE plugin = ? AND key >= ? AND key < ? ORDER BY key LIMIT 10000`, plugin, lo, hi)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rs.Err()
}

// publisher publishes through the embedded broker's inline client.
type publisher struct{ m *Module }

func (p publisher) Publish(_ context.Context, plugin, topic string, payload []byte, retain bool) error {
	if p.m.opts.IoT == nil || p.m.opts.IoT.Broker() == nil {
		return errors.New("no MQTT broker runs on this node")
	}
	if err := p.m.opts.IoT.Broker().Server().Publish(topic, payload, retain, 0); err != nil {
		return err
	}
	return nil
}

// caseActions opens and annotates cases through the cases module's
// commands, as "plugin:NAME".
type caseActions struct{ m *Module }

type caseLocation struct {
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	Address  string  `json:"address"`
	GridCode string  `json:"grid_code"`
}

func (c caseActions) OpenCase(ctx context.Context, plugin string, a abi.OpenCaseAction) (string, error) {
	in := cases.CaseInput{Title: truncate(strings.TrimSpace(a.Title), 100), Description: truncate(a.Description, 4000),
		Source: cases.SourceStaff, CategoryCode: a.Category, ExternalID: truncate(a.SourceRef, 64)}
	if a.Urgent {
		in.Severity = "urgent"
	}
	if len(a.Location) > 0 {
		var loc caseLocation
		if err := json.Unmarshal(a.Location, &loc); err != nil {
			return "", fmt.Errorf("bad location: %v", err)
		}
		in.Lat, in.Lng, in.Address, in.GridCode = loc.Lat, loc.Lng, truncate(loc.Address, 200), loc.GridCode
	}
	if in.Description == "" {
		in.Description = "由插件 " + plugin + " 上报"
	}
	if c.m.opts.Cases == nil {
		return "", errors.New("the cases module is not available")
	}
	actor := "plugin:" + plugin
	idem := ""
	if a.SourceRef != "" {
		idem = actor + ":case:" + a.SourceRef
	}
	cs, err := c.m.opts.Cases.OpenAs(ctx, actor, "plugin", idem, in)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(cs.ID, 10), nil
}

func (c caseActions) Annotate(ctx context.Context, plugin string, a abi.AnnotateAction) error {
	if a.Kind != "case" {
		return fmt.Errorf("annotating a %q is not supported (only cases)", a.Kind)
	}
	id, err := strconv.ParseInt(a.ID, 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("bad case id %q", a.ID)
	}
	text := strings.TrimSpace(a.Text)
	if text == "" {
		return errors.New("empty annotation")
	}
	if c.m.opts.Cases == nil {
		return errors.New("the cases module is not available")
	}
	return c.m.opts.Cases.NoteAs(ctx, "plugin:"+plugin, "plugin", id, "【插件 "+plugin+"】"+text)
}

// auditSink records every outbound HTTP call as a plugin.http_call command
// (the command log is the audit trail).
type auditSink struct{ m *Module }

func (a auditSink) RecordHTTP(ctx context.Context, rec plugins.HTTPAudit) {
	if _, err := a.m.applyAs(ctx, rec.Plugin, "", CmdHTTPCall, rec); err != nil {
		a.m.logf("plugins: audit http call of %s to %s: %v", rec.Plugin, rec.URL, err)
	}
}
