package sfu

import (
	"reflect"
	"testing"
)

func line(kind string, pub SessionID) msLine {
	if pub == 0 {
		return msLine{kind: kind}
	}
	u := string(rune('a' + pub))
	return msLine{kind: kind, pub: pub, user: u, source: "offer-" + u}
}

func both(pub SessionID) []msLine { return []msLine{line(kindAudio, pub), line(kindVideo, pub)} }

func cat(parts ...[]msLine) []msLine {
	var out []msLine
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPlanLines(t *testing.T) {
	for _, c := range []struct {
		name       string
		prev, want []msLine
		next       []msLine
	}{
		{"first", nil, cat(both(1), both(2)), cat(both(1), both(2))},
		{"kept in place, new appended", cat(both(2)), cat(both(1), both(2)), cat(both(2), both(1))},
		{"gone marked inactive, not reused at once", cat(both(1), both(2)), cat(both(1), both(3)),
			cat(both(1), both(0), both(3))},
		{"inactive reused by kind, lowest first", cat(both(0), both(1), both(0)), cat(both(1), both(4), []msLine{line(kindVideo, 5)}),
			cat(both(4), both(1), []msLine{line(kindAudio, 0), line(kindVideo, 5)})},
		{"video only publisher takes a video line", cat([]msLine{line(kindAudio, 0), line(kindVideo, 0)}), []msLine{line(kindVideo, 7)},
			[]msLine{line(kindAudio, 0), line(kindVideo, 7)}},
		{"dropped track", cat(both(1)), []msLine{line(kindAudio, 1)}, []msLine{line(kindAudio, 1), line(kindVideo, 0)}},
		{"nothing wanted", cat(both(1)), nil, both(0)},
	} {
		got := planLines(c.prev, c.want)
		if !reflect.DeepEqual(got, c.next) {
			t.Errorf("%s:\n got %v\nwant %v", c.name, got, c.next)
		}
	}
}

// A source change (the publisher renegotiated) stays on the same line.
func TestPlanLinesNewSource(t *testing.T) {
	w := line(kindVideo, 1)
	w.source = "new"
	got := planLines(both(1), []msLine{line(kindAudio, 1), w})
	if got[1].source != "new" || got[1].pub != 1 {
		t.Fatalf("%v", got)
	}
}

func TestWantedRoutes(t *testing.T) {
	m := &msSub{live: cat(both(1), both(2), []msLine{line(kindVideo, 3)}), paused: make([]bool, 5)}
	m.paused[3] = true // 2's video
	got := m.wantedRoutes(9, func(p SessionID) bool { return p != 3 })
	want := map[SessionID]StreamRoute{
		1: {Session: 9, AudioMindex: 0, VideoMindex: 1},
		2: {Session: 9, AudioMindex: 2, VideoMindex: -1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if k := keyframeByMindex(5, got); !reflect.DeepEqual(k, []SessionID{1, 1, 2, 0, 0}) {
		t.Fatalf("keyframeByMindex %v", k)
	}
	if k := keyframeByMindex(5, nil); k != nil {
		t.Fatalf("keyframeByMindex of none: %v", k)
	}
}

func TestMidIndex(t *testing.T) {
	for mid, want := range map[string]int{"0": 0, "3": 3, "4": -1, "-1": -1, "01": -1, "x": -1, "": -1, " 1": -1} {
		if got := midIndex(mid, 4); got != want {
			t.Errorf("midIndex(%q) = %d, want %d", mid, got, want)
		}
	}
}
