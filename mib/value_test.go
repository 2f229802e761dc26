package mib

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vmgate/vmgate/snmp"
)

// TestUUIDText: vmUUIDText is the canonical lowercase 8-4-4-4-12 form.
func TestUUIDText(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		var u [16]byte
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		want := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
		v := uuidText(&u)
		if got := v.varbind(nil).Value; got != want {
			t.Fatalf("uuidText(%x) = %v, want %s", u, got, want)
		}
		// A walk writes the same octets, formatted on its stack.
		w := snmp.NewVarBindWriter(Root, Root, 2)
		v.write(w, Root.Append(1))
		vbs, err := w.VarBinds()
		if err != nil || len(vbs) != 1 || string(vbs[0].Value.([]byte)) != want {
			t.Fatalf("uuidText(%x) written: %v %v, want %s", u, vbs, err, want)
		}
	}
}
