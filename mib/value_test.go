package mib

import (
	"fmt"
	"math/rand/v2"
	"testing"
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
		if got := uuidText(&u); got != want {
			t.Fatalf("uuidText(%x) = %s, want %s", u, got, want)
		}
	}
}
