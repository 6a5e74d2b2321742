package sla

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Unit is how a time limit is counted.
type Unit string

// Units of time limits (GB/T 30428 practice).
const (
	// ClockHours: 紧急工作时, hours of the clock, day and night.
	ClockHours Unit = "clock_hours"
	// WorkHours: 工作时, hours inside the calendar's working periods.
	WorkHours Unit = "work_hours"
	// WorkDays: 工作日, whole working days; the day the clock starts does not
	// count (期间开始的日不计算在期间内) and the deadline is the close of
	// business of the last day.
	WorkDays Unit = "work_days"
)

// UnitNames gives the Chinese names of the units.
var UnitNames = map[Unit]string{ClockHours: "紧急工作时", WorkHours: "工作时", WorkDays: "工作日"}

// Valid tells whether u is a known unit.
func (u Unit) Valid() bool { return u == ClockHours || u == WorkHours || u == WorkDays }

// Limit is a time limit: Value units.
type Limit struct {
	Value float64 `json:"value"`
	Unit  Unit    `json:"unit"`
}

// Check returns "" or what is wrong with l.
func (l Limit) Check() string {
	switch {
	case !l.Unit.Valid():
		return "unit must be clock_hours, work_hours or work_days"
	case l.Value <= 0 || l.Value > 10000:
		return "value must be positive (at most 10000)"
	case l.Unit == WorkDays && l.Value != float64(int(l.Value)):
		return "work_days must be a whole number"
	}
	return ""
}

// String renders the limit in Chinese ("2 工作日").
func (l Limit) String() string {
	return fmt.Sprintf("%g %s", l.Value, UnitNames[l.Unit])
}

// Period is one working period of a day, "08:30" to "12:00".
type Period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Calendar is the working-hours calendar: periods of a working day,
// weekend days, public holidays and 调休 make-up working days. Times are in
// Loc (China time unless set).
type Calendar struct {
	Periods []Period `json:"periods"`
	// Weekend lists the days off of a normal week (time.Weekday numbers,
	// 0 = Sunday).
	Weekend []int `json:"weekend"`
	// Holidays are dates (YYYY-MM-DD) off although they fall on a weekday.
	Holidays []string `json:"holidays"`
	// Workdays are 调休 dates (YYYY-MM-DD) worked although they fall on a
	// weekend day.
	Workdays []string `json:"workdays"`

	Loc *time.Location `json:"-"`

	mins     [][2]int       // parsed periods, minutes after midnight
	holidays map[int64]bool // by day number
	workdays map[int64]bool
	off      int // zone offset in seconds
	weekend  [7]bool
	ready    bool
}

// China is UTC+8, the time zone of every county.
var China = time.FixedZone("CST", 8*3600)

// DefaultCalendar is 08:30-12:00 and 14:00-17:30, Monday to Friday, with no
// holidays (each county maintains its own list from the State Council's
// annual notice).
func DefaultCalendar() *Calendar {
	c := &Calendar{
		Periods: []Period{{"08:30", "12:00"}, {"14:00", "17:30"}},
		Weekend: []int{0, 6},
	}
	if err := c.Prepare(); err != nil {
		panic(err)
	}
	return c
}

