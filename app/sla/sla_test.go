package sla

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store/storetest"
)

// testCalendar: 08:30-12:00, 14:00-17:30; 2026 National Day holiday
// Oct 1-7 (Thu-Wed) with 调休 workdays Sun Sep 20 and Sat Oct 10.
func testCalendar(t *testing.T) *Calendar {
	t.Helper()
	c := &Calendar{
		Periods:  []Period{{"08:30", "12:00"}, {"14:00", "17:30"}},
		Weekend:  []int{0, 6},
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-09-20", "2026-10-10"},
	}
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	return c
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, China)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDeadline(t *testing.T) {
	c := testCalendar(t)
	cases := []struct {
		name  string
		start string
		limit Limit
		want  string
	}{
		{"clock hours run through the weekend", "2026-11-20 16:00", Limit{24, ClockHours}, "2026-11-21 16:00"},
		{"clock hours run through holidays", "2026-09-30 10:00", Limit{48, ClockHours}, "2026-10-02 10:00"},
		{"work hours inside a morning", "2026-11-23 09:00", Limit{2, WorkHours}, "2026-11-23 11:00"},
		{"work hours across lunch", "2026-11-23 09:00", Limit{4, WorkHours}, "2026-11-23 15:00"},
		{"start during lunch", "2026-11-23 12:30", Limit{1, WorkHours}, "2026-11-23 15:00"},
		{"start before work", "2026-11-23 07:00", Limit{1, WorkHours}, "2026-11-23 09:30"},
		{"start after work", "2026-11-23 19:00", Limit{1, WorkHours}, "2026-11-24 09:30"},
		{"ends exactly at noon, stays at noon", "2026-11-23 11:00", Limit{1, WorkHours}, "2026-11-23 12:00"},
		{"ends exactly at close of business", "2026-11-23 16:30", Limit{1, WorkHours}, "2026-11-23 17:30"},
		{"half hour over lunch", "2026-11-23 11:45", Limit{0.5, WorkHours}, "2026-11-23 14:15"},
		{"friday evening over the weekend", "2026-11-20 17:00", Limit{1, WorkHours}, "2026-11-23 09:00"},
		{"saturday start counts from monday", "2026-11-21 10:00", Limit{7, WorkHours}, "2026-11-23 17:30"},
		{"two full days", "2026-11-23 08:30", Limit{14, WorkHours}, "2026-11-24 17:30"},
		{"over the national day holiday", "2026-09-30 17:00", Limit{1, WorkHours}, "2026-10-08 09:00"},
		{"into a make-up saturday", "2026-10-09 17:00", Limit{1, WorkHours}, "2026-10-10 09:00"},
		{"into a make-up sunday", "2026-09-18 17:30", Limit{2, WorkHours}, "2026-09-20 10:30"},
		{"a holiday start counts from the first workday", "2026-10-03 09:00", Limit{1, WorkHours}, "2026-10-08 09:30"},
		{"one work day from friday", "2026-11-20 10:00", Limit{1, WorkDays}, "2026-11-23 17:30"},
		{"three work days", "2026-11-23 10:00", Limit{3, WorkDays}, "2026-11-26 17:30"},
		{"work day start day never counts even at 08:00", "2026-11-23 08:00", Limit{1, WorkDays}, "2026-11-24 17:30"},
		{"work days over the holiday", "2026-09-30 10:00", Limit{1, WorkDays}, "2026-10-08 17:30"},
		{"work days onto a make-up saturday", "2026-10-09 10:00", Limit{1, WorkDays}, "2026-10-10 17:30"},
		{"work days from a weekend", "2026-11-21 10:00", Limit{2, WorkDays}, "2026-11-24 17:30"},
		{"make-up sunday is a work day", "2026-09-19 10:00", Limit{1, WorkDays}, "2026-09-20 17:30"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := c.Deadline(at(tc.start), tc.limit)
			if !got.Equal(at(tc.want)) {
				t.Fatalf("Deadline(%s, %v) = %s, want %s", tc.start, tc.limit, got.In(China).Format("2006-01-02 15:04 Mon"), tc.want)
			}
		})
	}
}

