package audit

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	in := `{"username":"a","password_hash":"$argon2id$x","rows":[{"token_hash":"abc","name":"n"}],"n":12345678901234567890}`
	out := string(Redact([]byte(in)))
	if strings.Contains(out, "argon2id") || strings.Contains(out, "abc") || !strings.Contains(out, `"name":"n"`) || !strings.Contains(out, "12345678901234567890") {
		t.Fatalf("redacted: %s", out)
	}
	if got := string(Redact([]byte("not json"))); got != `"not json"` {
		t.Fatalf("invalid json: %s", got)
	}
	if csvSafe("=cmd|' /C calc'!A0") != "'=cmd|' /C calc'!A0" || csvSafe("ok") != "ok" {
		t.Fatal("csvSafe")
	}
}