func parseHM(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	for _, c := range []byte{s[0], s[1], s[3], s[4]} {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// Prepare validates the calendar and builds its lookup tables; it returns a
// field-named error. Call it after decoding (Load does).
func (c *Calendar) Prepare() error {
	if c.Loc == nil {
		c.Loc = China
	}
	if len(c.Periods) == 0 || len(c.Periods) > 6 {
		return fmt.Errorf("periods: need 1 to 6 working periods")
	}
	c.mins = c.mins[:0]
	last := -1
	for i, p := range c.Periods {
		a, ok1 := parseHM(p.Start)
		b, ok2 := parseHM(p.End)
		if !ok1 || !ok2 {
			return fmt.Errorf("periods: period %d must be HH:MM-HH:MM", i+1)
		}
		if a >= b || a < last {
			return fmt.Errorf("periods: periods must be ordered and not overlap (period %d)", i+1)
		}
		last = b
		c.mins = append(c.mins, [2]int{a, b})
	}
	c.weekend = [7]bool{}
	for _, d := range c.Weekend {
		if d < 0 || d > 6 {
			return fmt.Errorf("weekend: days are 0 (Sunday) to 6 (Saturday)")
		}
		c.weekend[d] = true
	}
	_, c.off = time.Date(2000, 1, 1, 0, 0, 0, 0, c.Loc).Zone()
	c.holidays = map[int64]bool{}
	c.workdays = map[int64]bool{}
	for _, set := range []struct {
		name string
		in   []string
		out  map[int64]bool
	}{{"holidays", c.Holidays, c.holidays}, {"workdays", c.Workdays, c.workdays}} {
		if len(set.in) > 2000 {
			return fmt.Errorf("%s: at most 2000 dates", set.name)
		}
		for _, d := range set.in {
			n, ok := dateNum(c, d)
			if !ok {
				return fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", set.name, d)
			}
			set.out[n] = true
		}
	}
	for _, d := range c.Workdays {
		if n, _ := dateNum(c, d); c.holidays[n] {
			return fmt.Errorf("workdays: %s is also a holiday", d)
		}
	}
	sort.Strings(c.Holidays)
	sort.Strings(c.Workdays)
	c.Holidays = slices.Compact(c.Holidays)
	c.Workdays = slices.Compact(c.Workdays)
	c.ready = true
	return nil
}

func (c *Calendar) must() {
	if !c.ready {
		if err := c.Prepare(); err != nil {
			panic("sla: invalid calendar: " + err.Error())
		}
	}
}

// IsWorkday tells whether the date of t (in the calendar's zone) is a
// working day: a make-up workday, or a weekday that is neither weekend nor
// holiday.
func (c *Calendar) IsWorkday(t time.Time) bool {
	c.must()
	return c.workday(c.dayNum(t))
}

// Days are numbered from 1970-01-01 in the calendar's zone, which has a
// fixed offset (China has no daylight saving time), so day arithmetic is
// integer arithmetic.
func (c *Calendar) dayNum(t time.Time) int64 {
	return floorDiv(t.Unix()+int64(c.off), 86400)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// dayStart is the instant of midnight that starts day n.
func (c *Calendar) dayStart(n int64) time.Time {
	return time.Unix(n*86400-int64(c.off), 0).In(c.Loc)
}

func (c *Calendar) workday(n int64) bool {
	if c.workdays[n] {
		return true
	}
	if c.holidays[n] {
		return false
	}
	wd := (n%7 + 7 + 4) % 7 // 1970-01-01 was a Thursday
	return !c.weekend[wd]
}

func dateNum(c *Calendar, d string) (int64, bool) {
	t, err := time.ParseInLocation("2006-01-02", d, c.Loc)
	if err != nil {
		return 0, false
	}
	return c.dayNum(t), true
}

// maxDays bounds every day-by-day walk (about 30 years).
const maxDays = 11000

// AddWorking returns the instant at which d of working time has passed
// after start. Counting starts at the next working period when start is
// outside working hours; a result that falls exactly on the end of a period
// stays there (it does not jump to the next period's start).
func (c *Calendar) AddWorking(start time.Time, d time.Duration) time.Time {
	c.must()
	if d <= 0 {
		return start
	}
	rem := d
	n := c.dayNum(start)
	for i := 0; i < maxDays; i, n = i+1, n+1 {
		if !c.workday(n) {
			continue
		}
		day := c.dayStart(n)
		for _, p := range c.mins {
			a, b := day.Add(time.Duration(p[0])*time.Minute), day.Add(time.Duration(p[1])*time.Minute)
			if !start.Before(b) {
				continue
			}
			if start.After(a) {
				a = start
			}
			if avail := b.Sub(a); rem <= avail {
				return a.Add(rem)
			} else {
				rem -= avail
			}
		}
	}
	return start.Add(d) // no working time in 30 years: degrade to clock time
}

// overlap is the working time of day n inside [from, to).
func (c *Calendar) overlap(n int64, from, to time.Time) time.Duration {
	if !c.workday(n) {
		return 0
	}
	day := c.dayStart(n)
	var sum time.Duration
	for _, p := range c.mins {
		a, b := day.Add(time.Duration(p[0])*time.Minute), day.Add(time.Duration(p[1])*time.Minute)
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			sum += b.Sub(a)
		}
	}
	return sum
}

// WorkingBetween is the working time in [from, to) (zero if to <= from).
// Whole days in between cost an integer test each.
func (c *Calendar) WorkingBetween(from, to time.Time) time.Duration {
	c.must()
	if !to.After(from) {
		return 0
	}
	fd, td := c.dayNum(from), c.dayNum(to)
	if fd == td {
		return c.overlap(fd, from, to)
	}
	sum := c.overlap(fd, from, to) + c.overlap(td, from, to)
	full := c.DayLength()
	for n := fd + 1; n < td; n++ {
		if c.workday(n) {
			sum += full
		}
	}
	return sum
}

// DayLength is the working time of a full working day.
func (c *Calendar) DayLength() time.Duration {
	c.must()
	var d time.Duration
	for _, p := range c.mins {
		d += time.Duration(p[1]-p[0]) * time.Minute
	}
	return d
}

// Deadline is when a limit starting at start expires.
func (c *Calendar) Deadline(start time.Time, l Limit) time.Time {
	c.must()
	switch l.Unit {
	case WorkHours:
		return c.AddWorking(start, time.Duration(l.Value*float64(time.Hour)))
	case WorkDays:
		n := int(l.Value)
		if n < 1 {
			n = 1
		}
		d := c.dayNum(start)
		for i := 0; i < maxDays; i++ {
			d++
			if c.workday(d) {
				n--
				if n == 0 {
					return c.dayStart(d).Add(time.Duration(c.mins[len(c.mins)-1][1]) * time.Minute)
				}
			}
		}
		return start.Add(time.Duration(l.Value*24) * time.Hour)
	default:
		return start.Add(time.Duration(l.Value * float64(time.Hour)))
	}
}

// counted tells whether a unit's elapsed time counts working time only.
func counted(u Unit) bool { return u == WorkHours || u == WorkDays }

// Elapsed is the time counted against a limit of unit u from start to now.
func (c *Calendar) Elapsed(start, now time.Time, u Unit) time.Duration {
	if counted(u) {
		return c.WorkingBetween(start, now)
	}
	if now.Before(start) {
		return 0
	}
	return now.Sub(start)
}

// Remaining is the time left until deadline counted in unit u (working time
// for work units); negative once overdue, by the time counted past it.
func (c *Calendar) Remaining(now, deadline time.Time, u Unit) time.Duration {
	if !counted(u) {
		return deadline.Sub(now)
	}
	if now.Before(deadline) {
		return c.WorkingBetween(now, deadline)
	}
	return -c.WorkingBetween(deadline, now)
}

// Progress is the share of the allowed time used at now (0 at start, 1 at
// the deadline, more when overdue).
func (c *Calendar) Progress(start, deadline, now time.Time, u Unit) float64 {
	total := c.Elapsed(start, deadline, u)
	if total <= 0 {
		if now.Before(deadline) {
			return 0
		}
		return 1
	}
	if !now.After(deadline) {
		return float64(c.Elapsed(start, now, u)) / float64(total)
	}
	return 1 + float64(c.Elapsed(deadline, now, u))/float64(total)
}

// At returns the instant when ratio of the allowed time is used (e.g. 0.8
// for 催办).
func (c *Calendar) At(start, deadline time.Time, u Unit, ratio float64) time.Time {
	if !counted(u) {
		return start.Add(time.Duration(float64(deadline.Sub(start)) * ratio))
	}
	total := c.WorkingBetween(start, deadline)
	return c.AddWorking(start, time.Duration(float64(total)*ratio))
}

// Status names where now stands against a deadline.
type Status string

// Statuses.
const (
	StatusOK      Status = "ok"      // 正常
	StatusWarning Status = "warning" // 临期 (past the urge ratio)
	StatusOverdue Status = "overdue" // 超期
)

// StatusAt classifies now against the window start..deadline.
func (c *Calendar) StatusAt(start, deadline, now time.Time, u Unit, urgeRatio float64) Status {
	switch {
	case !now.Before(deadline):
		return StatusOverdue
	case c.Progress(start, deadline, now, u) >= urgeRatio:
		return StatusWarning
	default:
		return StatusOK
	}
}

// FormatDuration renders a duration as "3小时20分" (negative with 超).
func FormatDuration(d time.Duration) string {
	var b strings.Builder
	if d < 0 {
		b.WriteString("超")
		d = -d
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int((d%time.Hour)/time.Minute)
	if h > 0 {
		fmt.Fprintf(&b, "%d小时", h)
	}
	fmt.Fprintf(&b, "%d分", m)
	return b.String()
}
