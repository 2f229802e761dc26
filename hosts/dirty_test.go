package hosts

import (
	"errors"
	"testing"
)

// A read that fails gives back the mark it took (an operation's refresh that ran out
// of its SET's time leaves the event's re-read to the session); a read that succeeds,
// or found no mark, leaves none.
func TestReadingGivesBackItsMark(t *testing.T) {
	id := UUID{1}
	for _, tc := range []struct {
		name   string
		marked bool
		err    error
		want   bool
	}{
		{"marked, read failed", true, errors.New("deadline"), true},
		{"marked, read done", true, nil, false},
		{"unmarked, read failed", false, errors.New("deadline"), false},
	} {
		s := &Supervisor{dirty: newDirtySet()}
		if tc.marked {
			s.dirty.add(id)
		}
		done := s.reading(id)
		if _, ok := s.dirty.ids[id]; ok {
			t.Fatalf("%s: still marked while read", tc.name)
		}
		done(tc.err)
		if _, ok := s.dirty.ids[id]; ok != tc.want {
			t.Errorf("%s: marked after the read = %v, want %v", tc.name, ok, tc.want)
		}
	}
}
