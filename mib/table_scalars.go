package mib

import (
	"encoding/hex"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// nodesOf lists the objects the handler serves, in OID order; dropped is
// vmNotificationsDropped's count.
func nodesOf(dropped func() uint64) []node {
	return []node{
		newScalar(VmmName, func(s Snapshot) value {
			h, ok := s.Host()
			return str(adminString(h.Type)).when(ok)
		}),
		newScalar(VmmVersion, func(s Snapshot) value {
			h, ok := s.Host()
			return g32(h.Version).when(ok)
		}),
		newScalar(VmmVersionString, func(s Snapshot) value {
			h, ok := s.Host()
			return str(versionString(h.Version)).when(ok)
		}),
		hypervisorTable(),
		newScalar(VmIndexNext, func(s Snapshot) value {
			n := s.IndexNext()
			return u32(n).when(n != 0)
		}),
		vmTable(),
		memoryTable(),
		cpuTable(),
		storageTable(),
		diskImagesTable(),
		networkTable(),
		networkAddressTable(),
		hbaTable(),
		osTable(),
		kernelTable(),
		newScalar(VirtualMachineTemplate, func(s Snapshot) value {
			t, _ := s.TemplateChoice()
			return u32(t)
		}),
		newScalar(StorageTemplate, func(s Snapshot) value {
			_, st := s.TemplateChoice()
			return u32(st)
		}),
		templateTable(),
		newScalar(StorageIndexNext, func(s Snapshot) value {
			n := s.StorageIndexNext()
			return u32(n).when(n != 0)
		}),
		replicaTable(),
		newScalar(VmNotificationsDropped, func(Snapshot) value {
			return c32(uint32(dropped())) // Counter32 wraps
		}),
	}
}

// Value helpers, by BER type.

func str(s string) value          { return value{typ: gosnmp.OctetString, s: s, ok: true} }
func u32(n uint32) value          { return value{typ: gosnmp.Gauge32, n: uint64(n), ok: true} }
func g32(n uint64) value          { return value{typ: gosnmp.Gauge32, n: uint64(gauge(n)), ok: true} }
func c32(n uint32) value          { return value{typ: gosnmp.Counter32, n: uint64(n), ok: true} }
func c64(n uint64, ok bool) value { return value{typ: gosnmp.Counter64, n: n, ok: ok} }
func integer(n int) value         { return value{typ: gosnmp.Integer, n: uint64(int64(n)), ok: true} }
func octets(b []byte) value       { return value{typ: gosnmp.OctetString, b: b, bytes: true, ok: true} }
func timeticks(d time.Duration) value {
	return value{typ: gosnmp.TimeTicks, n: uint64(ticks(d)), ok: true}
}
func objectID(s string) value { return value{typ: gosnmp.ObjectIdentifier, s: s, ok: true} }

// when is v, with an instance only if ok.
func (v value) when(ok bool) value {
	v.ok = v.ok && ok
	return v
}

// uuid returns a UUID's 16 octets (UUIDorZero): u's own bytes, not a copy.
func uuid(u *[16]byte) value { return octets(u[:]) }

// uuidText is vmUUIDText: the canonical 8-4-4-4-12 lowercase form. (mib cannot import
// hosts.UUID, whose String is the same form.) A walk formats it on its stack, a GET
// or GETNEXT into a string.
func uuidText(u *[16]byte) value {
	return value{typ: gosnmp.OctetString, b: u[:], bytes: true, uuidText: true, ok: true}
}

// formatUUID writes u's canonical text form into b.
func formatUUID(b *[36]byte, u []byte) {
	hex.Encode(b[0:8], u[0:4])
	hex.Encode(b[9:13], u[4:6])
	hex.Encode(b[14:18], u[6:8])
	hex.Encode(b[19:23], u[8:10])
	hex.Encode(b[24:36], u[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
}

// gauge clamps to Gauge32/Unsigned32: "a gauge whose true value does not fit reports its
// maximum value".
func gauge(n uint64) uint32 {
	if n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

// FormatVersion is versionString for the gateway's VM-MIB rows (vmHvVersion).
func FormatVersion(v uint64) string { return versionString(v) }

// versionString renders libvirt's major*1000000 + minor*1000 + release as
// "major.minor.release"; "" for 0 (unknown).
func versionString(v uint64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatUint(v/1000000, 10) + "." + strconv.FormatUint(v/1000%1000, 10) + "." +
		strconv.FormatUint(v%1000, 10)
}

// Text columns are cut to their SIZE: SnmpAdminString and DisplayString 255 octets,
// LongUtf8String 1024, at a UTF-8 character boundary.
func adminString(s string) string   { return cut(s, 255) }
func displayString(s string) string { return cut(s, 255) }
func longString(s string) string    { return cut(s, 1024) }

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
