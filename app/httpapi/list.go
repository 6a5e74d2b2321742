package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/store"
)

// Page is the response of every collection GET.
type Page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	// TotalCapped says Total is a lower bound: counting stopped at
	// CountCap matches (or at the end of the requested page, if further)
	// because counting every match of a broad filter over a large table
	// costs more than the page itself. Absent when Total is exact.
	TotalCapped bool `json:"total_capped,omitempty"`
}

// CountCap is where CappedCountSQL stops counting.
const CountCap = 10_000

// FilterKind is how a filter's value is parsed and compared.
type FilterKind int

// Filter kinds.
const (
	FilterString FilterKind = iota // column = value
	FilterInt                      // column = integer
	FilterBool                     // column = 0/1 (accepts true/false/1/0)
	FilterPrefix                   // column LIKE 'value%'
	FilterSince                    // column >= RFC 3339 time (or date)
	FilterUntil                    // column < RFC 3339 time (or date)
	FilterIn                       // column IN (comma-separated strings)
)

// Filter maps a query parameter to a column.
type Filter struct {
	Column string
	Kind   FilterKind
	Doc    string
	// Func, when set, builds the SQL condition itself from the raw value.
	Func func(value string) (cond string, args []any, err error)
}

// ListSpec declares the query parameters a collection accepts.
type ListSpec struct {
	// Sort maps public sort keys to SQL expressions (trusted).
	Sort map[string]string
	// DefaultSort is a public sort key, "-" prefixed for descending.
	DefaultSort string
	// Filters maps query parameter names to columns.
	Filters map[string]Filter
	// Search lists columns matched by the q parameter (LIKE %q%).
	Search []string
	// SearchFunc, when set, builds the q condition itself (e.g. an indexed
	// prefix match on a large table) instead of Search.
	SearchFunc func(q string) (cond string, args []any)
	// Tiebreak is appended to ORDER BY for a stable order (e.g. "id").
	Tiebreak     string
	DefaultLimit int // default 50
	MaxLimit     int // default 500
	// Extra lists further query parameters the handler reads itself.
	Extra []string
}

// ListQuery is a parsed list request.
type ListQuery struct {
	Limit  int
	Offset int
	Sort   string // public key
	Desc   bool
	Q      string

	order    string
	orderRev string // order with every direction flipped
	where    []string
	args     []any
}

// ParseList parses limit, offset, sort, q and the spec's filters. Unknown
// parameters are refused.
func ParseList(r *http.Request, spec *ListSpec) (ListQuery, error) {
	var v Validator
	q := ListQuery{Limit: spec.DefaultLimit}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	max := spec.MaxLimit
	if max <= 0 {
		max = 500
	}
	vals := r.URL.Query()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sortKey := spec.DefaultSort
	for _, k := range keys {
		vs := vals[k]
		if len(vs) != 1 {
			v.Add(k, "must be given once")
			continue
		}
		val := vs[0]
		switch k {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > max {
				v.Add(k, fmt.Sprintf("must be an integer between 1 and %d", max))
				continue
			}
			q.Limit = n
		case "offset":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 100_000_000 {
				v.Add(k, "must be a non-negative integer")
				continue
			}
			q.Offset = n
		case "sort":
			sortKey = val
			if _, ok := spec.Sort[strings.TrimPrefix(val, "-")]; !ok {
				v.Add(k, "must be one of "+strings.Join(sortKeys(spec), ", ")+" (prefix - for descending)")
			}
		case "q":
			if spec.SearchFunc != nil {
				v.Text(k, val, 0, 100)
				q.Q = val
				if val != "" {
					cond, args := spec.SearchFunc(val)
					q.And(cond, args...)
				}
				continue
			}
			if len(spec.Search) == 0 {
				v.Add(k, "unknown parameter")
				continue
			}
			v.Text(k, val, 0, 100)
			q.Q = val
			if val != "" {
				conds := make([]string, len(spec.Search))
				pat := "%" + EscapeLike(val) + "%"
				for i, c := range spec.Search {
					conds[i] = c + ` LIKE ? ESCAPE '\'`
					q.args = append(q.args, pat)
				}
				q.where = append(q.where, "("+strings.Join(conds, " OR ")+")")
			}
		default:
			f, ok := spec.Filters[k]
			if !ok {
				if containsStr(spec.Extra, k) {
					continue
				}
				v.Add(k, "unknown parameter")
				continue
			}
			if err := q.addFilter(f, val); err != nil {
				v.Add(k, err.Error())
			}
		}
	}
	if sortKey != "" {
		key := strings.TrimPrefix(sortKey, "-")
		if expr, ok := spec.Sort[key]; ok {
			q.Sort = key
			q.Desc = strings.HasPrefix(sortKey, "-")
			dir := " ASC"
			rev := " DESC"
			if q.Desc {
				dir, rev = " DESC", " ASC"
			}
			q.order, q.orderRev = expr+dir, expr+rev
			if spec.Tiebreak != "" && spec.Tiebreak != expr {
				q.order += ", " + spec.Tiebreak + dir
				q.orderRev += ", " + spec.Tiebreak + rev
			}
		}
	}
	if err := v.Err(); err != nil {
		return q, err
	}
	return q, nil
}

