package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"

	"github.com/yiwang/yiwang/store"
)

// ErrorBody is the envelope of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the content of an error response.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	Allowed []string          `json:"allowed,omitempty"`
}

// Error codes beyond the store's own.
const (
	CodeInvalid          = "invalid"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeForbidden        = "forbidden"
	CodeUnauthorized     = "unauthorized"
	CodeUnavailable      = "unavailable"
	CodeTooLarge         = "too_large"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooManyRequests  = "too_many_requests"
	CodeInternal         = "internal"
)

// StatusOf maps an error code to its HTTP status.
func StatusOf(code string) int {
	switch code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case CodeTooManyRequests:
		return http.StatusTooManyRequests
	case CodeUnavailable, "not_leader":
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Errorf builds an *store.Error with a code (re-exported for modules).
func Errorf(code, format string, args ...any) error {
	return store.Errorf(code, format, args...)
}

// Common errors.
var (
	ErrUnauthorized = &store.Error{Code: CodeUnauthorized, Message: "authentication required"}
	ErrForbidden    = &store.Error{Code: CodeForbidden, Message: "permission denied"}
	ErrNotFound     = &store.Error{Code: CodeNotFound, Message: "not found"}
)

// FieldError is an invalid error for one field.
func FieldError(field, msg string) error {
	return &store.Error{Code: CodeInvalid, Message: field + ": " + msg, Fields: map[string]string{field: msg}}
}

// WriteError writes err as the error envelope. Errors that are not
// *store.Error (or whose code is internal) are logged through logf and
// answered with a generic message so internals never leak.
func WriteError(w http.ResponseWriter, err error, logf func(string, ...any)) {
	e := store.AsError(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		e = &store.Error{Code: CodeTooLarge, Message: "request body too large"}
	}
	d := ErrorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields, Allowed: e.Allowed}
	status := StatusOf(e.Code)
	if status == http.StatusInternalServerError {
		if logf != nil {
			logf("httpapi: internal error: %v", err)
		}
		d = ErrorDetail{Code: CodeInternal, Message: "internal error"}
	}
	if e.Code == "not_leader" {
		d.Code = CodeUnavailable
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="yiwang"`)
	}
	writeJSON(w, status, ErrorBody{Error: d})
}

// JSON writes v as a JSON response with the given status.
func JSON(w http.ResponseWriter, status int, v any) error {
	writeJSON(w, status, v)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// NoContent answers 204.
func NoContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func fieldsSummary(fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+fields[k])
	}
	return strings.Join(parts, "; ")
}
