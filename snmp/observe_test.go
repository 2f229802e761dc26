package snmp

import (
	"testing"

	"github.com/gosnmp/gosnmp"
)

func TestStatusName(t *testing.T) {
	for s, want := range map[gosnmp.SNMPError]string{
		gosnmp.NoError: "noError", gosnmp.TooBig: "tooBig", gosnmp.GenErr: "genErr",
		gosnmp.WrongValue: "wrongValue", gosnmp.CommitFailed: "commitFailed",
		gosnmp.AuthorizationError: "authorizationError", gosnmp.InconsistentName: "inconsistentName",
		gosnmp.SNMPError(99): "other",
	} {
		if got := statusName(s); got != want {
			t.Errorf("statusName(%d) = %q, want %q", s, got, want)
		}
	}
}
