package httpapi

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/store"
)

// FuzzDecode feeds arbitrary bodies to the strict decoder: it must never
// panic, and every refusal must be a coded *store.Error that maps to a 4xx.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"name":"a","size":1}`, `{"name":5}`, `{}`, `[]`, `{"x":1}`, `{"name":"a"}{}`, "", `{"name":"\u0000"}`, `{"size":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var in createWidget
		err := DecodeBytes(b, &in)
		if err == nil {
			if in.Validate() != nil {
				t.Fatalf("accepted an invalid value: %+v", in)
			}
			return
		}
		e := store.AsError(err)
		if s := StatusOf(e.Code); s < 400 || s >= 500 {
			t.Fatalf("decode error %v has code %q (status %d)", err, e.Code, s)
		}
	})
}

// FuzzValidator checks the text validator's invariants.
func FuzzValidator(f *testing.F) {
	for _, s := range []string{"城管局", "", " a", "a\x00b", "\xff", strings.Repeat("长", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v Validator
		v.Text("name", s, 1, 64)
		v.Username("user", s)
		v.Phone("phone", s)
		if v.Valid() {
			t.Fatalf("%q passed every check", s)
		}
		if err := v.Err(); store.AsError(err).Code != CodeInvalid {
			t.Fatalf("code %v", err)
		}
	})
}

// FuzzParseList feeds arbitrary query strings to the list parser: no panic,
// and the SQL it builds only ever contains placeholders, never the input.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{"limit=5&sort=-name", "q=%25_%27", "dept_id=1", "sort=name;drop", "offset=-1", "limit=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := url.ParseQuery(raw); err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/x?"+url.PathEscape("")+"", nil)
		r.URL.RawQuery = raw
		q, err := ParseList(r, testList)
		if err != nil {
			if store.AsError(err).Code != CodeInvalid {
				t.Fatalf("code %v", err)
			}
			return
		}
		sql := q.WhereSQL() + q.OrderBy() + q.LimitSQL()
		for _, bad := range []string{"'", ";", "--"} {
			if strings.Contains(sql, bad) && !strings.Contains(sql, `ESCAPE '\'`) {
				t.Fatalf("input reached SQL: %s", sql)
			}
		}
		if q.Limit < 1 || q.Limit > 500 || q.Offset < 0 {
			t.Fatalf("limit/offset out of range: %+v", q)
		}
	})
}
