package hosts

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// statsOf is st's counters of domain id, zero when the poll did not list it.
func statsOf(st *Stats, id UUID) DomainStats {
	if ds, ok := st.Domain(id); ok {
		return *ds
	}
	return DomainStats{}
}

// testDomainStats are n domains' counters in no order, each with its own groups.
func testDomainStats(n int) []DomainStats {
	ds := make([]DomainStats, n)
	for i, k := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		ds[i] = DomainStats{UUID: UUID{byte(k >> 8), byte(k), 0xaa}, State: StateRunning, CPUTimeNs: uint64(k),
			VCPUs:  []VCPUStats{{Number: 0, TimeNs: uint64(k)}, {Number: 1, TimeNs: uint64(k) + 1}},
			Blocks: []BlockStats{{Name: "vda", RdBytes: uint64(k)}},
			Nets:   []NetStats{{Name: fmt.Sprint("vnet", k), RxBytes: uint64(k)}}}
		if k%3 == 0 {
			ds[i].State, ds[i].VCPUs, ds[i].Nets = StateShutoff, nil, nil
		}
	}
	return ds
}

// TestNewStats: a packed Stats finds every domain by UUID, lists them in their order,
// and keeps each one's groups apart in the shared arrays.
func TestNewStats(t *testing.T) {
	in := testDomainStats(300)
	st := NewStats(time.Unix(5, 0), slices.Clone(in))
	if st.At != time.Unix(5, 0) || len(st.Domains()) != len(in) {
		t.Fatalf("at %v, %d domains, want %d", st.At, len(st.Domains()), len(in))
	}
	for _, want := range in {
		got, ok := st.Domain(want.UUID)
		if !ok || !reflect.DeepEqual(*got, want) {
			t.Fatalf("domain %s: %+v %v, want %+v", want.UUID, got, ok, want)
		}
		if cap(got.VCPUs) != len(got.VCPUs) || cap(got.Blocks) != len(got.Blocks) || cap(got.Nets) != len(got.Nets) {
			t.Errorf("domain %s: groups not capped", want.UUID)
		}
		if len(got.Blocks) > 0 && &got.Blocks[0] == &want.Blocks[0] {
			t.Errorf("domain %s: groups not copied", want.UUID)
		}
	}
	if !reflect.DeepEqual(st.Domains(), in) {
		t.Error("Domains() is not the domains in their order")
	}
	for _, id := range []UUID{{}, {0xff, 0xff, 0xff}, {0, 0, 0xab}} {
		if ds, ok := st.Domain(id); ok {
			t.Errorf("domain %s not polled, found %+v", id, ds)
		}
	}
	if ds, ok := (&Stats{}).Domain(UUID{1}); ok || len((&Stats{}).Domains()) != 0 {
		t.Errorf("empty Stats: %+v %v", ds, ok)
	}
}

// TestStatsIndexProbes: the index finds a domain within a few slots of where its probe
// starts, also among UUIDs that differ in a few bytes (the bench fleet's).
func TestStatsIndexProbes(t *testing.T) {
	for name, uuid := range map[string]func(k int) UUID{
		"fleet": func(k int) UUID { // f1ee7000-0007-4000-8000-<k>
			return UUID{0xf1, 0xee, 0x70, 0, 0, 7, 0x40, 0, 0x80, 0, 0, 0, 0, 0, byte(k >> 8), byte(k)}
		},
		"leading": func(k int) UUID { return UUID{byte(k >> 8), byte(k)} },
		"middle":  func(k int) UUID { return UUID{7: byte(k >> 8), 8: byte(k)} },
	} {
		ds := make([]DomainStats, 10000)
		for k := range ds {
			ds[k].UUID = uuid(k)
		}
		st := NewStats(time.Time{}, ds)
		past := 0
		for i := range st.index {
			if j := st.index[i]; j != 0 {
				past += (i - st.home(st.domains[j-1].UUID)) & (len(st.index) - 1)
			}
		}
		if mean := float64(past) / float64(len(ds)); mean > 4 {
			t.Errorf("%s UUIDs: a domain sits %.1f slots past its probe's start on average", name, mean)
		}
	}
}

