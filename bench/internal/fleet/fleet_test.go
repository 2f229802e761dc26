package fleet

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestWriteNode(t *testing.T) {
	type domain struct {
		UUID string `xml:"uuid"`
		MAC  struct {
			Address string `xml:"address,attr"`
		} `xml:"devices>interface>mac"`
	}
	var node struct {
		Domains []domain `xml:"domain"`
	}
	seen := map[string]bool{}
	for h := range 3 {
		var b strings.Builder
		WriteNode(&b, h, 20)
		if err := xml.Unmarshal([]byte(b.String()), &node); err != nil {
			t.Fatalf("host %d: %v", h, err)
		}
		if len(node.Domains) != 20 {
			t.Fatalf("host %d: %d domains, want 20", h, len(node.Domains))
		}
		for _, d := range node.Domains {
			for _, k := range []string{d.UUID, d.MAC.Address} {
				if k == "" || seen[k] {
					t.Errorf("host %d: empty or repeated %q", h, k)
				}
				seen[k] = true
			}
		}
		node.Domains = nil
	}
}
