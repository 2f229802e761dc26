package mib

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
)

// nodesOf lists the objects the handler serves, in OID order; dropped is
// vmNotificationsDropped's count.
func nodesOf(dropped func() uint64) []node {
	return []node{
		newScalar(VmmName, func(s Snapshot) value {
			h, ok := s.Host()
			return value{gosnmp.OctetString, adminString(h.Type), ok}
		}),
		newScalar(VmmVersion, func(s Snapshot) value {
			h, ok := s.Host()
			return value{gosnmp.Gauge32, gauge(h.Version), ok}
		}),
		newScalar(VmmVersionString, func(s Snapshot) value {
			h, ok := s.Host()
			return value{gosnmp.OctetString, versionString(h.Version), ok}
		}),
		hypervisorTable(),
		newScalar(VmIndexNext, func(s Snapshot) value {
			n := s.IndexNext()
			return value{gosnmp.Gauge32, n, n != 0}
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
			return value{gosnmp.Gauge32, t, true}
		}),
		newScalar(StorageTemplate, func(s Snapshot) value {
			_, st := s.TemplateChoice()
			return value{gosnmp.Gauge32, st, true}
		}),
		templateTable(),
		newScalar(StorageIndexNext, func(s Snapshot) value {
			n := s.StorageIndexNext()
			return value{gosnmp.Gauge32, n, n != 0}
		}),
		replicaTable(),
		newScalar(VmNotificationsDropped, func(Snapshot) value {
			return value{gosnmp.Counter32, uint32(dropped()), true} // Counter32 wraps
		}),
	}
}

// Value helpers: the Go types snmp.VarBind wants for each BER type.

func str(s string) value          { return value{gosnmp.OctetString, s, true} }
func u32(n uint32) value          { return value{gosnmp.Gauge32, n, true} }
func g32(n uint64) value          { return value{gosnmp.Gauge32, gauge(n), true} }
func c64(n uint64, ok bool) value { return value{gosnmp.Counter64, n, ok} }
func integer(n int) value         { return value{gosnmp.Integer, n, true} }
func octets(b []byte) value       { return value{gosnmp.OctetString, b, true} }

// uuid returns a UUID's 16 octets (UUIDorZero).
func uuid(u [16]byte) value { return octets(u[:]) }

// uuidText is vmUUIDText: the canonical 8-4-4-4-12 lowercase form. (mib cannot import
// hosts.UUID, whose String is the same form.)
func uuidText(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
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
