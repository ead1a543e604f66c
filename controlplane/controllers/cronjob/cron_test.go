package cronjob

import (
	"testing"
	"time"
)

func TestScheduleNextActivation(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("2006-01-02 15:04:05 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		spec, from, want string
	}{
		{"*/15 * * * *", "2012-07-09 14:45:00 Mon", "2012-07-09 15:00:00 Mon"},
		{"*/15 * * * *", "2012-07-09 14:59:59 Mon", "2012-07-09 15:00:00 Mon"},
		{"0 * * * *", "2012-07-09 14:00:00 Mon", "2012-07-09 15:00:00 Mon"},
		{"@hourly", "2012-07-09 14:30:00 Mon", "2012-07-09 15:00:00 Mon"},
		{"@daily", "2012-07-09 14:30:00 Mon", "2012-07-10 00:00:00 Tue"},
		{"@weekly", "2012-07-09 14:30:00 Mon", "2012-07-15 00:00:00 Sun"},
		{"@monthly", "2012-07-09 14:30:00 Mon", "2012-08-01 00:00:00 Wed"},
		{"@yearly", "2012-07-09 14:30:00 Mon", "2013-01-01 00:00:00 Tue"},
		{"0 0 * * 1-5", "2012-07-13 00:00:00 Fri", "2012-07-16 00:00:00 Mon"},
		{"0 0 * * sat,SUN", "2012-07-09 00:00:00 Mon", "2012-07-14 00:00:00 Sat"},
		{"0 0 1 jan *", "2012-07-09 00:00:00 Mon", "2013-01-01 00:00:00 Tue"},
		// Both day fields restricted: either one matches.
		{"0 0 13 * 5", "2012-07-13 00:00:00 Fri", "2012-07-20 00:00:00 Fri"},
		{"0 0 13 * 5", "2012-07-20 00:00:00 Fri", "2012-07-27 00:00:00 Fri"},
		{"0 0 13 * 5", "2012-08-10 00:00:00 Fri", "2012-08-13 00:00:00 Mon"},
		// One of them starred: both must match.
		{"0 0 13 * ?", "2012-07-14 00:00:00 Sat", "2012-08-13 00:00:00 Mon"},
		{"30 6-16/4 * * 1-5", "2012-07-09 07:00:00 Mon", "2012-07-09 10:30:00 Mon"},
		{"5/20 * * * *", "2012-07-09 14:26:00 Mon", "2012-07-09 14:45:00 Mon"},
		{"0 0 29 2 *", "2013-03-01 00:00:00 Fri", "2016-02-29 00:00:00 Mon"},
		{"TZ=Asia/Tokyo 0 6 * * *", "2012-07-09 00:00:00 Mon", "2012-07-09 21:00:00 Mon"},
		{"CRON_TZ=America/New_York 0 6 * * *", "2012-07-09 00:00:00 Mon", "2012-07-09 10:00:00 Mon"},
		{"@every 90s", "2012-07-09 14:00:00 Mon", "2012-07-09 14:01:30 Mon"},
	} {
		sched, err := ParseStandard(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if got := sched.Next(utc(tc.from)); !got.Equal(utc(tc.want)) || got.Location() != time.UTC {
			t.Errorf("%q after %s: %s, want %s", tc.spec, tc.from, got.Format(time.RFC3339), tc.want)
		}
	}
}

func TestScheduleThatNeverFiresHasNoNextTime(t *testing.T) {
	sched, err := ParseStandard("0 0 31 2 *")
	if err != nil {
		t.Fatal(err)
	}
	if got := sched.Next(time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("next %v, want none", got)
	}
}

func TestScheduleErrorsAreTheLibrarys(t *testing.T) {
	for spec, want := range map[string]string{
		"":                          "empty spec string",
		"* * * *":                   "expected exactly 5 fields, found 4: [* * * *]",
		"60 * * * *":                "end of range (60) above maximum (59): 60",
		"* * 0 * *":                 "beginning of range (0) below minimum (1): 0",
		"5-1 * * * *":               "beginning of range (5) beyond end of range (1): 5-1",
		"*/0 * * * *":               "step of range should be a positive number: */0",
		"x * * * *":                 `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`,
		"@fortnightly":              "unrecognized descriptor: @fortnightly",
		"TZ=Nowhere/Land * * * * *": "provided bad location Nowhere/Land: unknown time zone Nowhere/Land",
	} {
		_, err := ParseStandard(spec)
		if err == nil || err.Error() != want {
			t.Errorf("%q: error %v, want %q", spec, err, want)
		}
	}
}
