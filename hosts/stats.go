package hosts

import (
	"strconv"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// statsGroups are the ConnectGetAllDomainStats groups vmgate asks for, in one call.
const statsGroups = libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal |
	libvirt.DomainStatsBalloon | libvirt.DomainStatsVCPU |
	libvirt.DomainStatsInterface | libvirt.DomainStatsBlock

// parseDomainStats turns one record's typed parameters into DomainStats. Unknown
// fields are ignored: libvirt adds new ones in every release.
func parseDomainStats(id UUID, params []libvirt.TypedParam) DomainStats {
	ds := DomainStats{UUID: id}
	vcpus := map[int]*VCPUStats{}
	blocks := map[int]*BlockStats{}
	nets := map[int]*NetStats{}
	for _, p := range params {
		group, rest, _ := strings.Cut(p.Field, ".")
		switch group {
		case "state":
			ds.parseState(rest, p.Value.I)
		case "cpu":
			ds.parseCPU(rest, p.Value.I)
		case "balloon":
			ds.HasBalloon = true
			ds.parseBalloon(rest, p.Value.I)
		case "vcpu":
			if n, field, ok := indexed(rest); ok {
				parseVCPU(entry(vcpus, n), field, p.Value.I)
			}
		case "block":
			if n, field, ok := indexed(rest); ok {
				parseBlock(entry(blocks, n), field, p.Value.I)
			}
		case "net":
			if n, field, ok := indexed(rest); ok {
				parseNet(entry(nets, n), field, p.Value.I)
			}
		}
	}
	ds.VCPUs = ordered(vcpus, func(n int, v *VCPUStats) { v.Number = n })
	ds.Blocks = ordered(blocks, nil)
	ds.Nets = ordered(nets, nil)
	if ds.State == StateShutoff {
		ds.dropRunCounters()
	}
	return ds
}

// dropRunCounters zeroes the counters of a run for a domain that is not running.
// libvirt 9.0's QEMU driver reports cpu.time/user/system for inactive domains too,
// read from /proc of PID 0, i.e. libvirtd's own CPU time: a shut-off VM would show
// libvirtd's CPU usage. Sizes (block capacity, allocation) stay: they are the images'.
func (ds *DomainStats) dropRunCounters() {
	ds.CPUTimeNs, ds.CPUUserNs, ds.CPUSystemNs = 0, 0, 0
	ds.BalloonRSSKiB = 0
	ds.VCPUs, ds.Nets = nil, nil
	for i := range ds.Blocks {
		b := &ds.Blocks[i]
		b.RdReqs, b.RdBytes, b.WrReqs, b.WrBytes, b.Errors = 0, 0, 0, 0, 0
	}
}

func (ds *DomainStats) parseState(field string, v any) {
	switch field {
	case "state":
		ds.State = DomainState(asUint(v))
	case "reason":
		ds.Reason = int32(asUint(v))
	}
}

func (ds *DomainStats) parseCPU(field string, v any) {
	switch field {
	case "time":
		ds.CPUTimeNs = asUint(v)
	case "user":
		ds.CPUUserNs = asUint(v)
	case "system":
		ds.CPUSystemNs = asUint(v)
	}
}

// The parse functions below switch on the field: a map of destinations built per
// field cost a dozen allocations per domain and poll.
func (ds *DomainStats) parseBalloon(field string, v any) {
	var dst *uint64
	switch field {
	case "current":
		dst = &ds.BalloonCurrentKiB
	case "maximum":
		dst = &ds.BalloonMaximumKiB
	case "rss":
		dst = &ds.BalloonRSSKiB
	case "unused":
		dst = &ds.BalloonUnusedKiB
	case "available":
		dst = &ds.BalloonAvailableKiB
	case "usable":
		dst = &ds.BalloonUsableKiB
	default:
		return
	}
	*dst = asUint(v)
}

func parseVCPU(s *VCPUStats, field string, v any) {
	switch field {
	case "state":
		s.State = int(asUint(v))
	case "time":
		s.TimeNs = asUint(v)
	}
}

func parseBlock(s *BlockStats, field string, v any) {
	if field == "name" || field == "path" {
		str, _ := v.(string)
		if field == "name" {
			s.Name = str
		} else {
			s.Path = str
		}
		return
	}
	var dst *uint64
	switch field {
	case "rd.reqs":
		dst = &s.RdReqs
	case "rd.bytes":
		dst = &s.RdBytes
	case "wr.reqs":
		dst = &s.WrReqs
	case "wr.bytes":
		dst = &s.WrBytes
	case "errors":
		dst = &s.Errors
	case "capacity":
		dst = &s.Capacity
	case "allocation":
		dst = &s.Allocation
	case "physical":
		dst = &s.Physical
	case "rd.times":
		dst = &s.RdTimesNs
	case "wr.times":
		dst = &s.WrTimesNs
	default:
		return
	}
	*dst = asUint(v)
}

func parseNet(s *NetStats, field string, v any) {
	if field == "name" {
		s.Name, _ = v.(string)
		return
	}
	var dst *uint64
	switch field {
	case "rx.bytes":
		dst = &s.RxBytes
	case "rx.pkts":
		dst = &s.RxPkts
	case "rx.errs":
		dst = &s.RxErrs
	case "rx.drop":
		dst = &s.RxDrop
	case "tx.bytes":
		dst = &s.TxBytes
	case "tx.pkts":
		dst = &s.TxPkts
	case "tx.errs":
		dst = &s.TxErrs
	case "tx.drop":
		dst = &s.TxDrop
	default:
		return
	}
	*dst = asUint(v)
}

// indexed splits "3.rd.bytes" into 3 and "rd.bytes"; "count" and "current" are not.
func indexed(s string) (int, string, bool) {
	num, field, ok := strings.Cut(s, ".")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 1<<16 {
		return 0, "", false
	}
	return n, field, true
}

func entry[T any](m map[int]*T, n int) *T {
	if v, ok := m[n]; ok {
		return v
	}
	v := new(T)
	m[n] = v
	return v
}

// ordered returns the map's values by index.
func ordered[T any](m map[int]*T, set func(int, *T)) []T {
	if len(m) == 0 {
		return nil
	}
	hi := -1
	for n := range m {
		hi = max(hi, n)
	}
	out := make([]T, 0, len(m))
	for n := 0; n <= hi; n++ {
		if v, ok := m[n]; ok {
			if set != nil {
				set(n, v)
			}
			out = append(out, *v)
		}
	}
	return out
}

// asUint reads a typed parameter's numeric value; negatives and non-numbers give 0.
func asUint(v any) uint64 {
	switch x := v.(type) {
	case uint64:
		return x
	case uint32:
		return uint64(x)
	case int64:
		if x > 0 {
			return uint64(x)
		}
	case int32:
		if x > 0 {
			return uint64(x)
		}
	case float64:
		if x > 0 {
			return uint64(x)
		}
	}
	return 0
}
