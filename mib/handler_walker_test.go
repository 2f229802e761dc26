package mib_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// walker is what both handlers are to the engine.
type walker interface {
	snmp.Handler
	snmp.Walker
}

// TestWalkerMatchesNext checks that Walk writes exactly what Next answers one after
// another, from every instance of every context and from OIDs between and around
// them, for runs of every length, in both modules and for v1 and v2c principals.
func TestWalkerMatchesNext(t *testing.T) {
	v := fixture()
	for _, m := range []struct {
		name string
		h    walker
		root snmp.OID
	}{
		{"module", mib.NewHandler(v), mib.Root},
		{"VM-MIB", mib.NewStdHandler(v, nil), mib.StdRoot},
	} {
		for _, ctx := range []string{"", "kvm1", "kvm2", "nosuch"} {
			for _, model := range []snmp.SecurityModel{snmp.ModelV2c, snmp.ModelV1} {
				t.Run(fmt.Sprintf("%s/context=%s/model=%d", m.name, ctx, model), func(t *testing.T) {
					mk := func() *snmp.Request { return &snmp.Request{Context: ctx, Principal: snmp.Principal{Model: model}} }
					chain := nextChain(t, m.h, mk, m.root)
					if (len(chain) == 0) != (ctx == "nosuch") {
						t.Fatalf("%d instances by Next", len(chain))
					}
					starts := []snmp.OID{m.root, m.root[:len(m.root)-1], {1}, m.root.Append(0), m.root.Append(99)}
					for _, vb := range chain {
						o := vb.OID
						starts = append(starts, o, o[:len(o)-1], o.Append(0), append(o[:len(o)-1:len(o)-1], o[len(o)-1]+1))
					}
					for _, from := range starts {
						want := chain[firstAfter(chain, from):]
						for _, n := range []int{1, 2, 7, 25, 1000} {
							w := snmp.NewVarBindWriter(m.root, from, n)
							m.h.Walk(context.Background(), mk(), from, w)
							got, err := w.VarBinds()
							if err != nil {
								t.Fatalf("Walk(%v, %d): %v", from, n, err)
							}
							if len(got) != min(n, len(want)) {
								t.Fatalf("Walk(%v, %d): %d instances, want %d", from, n, len(got), min(n, len(want)))
							}
							for i, g := range got {
								if g.OID.Compare(want[i].OID) != 0 || g.Type != want[i].Type || !sameWire(g.Value, want[i].Value) {
									t.Fatalf("Walk(%v, %d)[%d] = %v %v %v, Next gave %v %v %v", from, n, i,
										g.OID, g.Type, g.Value, want[i].OID, want[i].Type, want[i].Value)
								}
							}
						}
					}
				})
			}
		}
	}
}

// nextChain is every instance under root by Next, one request each.
func nextChain(t *testing.T, h snmp.Handler, mk func() *snmp.Request, root snmp.OID) []snmp.VarBind {
	t.Helper()
	var out []snmp.VarBind
	for cur := root; ; {
		vb, ok := h.Next(context.Background(), mk(), cur)
		if !ok || !vb.OID.HasPrefix(root) {
			return out
		}
		out = append(out, vb)
		cur = vb.OID
	}
}

// firstAfter is the index of the first instance of chain after oid.
func firstAfter(chain []snmp.VarBind, oid snmp.OID) int {
	for i, vb := range chain {
		if vb.OID.Compare(oid) > 0 {
			return i
		}
	}
	return len(chain)
}

// sameWire compares a value decoded from the wire with a handler's: an OCTET STRING
// comes back as []byte, whichever form the handler gave.
func sameWire(got, want any) bool {
	if s, ok := want.(string); ok {
		if b, ok := got.([]byte); ok {
			return string(b) == s
		}
	}
	if b, ok := want.([]byte); ok {
		g, ok := got.([]byte)
		return ok && string(g) == string(b)
	}
	return got == want
}
