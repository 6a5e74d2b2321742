package httpapi

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yiwang/yiwang/store"
)

// Validatable is implemented by request types; Decode calls Validate after
// decoding.
type Validatable interface {
	Validate() error
}

// Validator collects per-field messages. The zero value is ready to use.
//
//	var v httpapi.Validator
//	v.Text("name", in.Name, 1, 64)
//	v.Check(in.ParentID >= 0, "parent_id", "must not be negative")
//	return v.Err()
type Validator struct {
	fields map[string]string
}

// Add records msg for field unless the field already has a message.
func (v *Validator) Add(field, msg string) {
	if v.fields == nil {
		v.fields = map[string]string{}
	}
	if _, ok := v.fields[field]; !ok {
		v.fields[field] = msg
	}
}

// Check records msg for field when ok is false.
func (v *Validator) Check(ok bool, field, msg string) {
	if !ok {
		v.Add(field, msg)
	}
}

// Has tells whether field already has a message.
func (v *Validator) Has(field string) bool { _, ok := v.fields[field]; return ok }

// Valid tells whether no message was recorded.
func (v *Validator) Valid() bool { return len(v.fields) == 0 }

// Required records "is required" when s is blank.
func (v *Validator) Required(field, s string) {
	v.Check(strings.TrimSpace(s) != "", field, "is required")
}

// Text checks that s is valid UTF-8 without control characters, not padded
// with spaces, and between min and max characters (runes). min 0 makes it
// optional.
func (v *Validator) Text(field, s string, min, max int) {
	if s == "" {
		v.Check(min == 0, field, "is required")
		return
	}
	if !utf8.ValidString(s) {
		v.Add(field, "must be valid UTF-8")
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			v.Add(field, "must not contain control characters")
			return
		}
	}
	if strings.TrimSpace(s) != s {
		v.Add(field, "must not start or end with spaces")
		return
	}
	n := utf8.RuneCountInString(s)
	if n < min {
		v.Add(field, fmt.Sprintf("must be at least %d characters", min))
	} else if n > max {
		v.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

// MultilineText is like Text but allows newlines and tabs.
func (v *Validator) MultilineText(field, s string, max int) {
	if !utf8.ValidString(s) {
		v.Add(field, "must be valid UTF-8")
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			v.Add(field, "must not contain control characters")
			return
		}
	}
	v.Check(utf8.RuneCountInString(s) <= max, field, fmt.Sprintf("must be at most %d characters", max))
}

// OneOf checks that s is one of allowed.
func (v *Validator) OneOf(field, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.Add(field, "must be one of "+strings.Join(allowed, ", "))
}

// Range checks min <= n <= max.
func (v *Validator) Range(field string, n, min, max int64) {
	v.Check(n >= min && n <= max, field, fmt.Sprintf("must be between %d and %d", min, max))
}

var (
	reDigits   = regexp.MustCompile(`^[0-9]+$`)
	rePhone    = regexp.MustCompile(`^\+?[0-9][0-9\- ]{4,19}$`)
	reUsername = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.\-]{1,31}$`)
)

// Digits checks that s consists of exactly n ASCII digits.
func (v *Validator) Digits(field, s string, n int) {
	v.Check(len(s) == n && reDigits.MatchString(s), field, fmt.Sprintf("must be %d digits", n))
}

// Phone checks an optional phone number.
func (v *Validator) Phone(field, s string) {
	if s != "" {
		v.Check(rePhone.MatchString(s), field, "must be a phone number")
	}
}

// Email checks an optional e-mail address.
func (v *Validator) Email(field, s string) {
	if s == "" {
		return
	}
	a, err := mail.ParseAddress(s)
	v.Check(err == nil && a.Address == s, field, "must be an e-mail address")
}

// Username checks a login name: an ASCII letter, then 1-31 letters, digits,
// '_', '.', '-'.
func (v *Validator) Username(field, s string) {
	v.Check(reUsername.MatchString(s), field, "must start with a letter and use 2-32 letters, digits, '_', '.', '-'")
}

// Err returns nil or an invalid *store.Error carrying every field message.
func (v *Validator) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	f := make(map[string]string, len(v.fields))
	for k, m := range v.fields {
		f[k] = m
	}
	return &store.Error{Code: CodeInvalid, Message: "validation failed: " + fieldsSummary(f), Fields: f}
}

// Fields returns a copy of the recorded messages.
func (v *Validator) Fields() map[string]string {
	f := make(map[string]string, len(v.fields))
	for k, m := range v.fields {
		f[k] = m
	}
	return f
}
