package httpapi

import "time"

// DBTime is the layout every module uses for times stored as TEXT: UTC,
// fixed width with milliseconds, so that text order is time order and
// comparisons in SQL work.
const DBTime = "2006-01-02T15:04:05.000Z"

// FormatDBTime formats t for storage (UTC, DBTime). The zero time is "".
func FormatDBTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DBTime)
}

// ParseDBTime parses a stored time; "" and malformed values give the zero
// time.
func ParseDBTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(DBTime, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}
