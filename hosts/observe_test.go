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
		"":   "other",
		"42": "other",
	} {
		if got := Procedure(what); got != want {
			t.Errorf("Procedure(%q) = %q, want %q", what, got, want)
		}
	}
}
