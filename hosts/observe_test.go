package hosts

import "testing"

func TestProcedure(t *testing.T) {
	for what, want := range map[string]string{
		"ConnectListAllDomains": "ConnectListAllDomains",
		`DomainGetBlockInfo "vda" 6695eb01-f6a4-8304-79aa-97f8502e193d`: "DomainGetBlockInfo",
		"start 6695eb01-f6a4-8304-79aa-97f8502e193d":                    "start",
		"pm-suspend abcdefab-abcd-abcd-abcd-abcdefabcdef":               "pm-suspend",
		`read volumes of pool "default"`:                                "read_volumes_of_pool",
		"clone volume default/base.qcow2 for vm1":                       "clone_volume",
		"\tsubscribe  event 3":                                          "subscribe_event",
		"":                                                              "other",
		"42":                                                            "other",
	} {
		if got := Procedure(what); got != want {
			t.Errorf("Procedure(%q) = %q, want %q", what, got, want)
		}
	}
}

// TestProcedureOneWordNoAlloc: the observer runs on every libvirt call; the name of a
// one-word procedure is a part of its description.
func TestProcedureOneWordNoAlloc(t *testing.T) {
	what := `DomainInterfaceAddresses "vm-1" source 0`
	if n := testing.AllocsPerRun(100, func() { _ = Procedure(what) }); n != 0 {
		t.Errorf("Procedure(%q) allocates %v times, want 0", what, n)
	}
}
