package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/yiwang/yiwang/store"
)

// DefaultMaxBody is the request body limit when a route sets none.
const DefaultMaxBody = 1 << 20

// Decode reads one JSON value from the request body into v. It refuses a
// non-JSON content type (415), bodies over the route's limit (413), unknown
// fields, type mismatches (per field), trailing data and empty bodies (400),
// then calls v.Validate when v implements Validatable.
func Decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &store.Error{Code: CodeUnsupportedMedia, Message: "content type must be application/json (send the header Content-Type: application/json)"}
		}
	}
	if r.Body == nil {
		return &store.Error{Code: CodeInvalid, Message: "request body is required"}
	}
	return DecodeBytesFrom(r.Body, v)
}

// DecodeBytesFrom decodes strictly from rd (used by Decode and by fuzz tests).
func DecodeBytesFrom(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// Exactly one value.
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &store.Error{Code: CodeTooLarge, Message: "request body too large"}
		}
		return &store.Error{Code: CodeInvalid, Message: "request body must hold a single JSON value"}
	}
	if val, ok := v.(Validatable); ok {
		if err := val.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// DecodeBytes decodes b strictly into v and validates it.
func DecodeBytes(b []byte, v any) error { return DecodeBytesFrom(bytes.NewReader(b), v) }

func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		ute *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return &store.Error{Code: CodeTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	case errors.Is(err, io.EOF):
		return &store.Error{Code: CodeInvalid, Message: "request body is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &store.Error{Code: CodeInvalid, Message: "malformed JSON: unexpected end of input"}
	case errors.As(err, &syn):
		return &store.Error{Code: CodeInvalid, Message: fmt.Sprintf("malformed JSON at offset %d", syn.Offset)}
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			return &store.Error{Code: CodeInvalid, Message: "request body must be a JSON " + jsonKind(ute.Type.Kind().String())}
		}
		msg := "must be " + jsonKind(ute.Type.Kind().String())
		return &store.Error{Code: CodeInvalid, Message: field + ": " + msg, Fields: map[string]string{field: msg}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &store.Error{Code: CodeInvalid, Message: "unknown field " + name, Fields: map[string]string{name: "unknown field"}}
	default:
		return &store.Error{Code: CodeInvalid, Message: "malformed JSON: " + err.Error()}
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	default:
		return "a valid value"
	}
}
