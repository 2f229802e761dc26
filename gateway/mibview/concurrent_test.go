package mibview_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/vmgate/vmgate/mib"
	"github.com/vmgate/vmgate/snmp"
)

// TestConcurrentWalksShareTheHint: walks of both modules from many goroutines, each in a random
// context and version with random repetitions, must give the serial answers (the
// handler's remembered node is shared).
func TestConcurrentWalksShareTheHint(t *testing.T) {
	hs := goldenFixture(t)
	type job struct {
		h     int
		ctx   string
		model snmp.SecurityModel
	}
	walk := func(j job, rng *rand.Rand) string {
		h, root := hs[j.h], []snmp.OID{mib.Root, mib.StdRoot}[j.h]
		var b strings.Builder
		w := snmp.NewVarBindWriter(root, root, 1)
		for cur := root; ; {
			r := &snmp.Request{Context: j.ctx, Principal: snmp.Principal{Model: j.model}}
			if j.model == snmp.ModelV1 || rng.IntN(3) == 0 {
				vb, ok := h.Next(context.Background(), r, cur)
				if !ok || !vb.OID.HasPrefix(root) {
					return b.String()
				}
				b.WriteString(wireText(t, vb))
				cur = vb.OID
				continue
			}
			m := 1 + rng.IntN(30)
			w.Reset(root, cur, m)
			h.Walk(context.Background(), r, cur, w)
			vbs, _ := w.VarBinds()
			for _, vb := range vbs {
				b.WriteString(wireText(t, vb))
			}
			if w.Room() > 0 {
				return b.String()
			}
			cur = append(snmp.OID(nil), w.Last()...)
		}
	}
	var jobs []job
	want := map[job]string{}
	for h := range 2 {
		for _, c := range []string{"", "kvm1", "kvm2", "kvm3", "nosuch"} {
			for _, m := range []snmp.SecurityModel{snmp.ModelV2c, snmp.ModelV1} {
				j := job{h, c, m}
				jobs = append(jobs, j)
				want[j] = walk(j, rand.New(rand.NewPCG(1, 1)))
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 40 {
				j := jobs[rng.IntN(len(jobs))]
				if got := walk(j, rng); got != want[j] {
					t.Errorf("%+v: concurrent walk differs", j)
					return
				}
			}
		})
	}
	wg.Wait()
}
