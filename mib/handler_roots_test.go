package mib

import "testing"

// TestRootsNotNested: startNode trusts a remembered node (Handler.lastNode, shared by
// all requests) when oid has its root as prefix; that is holder(oid) only while no
// root encloses another.
func TestRootsNotNested(t *testing.T) {
	for _, h := range []*Handler{NewHandler(nil), NewStdHandler(nil, nil).h} {
		for i := range h.roots {
			for j := range h.roots {
				if i != j && h.roots[i].HasPrefix(h.roots[j]) {
					t.Errorf("%v inside %v", h.roots[i], h.roots[j])
				}
			}
			if i > 0 && h.roots[i-1].Compare(h.roots[i]) >= 0 {
				t.Errorf("unsorted at %d", i)
			}
		}
		t.Logf("%d roots", len(h.roots))
	}
}