func (q *ListQuery) addFilter(f Filter, val string) error {
	if f.Func != nil {
		cond, args, err := f.Func(val)
		if err != nil {
			return err
		}
		if cond != "" {
			q.And(cond, args...)
		}
		return nil
	}
	switch f.Kind {
	case FilterString:
		if len(val) > 200 {
			return fmt.Errorf("too long")
		}
		q.And(f.Column+" = ?", val)
	case FilterInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer")
		}
		q.And(f.Column+" = ?", n)
	case FilterBool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		q.And(f.Column+" = ?", b)
	case FilterPrefix:
		if len(val) > 200 {
			return fmt.Errorf("too long")
		}
		// A range, not LIKE 'x%': SQLite uses an index for LIKE only on
		// NOCASE columns, so LIKE scanned the whole table.
		lo, hi := PrefixRange(val)
		q.And(f.Column+" >= ? AND "+f.Column+" < ?", lo, hi)
	case FilterSince, FilterUntil:
		t, err := ParseTime(val)
		if err != nil {
			return err
		}
		op := " >= ?"
		if f.Kind == FilterUntil {
			op = " < ?"
		}
		q.And(f.Column+op, FormatDBTime(t))
	case FilterIn:
		parts := strings.Split(val, ",")
		if len(parts) > 100 {
			return fmt.Errorf("at most 100 values")
		}
		ph := make([]string, len(parts))
		args := make([]any, len(parts))
		for i, p := range parts {
			ph[i] = "?"
			args[i] = p
		}
		q.And(f.Column+" IN ("+strings.Join(ph, ",")+")", args...)
	}
	return nil
}

// ParseTime accepts RFC 3339 or a date (2006-01-02, local midnight in
// Asia/Shanghai's fixed +08:00 offset, the county's time).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, ChinaTime); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("must be an RFC 3339 time or a date (YYYY-MM-DD)")
}

// PrefixRange returns the bounds [lo, hi) of the strings starting with
// prefix, for index-friendly prefix search (col >= lo AND col < hi).
func PrefixRange(prefix string) (lo, hi string) {
	return prefix, prefix + "\U0010FFFF"
}

// ChinaTime is UTC+8, the time zone of every county.
var ChinaTime = time.FixedZone("CST", 8*3600)

// And adds a condition (with ? placeholders) joined with AND.
func (q *ListQuery) And(cond string, args ...any) {
	q.where = append(q.where, cond)
	q.args = append(q.args, args...)
}

// WhereSQL is "WHERE c1 AND c2 ..." or "".
func (q *ListQuery) WhereSQL() string {
	if len(q.where) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(q.where, " AND ")
}

// Args are the placeholder arguments of WhereSQL.
func (q *ListQuery) Args() []any { return q.args }

// OrderBy is "ORDER BY expr DIR" or "".
func (q *ListQuery) OrderBy() string {
	if q.order == "" {
		return ""
	}
	return "ORDER BY " + q.order
}

