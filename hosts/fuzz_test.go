package hosts

import (
	"testing"
)

// URIs come from operators' config files: any string must give a URI or an error.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"qemu:///system", "qemu+ssh://root@h:22/system?socket=/x&keyfile=/k", "test+unix:///a/b.xml",
		"qemu+tls://[::1]:16514/system?pkipath=/p&no_verify=1", "xen+ssh://u@h/system", "qemu://h/session?name=x",
		"%", "qemu+://", "qemu+tcp://h:99999999999999999999/system",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if u.Driver == "" || u.Transport == "" {
			t.Fatalf("ParseURI(%q) accepted without driver or transport: %+v", s, u)
		}
		_ = u.DriverURI()
		_ = u.Address()
		_ = u.SocketPath()
	})
}

// Domain XML comes from hypervisors: anything must parse or fail, never panic.
func FuzzParseDomainXML(f *testing.F) {
	f.Add(`<domain type='kvm'><name>a</name><uuid>00000000-0000-0000-0000-000000000001</uuid><memory unit='G'>1</memory><vcpu current='1'>2</vcpu></domain>`)
	f.Add(`<domain><uuid>00000000000000000000000000000001</uuid><devices><disk type='volume'><source pool='p' volume='v'/></disk><interface/><controller index='x'/></devices></domain>`)
	f.Add(`<pool><uuid>00000000000000000000000000000001</uuid><capacity unit='T'>99999999999</capacity></pool>`)
	f.Fuzz(func(t *testing.T, doc string) {
		_, _ = ParseDomainXML(doc)
		_, _ = ParsePoolXML(doc)
		_, _ = ParseVolumeXML("p", doc)
	})
}
