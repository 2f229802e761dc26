package mib

import (
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

func column(t *testing.T, tb *Table, num uint32) Column {
	t.Helper()
	c, ok := tb.Column(num)
	if !ok {
		t.Fatalf("%s has no column %d", tb.Name, num)
	}
	return c
}

func TestCheckValue(t *testing.T) {
	vmName := column(t, VirtualMachinesTable, ColVmName)
	vmState := column(t, VirtualMachinesTable, ColVmState)
	vmRow := column(t, VirtualMachinesTable, ColVmRowStatus)
	vmAuto := column(t, VirtualMachinesTable, ColVmAutostart)
	vmUUID := column(t, VirtualMachinesTable, ColVmUUID)
	memTotal := column(t, MemoryTable, ColMemoryTotalMb)
	vcpus := column(t, VirtualMachineTemplateTable, ColTemplateVcpus)
	xmlFile := column(t, VirtualMachineTemplateTable, ColTemplateXmlFile)
	tests := []struct {
		name  string
		check func(gosnmp.Asn1BER, any) (gosnmp.SNMPError, error)
		typ   gosnmp.Asn1BER
		value any
		want  gosnmp.SNMPError
	}{
		{"name ok", vmName.Check, gosnmp.OctetString, []byte("web-1"), gosnmp.NoError},
		{"name as string", vmName.Check, gosnmp.OctetString, "web-1", gosnmp.NoError},
		{"name UTF-8", vmName.Check, gosnmp.OctetString, []byte("κόμβος"), gosnmp.NoError},
		{"name empty", vmName.Check, gosnmp.OctetString, []byte{}, gosnmp.WrongLength},
		{"name 255", vmName.Check, gosnmp.OctetString, []byte(strings.Repeat("a", 255)), gosnmp.NoError},
		{"name 256", vmName.Check, gosnmp.OctetString, []byte(strings.Repeat("a", 256)), gosnmp.WrongLength},
		{"name not UTF-8", vmName.Check, gosnmp.OctetString, []byte{0xff, 0xfe}, gosnmp.WrongValue},
		{"name newline", vmName.Check, gosnmp.OctetString, []byte("a\nb"), gosnmp.WrongValue},
		{"name NUL", vmName.Check, gosnmp.OctetString, []byte("a\x00"), gosnmp.WrongValue},
		{"name as integer", vmName.Check, gosnmp.Integer, 1, gosnmp.WrongType},
		{"name Go type", vmName.Check, gosnmp.OctetString, 7, gosnmp.WrongType},
		{"state running", vmState.Check, gosnmp.Integer, int(StateRunning), gosnmp.NoError},
		{"state 0", vmState.Check, gosnmp.Integer, 0, gosnmp.WrongValue},
		{"state 11", vmState.Check, gosnmp.Integer, 11, gosnmp.WrongValue},
		{"state huge", vmState.Check, gosnmp.Integer, int64(1) << 40, gosnmp.WrongValue},
		{"state as gauge", vmState.Check, gosnmp.Gauge32, uint(2), gosnmp.WrongType},
		{"state as string", vmState.Check, gosnmp.OctetString, []byte("running"), gosnmp.WrongType},
		{"row createAndGo", vmRow.Check, gosnmp.Integer, int(RowCreateAndGo), gosnmp.NoError},
		{"row notReady", vmRow.Check, gosnmp.Integer, int(RowNotReady), gosnmp.WrongValue},
		{"row 7", vmRow.Check, gosnmp.Integer, 7, gosnmp.WrongValue},
		{"autostart false", vmAuto.Check, gosnmp.Integer, int(False), gosnmp.NoError},
		{"autostart 0", vmAuto.Check, gosnmp.Integer, 0, gosnmp.WrongValue},
		{"uuid read-only", vmUUID.Check, gosnmp.OctetString, make([]byte, 16), gosnmp.NotWritable},
		{"memory ok", memTotal.Check, gosnmp.Gauge32, uint(2048), gosnmp.NoError},
		{"memory max", memTotal.Check, gosnmp.Gauge32, uint(4294967295), gosnmp.NoError},
		{"memory 0", memTotal.Check, gosnmp.Gauge32, uint(0), gosnmp.WrongValue},
		{"memory negative", memTotal.Check, gosnmp.Gauge32, -1, gosnmp.WrongValue},
		{"memory as integer", memTotal.Check, gosnmp.Integer, 2048, gosnmp.WrongType},
		{"memory as counter64", memTotal.Check, gosnmp.Counter64, uint64(2048), gosnmp.WrongType},
		{"vcpus 4096", vcpus.Check, gosnmp.Gauge32, uint32(4096), gosnmp.NoError},
		{"vcpus 4097", vcpus.Check, gosnmp.Gauge32, uint32(4097), gosnmp.WrongValue},
		{"xml empty", xmlFile.Check, gosnmp.OctetString, []byte{}, gosnmp.NoError},
		{"xml 1025", xmlFile.Check, gosnmp.OctetString, []byte(strings.Repeat("x", 1025)), gosnmp.WrongLength},
		{"template ok", VirtualMachineTemplate.Check, gosnmp.Gauge32, uint(0), gosnmp.NoError},
		{"template above max", VirtualMachineTemplate.Check, gosnmp.Gauge32, uint(MaxIndex + 1), gosnmp.WrongValue},
		{"vmmName read-only", VmmName.Check, gosnmp.OctetString, []byte("QEMU"), gosnmp.NotWritable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.check(tt.typ, tt.value)
			if got != tt.want {
				t.Fatalf("Check(%v, %#v) = %v (%v), want %v", tt.typ, tt.value, got, err, tt.want)
			}
			if (err == nil) != (got == gosnmp.NoError) {
				t.Fatalf("status %v with error %v", got, err)
			}
		})
	}
}

// TestWritableHaveChecks: every writable object has a type CheckValue handles.
func TestWritableHaveChecks(t *testing.T) {
	for _, tb := range Tables() {
		for _, c := range tb.Columns {
			if !c.Access.Writable() {
				continue
			}
			if c.Type != gosnmp.Integer && c.Type != gosnmp.Gauge32 && c.Type != gosnmp.OctetString {
				t.Errorf("%s: writable with type %v that CheckValue does not handle", c.Name, c.Type)
			}
		}
	}
}
