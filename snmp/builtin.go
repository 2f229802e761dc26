package snmp

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// DefaultSysObjectID is sysObjectID.0 unless WithSysObjectID says otherwise: the vmgate
// root (an experimental arc for now).
const DefaultSysObjectID = ".1.3.6.1.3.7466"

// Roots of the built-in groups, served in every context.
var (
	OIDSystem      = MustOID("1.3.6.1.2.1.1")         // SNMPv2-MIB system
	OIDSNMP        = MustOID("1.3.6.1.2.1.11")        // SNMPv2-MIB snmp
	OIDSNMPEngine  = MustOID("1.3.6.1.6.3.10.2.1")    // SNMP-FRAMEWORK-MIB snmpEngine
	OIDMPDStats    = MustOID("1.3.6.1.6.3.11.2.1")    // SNMP-MPD-MIB snmpMPDStats
	OIDTargetStats = MustOID("1.3.6.1.6.3.12.1")      // SNMP-TARGET-MIB snmpTargetObjects
	OIDUSMStats    = MustOID("1.3.6.1.6.3.15.1.1")    // SNMP-USER-BASED-SM-MIB usmStats
	oidSysUpTime   = MustOID("1.3.6.1.2.1.1.3.0")     // sysUpTime.0
	oidTrapOID     = MustOID("1.3.6.1.6.3.1.1.4.1.0") // snmpTrapOID.0
)

// scalar is one read-only scalar instance.
type scalar struct {
	oid OID
	get func() VarBind
}

// scalars is a read-only Handler over a fixed set of scalar instances, sorted by OID.
type scalars struct{ s []scalar }

func (h *scalars) add(oid OID, get func() VarBind) { h.s = append(h.s, scalar{oid: oid, get: get}) }

func (h *scalars) sort() {
	slices.SortFunc(h.s, func(a, b scalar) int { return a.oid.Compare(b.oid) })
}

// Get implements Handler.
func (h *scalars) Get(_ context.Context, _ *Request, oid OID) VarBind {
	i, ok := slices.BinarySearchFunc(h.s, oid, func(s scalar, o OID) int { return s.oid.Compare(o) })
	if ok {
		vb := h.s[i].get()
		vb.OID = h.s[i].oid
		return vb
	}
	for _, s := range h.s {
		if oid.HasPrefix(s.oid[:len(s.oid)-1]) {
			return VarBind{OID: oid, Type: gosnmp.NoSuchInstance}
		}
	}
	return VarBind{OID: oid, Type: gosnmp.NoSuchObject}
}

// Next implements Handler.
func (h *scalars) Next(_ context.Context, _ *Request, oid OID) (VarBind, bool) {
	i, ok := slices.BinarySearchFunc(h.s, oid, func(s scalar, o OID) int { return s.oid.Compare(o) })
	if ok {
		i++
	}
	if i >= len(h.s) {
		return VarBind{}, false
	}
	vb := h.s[i].get()
	vb.OID = h.s[i].oid
	return vb, true
}

func counter(c *atomic.Uint32) func() VarBind {
	return func() VarBind { return VarBind{Type: gosnmp.Counter32, Value: c.Load()} }
}

func integer(f func() int) func() VarBind {
	return func() VarBind { return VarBind{Type: gosnmp.Integer, Value: f()} }
}

func octets(f func() string) func() VarBind {
	return func() VarBind { return VarBind{Type: gosnmp.OctetString, Value: []byte(f())} }
}

// sysUpTime is hundredths of a second since the engine started.
func (e *Engine) sysUpTime() uint32 { return uint32(time.Since(e.start) / (10 * time.Millisecond)) }

func (e *Engine) registerBuiltins() {
	sys := &scalars{}
	sys.add(OIDSystem.Append(1, 0), octets(func() string {
		return "vmgate " + e.version + " SNMP gateway for libvirt hypervisors (" + runtime.GOOS + "/" + runtime.GOARCH + ")"
	}))
	sys.add(OIDSystem.Append(2, 0), func() VarBind { return VarBind{Type: gosnmp.ObjectIdentifier, Value: e.sysObjectID} })
	sys.add(OIDSystem.Append(3, 0), func() VarBind { return VarBind{Type: gosnmp.TimeTicks, Value: e.sysUpTime()} })
	sys.add(OIDSystem.Append(4, 0), octets(func() string { return e.sec.Load().sysContact }))
	sys.add(OIDSystem.Append(5, 0), octets(func() string { return e.sec.Load().sysName }))
	sys.add(OIDSystem.Append(6, 0), octets(func() string { return e.sec.Load().sysLocation }))
	sys.add(OIDSystem.Append(7, 0), integer(func() int { return 72 }))
	e.Register(OIDSystem, sys)

	c := &e.cnt
	snmp := &scalars{}
	for _, s := range []struct {
		sub uint32
		c   *atomic.Uint32
	}{{1, &c.inPkts}, {3, &c.inBadVersions}, {4, &c.inBadCommunityNames}, {5, &c.inBadCommunityUses},
		{6, &c.inASNParseErrs}, {31, &c.silentDrops}, {32, &c.proxyDrops}} {
		snmp.add(OIDSNMP.Append(s.sub, 0), counter(s.c))
	}
	snmp.add(OIDSNMP.Append(30, 0), integer(func() int { return 2 })) // snmpEnableAuthenTraps: disabled
	snmp.sort()
	e.Register(OIDSNMP, snmp)

	eng := &scalars{}
	eng.add(OIDSNMPEngine.Append(1, 0), func() VarBind { return VarBind{Type: gosnmp.OctetString, Value: e.EngineID()} })
	eng.add(OIDSNMPEngine.Append(2, 0), integer(func() int { return int(e.boots) }))
	eng.add(OIDSNMPEngine.Append(3, 0), integer(func() int { return int(e.engineTime()) }))
	eng.add(OIDSNMPEngine.Append(4, 0), integer(func() int { return e.maxSize }))
	e.Register(OIDSNMPEngine, eng)

	e.Register(OIDMPDStats, counterGroup(OIDMPDStats, &c.unknownSecurityModels, &c.invalidMsgs, &c.unknownPDUHandlers))
	tgt := &scalars{}
	tgt.add(OIDTargetStats.Append(4, 0), counter(&c.unavailableContexts))
	tgt.add(OIDTargetStats.Append(5, 0), counter(&c.unknownContexts))
	e.Register(OIDTargetStats, tgt)
	e.Register(OIDUSMStats, counterGroup(OIDUSMStats, &c.unsupportedSecLevels, &c.notInTimeWindows,
		&c.unknownUserNames, &c.unknownEngineIDs, &c.wrongDigests, &c.decryptionErrors))
}

// counterGroup serves root.1.0, root.2.0, ... from cs.
func counterGroup(root OID, cs ...*atomic.Uint32) *scalars {
	h := &scalars{}
	for i, c := range cs {
		h.add(root.Append(uint32(i+1), 0), counter(c))
	}
	return h
}