// TestNewStatsAllocs: packing a host's counters makes the same few objects for 10
// domains as for 1,000.
func TestNewStatsAllocs(t *testing.T) {
	small, large := testDomainStats(10), testDomainStats(1000)
	a10 := testing.AllocsPerRun(10, func() { NewStats(time.Time{}, small) })
	a1k := testing.AllocsPerRun(10, func() { NewStats(time.Time{}, large) })
	if a10 != a1k || a1k > 6 {
		t.Errorf("NewStats allocates %v objects for 10 domains, %v for 1,000; want the same, at most 6", a10, a1k)
	}
}

// TestDecodeStatsReplyAllocs: decoding a reply allocates, per domain, only its name and
// its groups' strings (block name and path, net name): the groups share a few arrays.
func TestDecodeStatsReplyAllocs(t *testing.T) {
	const perDomain = 1 + 2*2 + 1 // qemuStatsParams: 2 disks, 1 NIC
	small, large := xdrStatsReply(qemuRecords(10)), xdrStatsReply(qemuRecords(1000))
	a10 := testing.AllocsPerRun(5, func() { _, _ = decodeStatsReply(small) })
	a1k := testing.AllocsPerRun(5, func() { _, _ = decodeStatsReply(large) })
	if extra := (a1k - a10) / 990; extra > perDomain+0.05 {
		t.Errorf("decoding allocates %.2f objects per domain (%v for 10, %v for 1,000), want %d", extra, a10, a1k, perDomain)
	}
}

// qemuRecords are n QEMU domains' records (qemuStatsParams) with distinct UUIDs, in no
// order.
func qemuRecords(n int) []libvirt.DomainStatsRecord {
	return statsRecordsOf(n, qemuStatsParams())
}

// statsRecordsOf are n domains' records, each with params, with distinct UUIDs, in no
// order.
func statsRecordsOf(n int, params []libvirt.TypedParam) []libvirt.DomainStatsRecord {
	recs := make([]libvirt.DomainStatsRecord, n)
	for i, k := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		recs[i] = libvirt.DomainStatsRecord{Dom: libvirt.Domain{Name: fmt.Sprintf("vm-%d", k),
			UUID: libvirt.UUID{byte(k >> 8), byte(k), 0xbb}, ID: int32(k + 1)}, Params: params}
	}
	return recs
}

// BenchmarkStatsLive: the live heap of one published Stats of a host's QEMU domains
// (qemuStatsParams) or test-driver domains, per domain, built from the reply as
// pollStats builds it.
func BenchmarkStatsLive(b *testing.B) {
	// The test driver's domains report their state alone.
	state := []libvirt.TypedParam{{Field: "state.state", Value: libvirt.TypedParamValue{I: int32(1)}},
		{Field: "state.reason", Value: libvirt.TypedParamValue{I: int32(1)}}}
	for _, c := range []struct {
		name   string
		n      int
		params []libvirt.TypedParam
	}{{"qemu/50", 50, qemuStatsParams()}, {"qemu/10000", 10000, qemuStatsParams()},
		{"state/50", 50, state}, {"state/10000", 10000, state}} {
		b.Run(c.name, func(b *testing.B) {
			n := c.n
			body := xdrStatsReply(statsRecordsOf(n, c.params))
			var live uint64
			for b.Loop() {
				base := liveHeap()
				st := polledStats(b, body)
				live = liveHeap() - base
				runtime.KeepAlive(st)
			}
			b.ReportMetric(float64(live)/float64(n), "live-B/VM")
		})
	}
}

// polledStats is the Stats pollStats builds of a stats reply's body.
func polledStats(b *testing.B, body []byte) *Stats {
	b.Helper()
	recs, err := decodeStatsReply(body)
	if err != nil {
		b.Fatal(err)
	}
	return packStats(time.Now(), len(recs), func(i int) *DomainStats { return &recs[i].Stats })
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStatsDomain: looking up one domain's counters among a host's 1,000.
func BenchmarkStatsDomain(b *testing.B) {
	ds := testDomainStats(1000)
	st := NewStats(time.Time{}, ds)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := st.Domain(ds[i%len(ds)].UUID); !ok {
			b.Fatal("not found")
		}
		i++
	}
}