func TestWorkingBetweenAndRemaining(t *testing.T) {
	c := testCalendar(t)
	cases := []struct {
		from, to string
		want     time.Duration
	}{
		{"2026-11-20 17:00", "2026-11-23 09:00", time.Hour},
		{"2026-11-23 08:00", "2026-11-23 18:00", 7 * time.Hour},
		{"2026-11-23 11:00", "2026-11-23 14:30", 90 * time.Minute},
		{"2026-09-30 08:30", "2026-10-08 08:30", 7 * time.Hour},
		{"2026-10-09 08:30", "2026-10-12 08:30", 14 * time.Hour}, // Fri + make-up Sat
		{"2026-11-23 10:00", "2026-11-23 09:00", 0},
	}
	for _, tc := range cases {
		if got := c.WorkingBetween(at(tc.from), at(tc.to)); got != tc.want {
			t.Errorf("WorkingBetween(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	dl := at("2026-11-23 09:00")
	if r := c.Remaining(at("2026-11-20 17:00"), dl, WorkHours); r != time.Hour {
		t.Errorf("remaining %v", r)
	}
	if r := c.Remaining(at("2026-11-23 10:00"), dl, WorkHours); r != -time.Hour {
		t.Errorf("overdue remaining %v", r)
	}
	if r := c.Remaining(at("2026-11-20 17:00"), dl, ClockHours); r != 64*time.Hour {
		t.Errorf("clock remaining %v", r)
	}
	if s := FormatDuration(-90 * time.Minute); s != "超1小时30分" {
		t.Errorf("format %q", s)
	}
}

func TestProgressAtAndStatus(t *testing.T) {
	c := testCalendar(t)
	start, dl := at("2026-11-20 16:30"), at("2026-11-23 14:30") // 1h Fri + 4h Mon = 5 working hours
	if p := c.Progress(start, dl, at("2026-11-22 12:00"), WorkHours); p != 0.2 {
		t.Fatalf("progress over the weekend %v, want 0.2", p)
	}
	urge := c.At(start, dl, WorkHours, 0.8) // 4h of 5: Mon 08:30 + 3h = 11:30
	if !urge.Equal(at("2026-11-23 11:30")) {
		t.Fatalf("urge at %s", urge)
	}
	for _, tc := range []struct {
		now  string
		want Status
	}{{"2026-11-23 09:00", StatusOK}, {"2026-11-23 11:30", StatusWarning}, {"2026-11-23 14:30", StatusOverdue}, {"2026-11-24 09:00", StatusOverdue}} {
		if s := c.StatusAt(start, dl, at(tc.now), WorkHours, 0.8); s != tc.want {
			t.Errorf("status at %s = %s, want %s", tc.now, s, tc.want)
		}
	}
	if p := c.Progress(start, dl, at("2026-11-23 15:30"), WorkHours); p != 1.2 {
		t.Errorf("overdue progress %v", p)
	}
	if !c.At(at("2026-11-23 10:00"), at("2026-11-23 20:00"), ClockHours, 0.5).Equal(at("2026-11-23 15:00")) {
		t.Error("clock At")
	}
}

func TestCalendarValidation(t *testing.T) {
	bad := []*Calendar{
		{},
		{Periods: []Period{{"09:00", "08:00"}}},
		{Periods: []Period{{"08:00", "12:00"}, {"11:00", "13:00"}}},
		{Periods: []Period{{"8:00", "12:00"}}},
		{Periods: []Period{{"08:00", "12:00"}}, Weekend: []int{7}},
		{Periods: []Period{{"08:00", "12:00"}}, Holidays: []string{"2026-13-01"}},
		{Periods: []Period{{"08:00", "12:00"}}, Holidays: []string{"2026-10-10"}, Workdays: []string{"2026-10-10"}},
	}
	for i, c := range bad {
		if err := c.Prepare(); err == nil {
			t.Errorf("calendar %d accepted", i)
		}
	}
	for _, l := range []Limit{{0, WorkHours}, {1, "days"}, {1.5, WorkDays}} {
		if l.Check() == "" {
			t.Errorf("limit %v accepted", l)
		}
	}
}

// fakeSource records escalations; Due returns its items.
type fakeSource struct {
	mu    sync.Mutex
	items []Item
	keys  []string
}

func (f *fakeSource) Kind() string { return "test" }
func (f *fakeSource) Due(ctx context.Context, now time.Time, cal *Calendar, ratio float64, limit int) ([]Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Item(nil), f.items...), nil
}
func (f *fakeSource) Escalate(ctx context.Context, e Escalation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, e.Key)
	for i := range f.items {
		if f.items[i].ID == e.Item.ID {
			if e.Level == Urge {
				f.items[i].Urged = true
			} else {
				f.items[i].Urged, f.items[i].Supervised = true, true
			}
		}
	}
	return nil
}

func TestStoredCalendarAndScan(t *testing.T) {
	m := New(Options{})
	st := storetest.New(t, m.Register)
	ctx := context.Background()
	c, err := m.Calendar(ctx)
	if err != nil || len(c.Periods) != 2 {
		t.Fatalf("default calendar %+v %v", c, err)
	}
	want := testCalendar(t)
	if err := m.SetCalendar(ctx, "system:test", want); err != nil {
		t.Fatal(err)
	}
	c, err = m.Calendar(ctx)
	if err != nil || !c.IsWorkday(at("2026-10-10 09:00")) || c.IsWorkday(at("2026-10-05 09:00")) {
		t.Fatalf("stored calendar %+v %v", c, err)
	}
	if err := m.SetCalendar(ctx, "system:test", &Calendar{Periods: []Period{{"10:00", "09:00"}}}); err == nil {
		t.Fatal("invalid calendar stored")
	}
	_ = st

	src := &fakeSource{items: []Item{
		{Kind: "test", ID: 1, Stage: "handle", Round: 1, Start: at("2026-11-23 08:30"), Deadline: at("2026-11-23 17:30"), Unit: WorkHours},
		{Kind: "test", ID: 2, Stage: "handle", Round: 2, Start: at("2026-11-23 08:30"), Deadline: at("2026-11-23 10:30"), Unit: WorkHours},
	}}
	m.AddSource(src)
	n, err := m.Scan(ctx, at("2026-11-23 10:00")) // item 1 at 22%, item 2 at 75%
	if err != nil || n != 0 {
		t.Fatalf("early scan %d %v", n, err)
	}
	n, _ = m.Scan(ctx, at("2026-11-23 10:10")) // item 2 at 83%
	if n != 1 || src.keys[0] != "urge:test:2:stage:handle:2" {
		t.Fatalf("urge %d %v", n, src.keys)
	}
	n, _ = m.Scan(ctx, at("2026-11-23 10:20")) // already urged
	if n != 0 {
		t.Fatalf("double urge %v", src.keys)
	}
	n, _ = m.Scan(ctx, at("2026-11-23 16:40")) // item 1 at 90%, item 2 overdue
	if n != 2 {
		t.Fatalf("scan %d %v", n, src.keys)
	}
	n, _ = m.Scan(ctx, at("2026-11-24 09:00")) // item 1 overdue, 2 done
	if n != 1 || src.keys[len(src.keys)-1] != "supervise:test:1:stage:handle:1" {
		t.Fatalf("final %v", src.keys)
	}
	if n, _ := m.Scan(ctx, at("2026-11-25 09:00")); n != 0 {
		t.Fatalf("repeat supervise")
	}
}

func BenchmarkWorkingBetweenTwoYears(b *testing.B) {
	c := DefaultCalendar()
	from, to := at("2024-11-22 10:00"), at("2026-11-22 10:00")
	for i := 0; i < b.N; i++ {
		c.WorkingBetween(from, to)
	}
}
