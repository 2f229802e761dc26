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

// A state read covers the marks of pauses and resumes only: a domain also marked by an
// event that changed more (a start, a device) waits for its whole re-read, and a pause
// marked after a start does not lower that mark.
func TestReadingStateCoversStateMarks(t *testing.T) {
	id := UUID{2}
	for _, tc := range []struct {
		name      string
		mark      func(d *dirtySet)
		wantAfter bool // still marked once the state read is done
	}{
		{"pause", func(d *dirtySet) { d.addState(id) }, false},
		{"start", func(d *dirtySet) { d.add(id) }, true},
		{"start, then pause", func(d *dirtySet) { d.add(id); d.addState(id) }, true},
		{"pause, then start", func(d *dirtySet) { d.addState(id); d.add(id) }, true},
	} {
		s := &Supervisor{dirty: newDirtySet()}
		tc.mark(s.dirty)
		s.readingState(id)(nil)
		whole, ok := s.dirty.ids[id]
		if ok != tc.wantAfter || ok && !whole {
			t.Errorf("%s: after a state read marked=%v whole=%v, want marked=%v and whole", tc.name, ok, whole, tc.wantAfter)
		}
	}
	s := &Supervisor{dirty: newDirtySet()}
	s.dirty.addState(id)
	s.readingState(id)(errors.New("deadline"))
	if whole, ok := s.dirty.ids[id]; !ok || whole {
		t.Errorf("a failed state read gave back marked=%v whole=%v, want the state mark", ok, whole)
	}
}
