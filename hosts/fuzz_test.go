package hosts

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// URIs come from operators' config files: any string must give a URI or an error.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"qemu:///system", "qemu+ssh://root@h:22/system?socket=/x&keyfile=/k", "test+unix:///a/b.xml",
		"qemu+tls://[::1]:16514/system?pkipath=/p&no_verify=1", "xen+ssh://u@h/system", "qemu://h/session?name=x",
		"%", "qemu+://", "qemu+tcp://h:99999999999999999999/system",
		"qemu+ssh://u:secret1@h:x/system", "qemu+tls://h/system?password=secret1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if pw := uriPassword(s); pw != "" && slices.ContainsFunc(quoted(err.Error()), func(q string) bool { return strings.Contains(q, pw) }) {
				t.Fatalf("ParseURI(%q): the error shows the password: %v", s, err)
			}
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

// quoted are the %q parts of an error message: the fixed words ("/system or /session")
// may contain a short password by chance.
func quoted(msg string) []string {
	var out []string
	for _, m := range quotedRe.FindAllString(msg, -1) {
		if q, err := strconv.Unquote(m); err == nil {
			out = append(out, q)
		}
	}
	return out
}

var quotedRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// uriPassword is the password of s when it has one that appears nowhere else in s, nor
// in s as messages escape it, and is long enough not to match by chance; else "".
func uriPassword(s string) string {
	var pw string
	if pu, err := url.Parse(s); err != nil || pu.User == nil {
		i, j := strings.Index(s, "://"), strings.LastIndexByte(s, '@')
		if i < 0 || j < i {
			return ""
		}
		var ok bool
		if _, pw, ok = strings.Cut(s[i+3:j], ":"); !ok {
			return ""
		}
	} else {
		pw, _ = pu.User.Password()
	}
	if len(pw) < 6 || strings.Count(s, pw) != 1 || strings.Count(percentEscaped(s), pw) > 1 {
		return ""
	}
	return pw
}

// percentEscaped is s with its bytes outside printable ASCII written %XX, as url.URL's
// String writes them in a host.
func percentEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Domain XML comes from hypervisors: anything must parse or fail, never panic.
func FuzzParseDomainXML(f *testing.F) {
	f.Add(`<domain type='kvm'><name>a</name><uuid>00000000-0000-0000-0000-000000000001</uuid><memory unit='G'>1</memory><vcpu current='1'>2</vcpu></domain>`)
	f.Add(`<domain><uuid>00000000000000000000000000000001</uuid><devices><disk type='volume'><source pool='p' volume='v'/></disk><interface/><controller index='x'/></devices></domain>`)
	f.Add(`<pool><uuid>00000000000000000000000000000001</uuid><capacity unit='T'>99999999999</capacity></pool>`)
	f.Add(`<domain><uuid>00000000000000000000000000000001</uuid><vcpu cpuset='0-3,^2'>2</vcpu><cputune><vcpupin vcpu='1' cpuset='5'/></cputune></domain>`)
	f.Fuzz(func(t *testing.T, doc string) {
		if d, err := ParseDomainXML(doc); err == nil {
			for _, p := range d.VCPUPins {
				if !slices.IsSorted(p.CPUs) || len(p.CPUs) > MaxCPUSet {
					t.Fatalf("vcpupin %d: cpuset %v not sorted or above the bound", p.VCPU, p.CPUs)
				}
			}
		}
		_, _ = ParsePoolXML(doc)
		_, _ = ParseVolumeXML("p", doc)
	})
}