// LimitSQL is "LIMIT n OFFSET m" (integers, no placeholders needed).
func (q *ListQuery) LimitSQL() string {
	return "LIMIT " + strconv.Itoa(q.Limit) + " OFFSET " + strconv.Itoa(q.Offset)
}

// FromEnd turns a page in the second half of a list of exactly total rows
// into the same rows read from the other end (order flipped, OFFSET counted
// from the end), so no page skips more than half the list. It tells whether
// it did: the caller then reverses the rows it gets. total must be the
// exact number of rows the query matches (e.g. a maintained counter for an
// unfiltered list); call it before adding conditions.
func (q *ListQuery) FromEnd(total int) bool {
	if q.orderRev == "" || q.Offset <= total/2 || q.Offset >= total {
		return false
	}
	end := min(q.Offset+q.Limit, total)
	q.Limit, q.Offset = end-q.Offset, total-end
	q.order, q.orderRev = q.orderRev, q.order
	return true
}

// DeferredSQL is the page query of a large table as a deferred join: the
// inner query finds the page's keys with WHERE, ORDER BY and LIMIT/OFFSET
// over the key alone (index-only, so skipping half a million rows or
// sorting ten thousand matches touches narrow index entries), and the
// outer query reads full rows (and joins) for those keys only.
//
// selectSQL is "SELECT cols FROM t x [JOIN ...]" without WHERE; keyFrom is
// "FROM t x" with the same alias, which every WHERE and sort expression must
// use; key is the key column ("x.id"). The arguments are Args().
func (q *ListQuery) DeferredSQL(selectSQL, key, keyFrom string) string {
	return selectSQL + " WHERE " + key + " IN (SELECT " + key + " " + keyFrom + " " + q.WhereSQL() + " " + q.OrderBy() + " " + q.LimitSQL() + ") " + q.OrderBy()
}

// CappedCountSQL counts the matches of WHERE in from ("FROM t x"), stopping
// at CountCap+1 (arguments: Args()). A result above CountCap means "at least
// CountCap": answer Total CountCap (or more, see Page.TotalCapped) with
// TotalCapped set.
func (q *ListQuery) CappedCountSQL(from string) string {
	return "SELECT count(*) FROM (SELECT 1 " + from + " " + q.WhereSQL() + " LIMIT " + strconv.Itoa(CountCap+1) + ")"
}

// SetTotal sets Total from count, made with CappedCountSQL when capped:
// past the cap the total is at least what this page reached (offset +
// items), so a pager keeps working at any offset.
func (p *Page[T]) SetTotal(q *ListQuery, count int, capped bool) {
	p.Total = count
	if capped && count > CountCap {
		p.Total, p.TotalCapped = max(CountCap, q.Offset+len(p.Items)), true
	}
}

// Params lists the query parameter names the spec accepts (for OpenAPI).
func (spec *ListSpec) params() []string {
	out := []string{"limit", "offset"}
	if len(spec.Sort) > 0 {
		out = append(out, "sort")
	}
	if len(spec.Search) > 0 || spec.SearchFunc != nil {
		out = append(out, "q")
	}
	fs := make([]string, 0, len(spec.Filters))
	for k := range spec.Filters {
		fs = append(fs, k)
	}
	sort.Strings(fs)
	return append(out, fs...)
}

func sortKeys(spec *ListSpec) []string {
	ks := make([]string, 0, len(spec.Sort))
	for k := range spec.Sort {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Apply issues a command as the request's principal.
func Apply(r *http.Request, st *store.Store, typ string, version int, payload any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, version, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor = MustPrincipal(r).Actor()
	if k := r.Header.Get("Idempotency-Key"); k != "" && len(k) <= 128 {
		cmd.IdempotencyKey = MustPrincipal(r).Actor() + ":" + k
	}
	return st.Apply(r.Context(), cmd)
}

// Filtered tells whether any condition has been added (by the request's
// filters or search, or by And).
func (q *ListQuery) Filtered() bool { return len(q.where) > 0 }

// Scope restricts the query to p's data scope (see Principal.ScopeFilter).
func (q *ListQuery) Scope(p *Principal, c ScopeColumns) {
	cond, args := p.ScopeFilter(c)
	q.And(cond, args...)
}
