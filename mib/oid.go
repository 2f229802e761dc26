package mib

import (
	"github.com/gosnmp/gosnmp"

	"github.com/vmgate/vmgate/snmp"
)

// Root is virtualMachinesMIB, the module's root: experimental.7466 until an enterprise
// number is registered. Every other OID of the module derives from it, so moving the
// module is a change of this one line (and of the MIB text's MODULE-IDENTITY).
//
// The OIDs of this package are shared: never modify them in place (snmp.OID.Append
// returns fresh copies).
var Root = snmp.OID{1, 3, 6, 1, 3, 7466}

// The module's top-level nodes.
var (
	Notifications = Root.Append(0) // vmNotifications
	Objects       = Root.Append(1) // vmObjects
	Conformance   = Root.Append(2) // vmConformance
	// AgentOID is vmgateAgent, the agent's sysObjectID value.
	AgentOID = Root.Append(3)

	Monitor   = Objects.Append(1)  // virtualMachineMonitor
	Templates = Objects.Append(13) // virtualMachinesMibTemplates

	Compliances = Conformance.Append(1) // vmCompliances
	Groups      = Conformance.Append(2) // vmGroups
)

// Access is an object's MAX-ACCESS.
type Access int

const (
	NotAccessible Access = iota
	AccessibleForNotify
	ReadOnly
	ReadWrite
	ReadCreate
)

var accessNames = [...]string{"not-accessible", "accessible-for-notify", "read-only", "read-write", "read-create"}

// String returns the SMIv2 spelling, e.g. "read-create".
func (a Access) String() string {
	if a < 0 || int(a) >= len(accessNames) {
		return "Access(?)"
	}
	return accessNames[a]
}

// Writable reports whether a SET may target the object.
func (a Access) Writable() bool { return a == ReadWrite || a == ReadCreate }

// Scalar is a scalar object; its only instance is OID.0.
type Scalar struct {
	Name   string
	OID    snmp.OID
	Type   gosnmp.Asn1BER // the BER type on the wire
	Access Access
	Limit  Limit // as Column.Limit
}

// Check checks a SET value for the scalar; see CheckValue.
func (s *Scalar) Check(typ gosnmp.Asn1BER, v any) (gosnmp.SNMPError, error) {
	return CheckValue(s.Name, s.Type, s.Access, s.Limit, typ, v)
}

// Instance returns the OID of the scalar's instance (OID.0).
func (s *Scalar) Instance() snmp.OID { return s.OID.Append(0) }

// The scalars.
var (
	VmmName          = &Scalar{"vmmName", Monitor.Append(1), gosnmp.OctetString, ReadOnly, Limit{}}
	VmmVersion       = &Scalar{"vmmVersion", Monitor.Append(2), gosnmp.Gauge32, ReadOnly, Limit{}}
	VmmVersionString = &Scalar{"vmmVersionString", Monitor.Append(3), gosnmp.OctetString, ReadOnly, Limit{}}
	VmIndexNext      = &Scalar{"vmIndexNext", Objects.Append(2), gosnmp.Gauge32, ReadOnly, Limit{}}
	StorageIndexNext = &Scalar{"storageIndexNext", Objects.Append(14), gosnmp.Gauge32, ReadOnly, Limit{}}
	// VmNotificationsDropped counts the notifications a full queue refused.
	VmNotificationsDropped = &Scalar{"vmNotificationsDropped", Objects.Append(16), gosnmp.Counter32, ReadOnly, Limit{}}
	// VirtualMachineTemplate is the current template's templateIndex (0: none).
	VirtualMachineTemplate = &Scalar{"virtualMachineTemplate", Templates.Append(1), gosnmp.Gauge32, ReadWrite, Limit{0, MaxIndex}}
	// StorageTemplate is the diskImageIndex new VMs get a copy of (0: none).
	StorageTemplate = &Scalar{"storageTemplate", Templates.Append(2), gosnmp.Gauge32, ReadWrite, Limit{0, MaxIndex}}
)

// Scalars returns every scalar in OID order.
func Scalars() []*Scalar {
	return []*Scalar{VmmName, VmmVersion, VmmVersionString, VmIndexNext, VirtualMachineTemplate, StorageTemplate, StorageIndexNext,
		VmNotificationsDropped}
}

// Notification is a NOTIFICATION-TYPE: its snmpTrapOID value and the objects it carries,
// in order (each sent as an instance of the row the notification is about).
type Notification struct {
	Name    string
	OID     snmp.OID
	Objects []string
}

var (
	// VmStateChange is sent when a VM's state changes; objects are instances .vmId.
	VmStateChange = &Notification{"vmStateChange", Notifications.Append(1),
		[]string{"vmName", "vmUUID", "vmState", "vmHost"}}
	// HostConnectionChange is sent when a hypervisor connection goes up or down;
	// objects are instances .hypervisorIndex.
	HostConnectionChange = &Notification{"hostConnectionChange", Notifications.Append(2),
		[]string{"hypervisorName", "hypervisorConnState", "hypervisorLastError"}}
	// ReplicaChange is sent when a replica joins or leaves the cluster; objects are
	// instances .replicaIndex (see ReplicaChangeVarBinds: a replica that left has no
	// row any more).
	ReplicaChange = &Notification{"replicaChange", Notifications.Append(3),
		[]string{"replicaName", "replicaRegistryState"}}
)

// Lookup returns the OID of a named node of the module (object, table, entry, column,
// notification, group, compliance...), or false.
func Lookup(name string) (snmp.OID, bool) {
	o, ok := nodes()[name]
	if !ok {
		return nil, false
	}
	return o.Append(), true
}

// nodes maps every named node of the module to its OID. It is built on each call
// (cheap, and no package state to guard); hot paths use the typed variables instead.
func nodes() map[string]snmp.OID {
	m := map[string]snmp.OID{
		"virtualMachinesMIB":          Root,
		"vmNotifications":             Notifications,
		"vmObjects":                   Objects,
		"vmConformance":               Conformance,
		"vmgateAgent":                 AgentOID,
		"virtualMachineMonitor":       Monitor,
		"virtualMachinesMibTemplates": Templates,
		"vmCompliances":               Compliances,
		"vmGroups":                    Groups,
		"vmFullCompliance":            Compliances.Append(1),
		"vmReadOnlyCompliance":        Compliances.Append(2),
	}
	for _, s := range Scalars() {
		m[s.Name] = s.OID
	}
	for _, n := range []*Notification{VmStateChange, HostConnectionChange, ReplicaChange} {
		m[n.Name] = n.OID
	}
	for _, t := range Tables() {
		m[t.Name] = t.OID
		m[t.EntryName] = t.Entry()
		for _, c := range t.Columns {
			m[c.Name] = t.Entry().Append(c.Num)
		}
	}
	for i, g := range groupNames {
		m[g] = Groups.Append(uint32(i + 1))
	}
	return m
}

// groupNames are the conformance groups, numbered from 1 under vmGroups.
var groupNames = [...]string{
	"vmMonitorGroup", "vmHypervisorGroup", "vmTableGroup", "vmMemoryGroup",
	"vmCpuGroup", "vmStorageGroup", "vmDiskImageGroup", "vmNetworkGroup",
	"vmNetworkAddressGroup", "vmHbaGroup", "vmOsGroup", "vmKernelGroup",
	"vmTemplateGroup", "vmNotificationGroup", "vmReplicaGroup", "vmReplicaNotificationGroup",
	"vmNotificationStatsGroup",
}
