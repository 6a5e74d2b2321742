package org

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

func TestGridCodes(t *testing.T) {
	tests := []struct {
		code   string
		level  int
		parent string
		ok     bool
	}{
		{"139999", LevelCounty, "", true},
		{"139999001", LevelTownship, "139999", true},
		{"139999001002", LevelCommunity, "139999001", true},
		{"13999900100203", LevelUnit, "139999001002", true},
		{"139999000", 0, "", false},      // township 000
		{"139999001000", 0, "", false},   // community 000
		{"13999900100200", 0, "", false}, // serial 00
		{"1399990010020", 0, "", false},  // 13 digits
		{"13999900100a03", 0, "", false}, // letter
		{"130000", 0, "", false},         // a province, not a county
		{"", 0, "", false},
	}
	for _, tt := range tests {
		level, parent, msg := GridLevelOf(tt.code)
		if (msg == "") != tt.ok || level != tt.level || parent != tt.parent {
			t.Errorf("%q: level %d parent %q msg %q", tt.code, level, parent, msg)
		}
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("Correct-horse-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || !CheckPassword(h, "Correct-horse-1") || CheckPassword(h, "Correct-horse-2") {
		t.Fatalf("hash %s", h)
	}
	for _, bad := range []string{"", "$argon2id$", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", h[:len(h)-4]} {
		if CheckPassword(bad, "Correct-horse-1") {
			t.Errorf("malformed hash %q matched", bad)
		}
	}
	for pw, want := range map[string]bool{"short1": false, "alllettersonly": false, "Correct-horse-1": true, "长城长城长城长城长城1": true, "admin-password-1": false} {
		if got := CheckPasswordPolicy(pw, "admin") == ""; got != want {
			t.Errorf("policy(%q) = %v", pw, got)
		}
	}
	for i := 0; i < 50; i++ {
		if p := RandomPassword(); CheckPasswordPolicy(p, "") != "" {
			t.Fatalf("random password %q fails the policy", p)
		}
	}
}

// FuzzUserInput decodes arbitrary bodies into the user form: no panic, and
// anything accepted satisfies the invariants the handlers rely on.
func FuzzUserInput(f *testing.F) {
	f.Add([]byte(`{"username":"zhang3","name":"张三","roles":["handler"],"dept_id":3}`))
	f.Add([]byte(`{"username":"a","name":"","roles":[]}`))
	f.Add([]byte(`{"username":"zhang3","name":"张三","roles":["handler","handler"],"grid_code":"13999900100101"}`))
	f.Add([]byte(`{"username":"x","roles":["root"],"password":"p"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in UserInput
		err := httpapi.DecodeBytes(b, &in)
		if err != nil {
			if c := store.AsError(err).Code; c != "invalid" && c != "too_large" {
				t.Fatalf("code %q for %s", c, b)
			}
			return
		}
		if len(in.Roles) == 0 || in.Name == "" || len(in.Username) < 2 {
			t.Fatalf("accepted %+v", in)
		}
		for _, r := range in.Roles {
			if !httpapi.IsRole(r) {
				t.Fatalf("accepted role %q", r)
			}
		}
		if in.Password != "" && CheckPasswordPolicy(in.Password, in.Username) != "" {
			t.Fatalf("accepted weak password")
		}
	})
}

// FuzzGridInput checks code and GeoJSON validation: anything accepted has a
// valid code and a normalised Polygon/MultiPolygon that re-validates.
func FuzzGridInput(f *testing.F) {
	f.Add([]byte(`{"code":"13999900100101","name":"一网格","geometry":{"type":"Polygon","coordinates":[[[114.5,37.6],[114.6,37.6],[114.6,37.7],[114.5,37.6]]]}}`))
	f.Add([]byte(`{"code":"139999","name":"县","geometry":{"type":"Feature","geometry":{"type":"MultiPolygon","coordinates":[[[[1,1],[2,1],[2,2],[1,1]]]]}}}`))
	f.Add([]byte(`{"code":"1399990","name":"x","geometry":{"type":"Point","coordinates":[1,2]}}`))
	f.Add([]byte(`{"code":"139999001","name":"x","geometry":{"type":"Polygon","coordinates":[[[1e309,1]]]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in GridInput
		if err := httpapi.DecodeBytes(b, &in); err != nil {
			return
		}
		if _, _, msg := GridLevelOf(in.Code); msg != "" {
			t.Fatalf("accepted code %q", in.Code)
		}
		if len(in.Geometry) > 0 {
			again, err := NormalizeGeometry(in.Geometry)
			if err != nil || string(again) != string(in.Geometry) {
				t.Fatalf("normalised geometry does not re-validate: %s (%v)", in.Geometry, err)
			}
			var g struct{ Type string }
			json.Unmarshal(in.Geometry, &g)
			if g.Type != "Polygon" && g.Type != "MultiPolygon" {
				t.Fatalf("accepted %s", g.Type)
			}
		}
	})
}

// FuzzLogin checks the login form never panics and bounds its fields.
func FuzzLogin(f *testing.F) {
	f.Add([]byte(`{"username":"admin","password":"x"}`))
	f.Add([]byte(`{"username":"","password":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in LoginInput
		if err := httpapi.DecodeBytes(b, &in); err == nil && (in.Username == "" || len(in.Password) > 512) {
			t.Fatalf("accepted %+v", in)
		}
	})
}
