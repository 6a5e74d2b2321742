//go:build no_ui

package frontend

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoUIStub(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "no_ui") {
		t.Fatalf("stub: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/me", nil))
	if rec.Code != 404 || strings.Contains(rec.Body.String(), "no_ui") {
		t.Fatalf("api under no_ui: %d %q", rec.Code, rec.Body.String())
	}
}
