package hosts

import (
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/go-libvirt"
)

// statsGroups are the ConnectGetAllDomainStats groups vmgate asks for, in one call.
const statsGroups = libvirt.DomainStatsState | libvirt.DomainStatsCPUTotal |
	libvirt.DomainStatsBalloon | libvirt.DomainStatsVCPU |
	libvirt.DomainStatsInterface | libvirt.DomainStatsBlock

// parseDomainStats turns one record's typed parameters, as go-libvirt decodes them,
// into DomainStats, with p (see statsParser). Unknown fields are ignored: libvirt adds
// new ones in every release.
func parseDomainStats(p *statsParser, id UUID, params []libvirt.TypedParam) DomainStats {
	p.start(id)
	for _, tp := range params {
		str, _ := tp.Value.I.(string)
		p.set(tp.Field, asUint(tp.Value.I), str)
	}
	return p.done()
}

// statsParser builds one DomainStats from a record's parameters, one at a time:
// from go-libvirt's records (parseDomainStats) or straight off the wire
// (decodeStatsReply). It may be reused for the next record once done has returned.
// The groups of the records it parses share its arrays (packStats copies them out):
// a reply's parse allocates a few growing arrays, not three slices per domain.
type statsParser struct {
	ds     DomainStats
	vcpus  indexedSet[VCPUStats]
	blocks indexedSet[BlockStats]
	nets   indexedSet[NetStats]

	allVCPUs  []VCPUStats
	allBlocks []BlockStats
	allNets   []NetStats
}

func (p *statsParser) start(id UUID) {
	p.ds = DomainStats{UUID: id}
	p.vcpus.reset()
	p.blocks.reset()
	p.nets.reset()
}

// set takes one parameter: num is its numeric value (asUint: 0 for negatives and
// strings), str its string value ("" for numbers). field is not kept.
func (p *statsParser) set(field string, num uint64, str string) {
	ds := &p.ds
	group, rest, _ := strings.Cut(field, ".")
	switch group {
	case "state":
		ds.parseState(rest, num)
	case "cpu":
		ds.parseCPU(rest, num)
	case "balloon":
		ds.HasBalloon = true
		ds.parseBalloon(rest, num)
	case "vcpu":
		if n, field, ok := indexed(rest); ok {
			parseVCPU(p.vcpus.entry(n), field, num)
		}
	case "block":
		if n, field, ok := indexed(rest); ok {
			parseBlock(p.blocks.entry(n), field, num, str)
		}
	case "net":
		if n, field, ok := indexed(rest); ok {
			parseNet(p.nets.entry(n), field, num, str)
		}
	}
}

func (p *statsParser) done() DomainStats {
	ds := p.ds
	for i, n := range p.vcpus.ns {
		p.vcpus.vs[i].Number = int32(n)
	}
	ds.VCPUs, p.allVCPUs = packed(p.allVCPUs, p.vcpus.vs)
	ds.Blocks, p.allBlocks = packed(p.allBlocks, p.blocks.vs)
	ds.Nets, p.allNets = packed(p.allNets, p.nets.vs)
	if ds.State == StateShutoff {
		ds.dropRunCounters()
	}
	p.ds = DomainStats{}
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

func (ds *DomainStats) parseState(field string, v uint64) {
	switch field {
	case "state":
		ds.State = DomainState(v)
	case "reason":
		ds.Reason = int32(v)
	}
}

func (ds *DomainStats) parseCPU(field string, v uint64) {
	switch field {
	case "time":
		ds.CPUTimeNs = v
	case "user":
		ds.CPUUserNs = v
	case "system":
		ds.CPUSystemNs = v
	}
}

// The parse functions below switch on the field: a map of destinations built per
// field cost a dozen allocations per domain and poll.
func (ds *DomainStats) parseBalloon(field string, v uint64) {
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
	*dst = v
}

func parseVCPU(s *VCPUStats, field string, v uint64) {
	switch field {
	case "state":
		s.State = int32(v)
	case "time":
		s.TimeNs = v
	}
}

func parseBlock(s *BlockStats, field string, v uint64, str string) {
	if field == "name" || field == "path" {
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
	*dst = v
}

func parseNet(s *NetStats, field string, v uint64, str string) {
	if field == "name" {
		s.Name = str
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
	*dst = v
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

// indexedSet collects the <n>.* groups of one kind (vcpu, block, net) of a record
// without a map, kept sorted by n (vs[i] is group ns[i]): libvirt sends each group's
// fields together, in ascending n, so the usual entry is the last one or a new last one.
type indexedSet[T any] struct {
	ns []int
	vs []T
}

func (s *indexedSet[T]) reset() {
	s.ns, s.vs = s.ns[:0], s.vs[:0]
}

// entry returns group n's entry, adding it if new.
func (s *indexedSet[T]) entry(n int) *T {
	last := len(s.ns) - 1
	if last >= 0 && s.ns[last] == n {
		return &s.vs[last]
	}
	i := len(s.ns)
	if last >= 0 && n < s.ns[last] {
		var found bool
		if i, found = slices.BinarySearch(s.ns, n); found {
			return &s.vs[i]
		}
	}
	var zero T
	s.ns = slices.Insert(s.ns, i, n)
	s.vs = slices.Insert(s.vs, i, zero)
	return &s.vs[i]
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
