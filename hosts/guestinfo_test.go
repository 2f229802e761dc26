package hosts

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/digitalocean/go-libvirt"
)

func strParam(field, v string) libvirt.TypedParam {
	return libvirt.TypedParam{Field: field, Value: *libvirt.NewTypedParamValueString(v)}
}

func TestParseGuestOS(t *testing.T) {
	tests := []struct {
		name   string
		params []libvirt.TypedParam
		want   GuestOS
		known  bool
	}{
		{name: "none"},
		{name: "linux guest, as libvirt 9.0 returns it for the test bed's guest", params: []libvirt.TypedParam{
			strParam("os.id", "vmgate-test"), strParam("os.name", "vmgate test guest"),
			strParam("os.pretty-name", "vmgate test guest 1"), strParam("os.version", "1"), strParam("os.version-id", "1"),
			strParam("os.machine", "x86_64"), strParam("os.kernel-release", "6.1.0-57-amd64"),
			strParam("os.kernel-version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)"),
		}, want: GuestOS{ID: "vmgate-test", Name: "vmgate test guest", Version: "1", VersionID: "1",
			PrettyName: "vmgate test guest 1", KernelRelease: "6.1.0-57-amd64"}, known: true},
		{name: "windows guest, other types mixed in", params: []libvirt.TypedParam{
			strParam("user.count", "0"), strParam("os.id", "mswindows"), strParam("os.name", "Microsoft Windows"),
			strParam("os.version-id", "2022"), strParam("os.variant", "server"), strParam("hostname", "w1"),
		}, want: GuestOS{ID: "mswindows", Name: "Microsoft Windows", VersionID: "2022"}, known: true},
		{name: "non-string values ignored", params: []libvirt.TypedParam{
			{Field: "os.id", Value: *libvirt.NewTypedParamValueInt(7)},
			{Field: "os.name", Value: *libvirt.NewTypedParamValueUllong(1)},
			strParam("timezone.name", "UTC"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseGuestOS(tt.params)
			if got != tt.want || got.Known() != tt.known {
				t.Errorf("got %+v (known %v), want %+v (known %v)", got, got.Known(), tt.want, tt.known)
			}
		})
	}
}

// TestGuestOSKept: the agent's answer is attached to the domain's reports while it
// runs (also after the agent went silent), replaced by a new answer, and forgotten
// when the domain shuts off, is removed, or a resync no longer lists it.
func TestGuestOSKept(t *testing.T) {
	id := UUID{2}
	running := Domain{UUID: id, State: StateRunning, GuestAgent: true}
	g1 := GuestOS{ID: "debian", Name: "Debian GNU/Linux", VersionID: "12"}
	g2 := GuestOS{ID: "debian", Name: "Debian GNU/Linux", VersionID: "13"}
	var a addrPlans
	attached := func(d Domain) GuestOS {
		a.withGuestOS(&d)
		return d.GuestOS
	}
	if a.storeOS(id, g1) {
		t.Fatal("stored an answer for a domain without a plan")
	}
	a.reset([]Domain{running})
	if !a.storeOS(id, g1) || a.storeOS(id, g1) || attached(running) != g1 {
		t.Fatalf("first answer: not stored once and attached: %+v", attached(running))
	}
	if !a.storeOS(id, g2) || attached(running) != g2 {
		t.Fatalf("a new answer replaces the last one: %+v", attached(running))
	}
	paused := running
	paused.State = StatePaused
	if attached(paused) != g2 {
		t.Fatalf("a paused domain keeps its answer")
	}
	off := running
	off.State = StateShutoff
	off.GuestOS = g2
	if got := attached(off); got != (GuestOS{}) {
		t.Fatalf("shut off: %+v", got)
	}
	if attached(running) != (GuestOS{}) {
		t.Fatalf("started again: the old answer came back before the agent answered")
	}
	a.storeOS(id, g1)
	a.set(&Domain{UUID: id}, false)
	a.set(&running, true)
	if attached(running) != (GuestOS{}) {
		t.Fatalf("removed and defined again: the old answer came back")
	}
	a.storeOS(id, g1)
	a.reset(nil)
	a.reset([]Domain{running})
	if attached(running) != (GuestOS{}) {
		t.Fatalf("gone from a resync: the old answer came back")
	}
	noAgent := running
	noAgent.GuestAgent = false
	a.storeOS(id, g1)
	if attached(noAgent) != (GuestOS{}) {
		t.Fatalf("channel removed: the answer stayed")
	}
}

// TestParseGuestOSSanitized: the guest writes its answer. Identifiers outside what
// os-release allows are dropped, text loses control characters and invalid UTF-8 and
// is cut to 255 bytes at a character boundary.
func TestParseGuestOSSanitized(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	g := ParseGuestOS([]libvirt.TypedParam{
		strParam(libvirt.DomainGuestInfoOsID, "Debian/../x"),
		strParam(libvirt.DomainGuestInfoOsVersionID, "12"),
		strParam(libvirt.DomainGuestInfoOsName, "Deb\x00ian\nGNU\xff"),
		strParam(libvirt.DomainGuestInfoOsPrettyName, long),
	})
	if g.ID != "" || g.VersionID != "12" {
		t.Errorf("ID %q, VersionID %q: want the bad ID dropped, the good version kept", g.ID, g.VersionID)
	}
	if g.Name != "DebianGNU\uFFFD" {
		t.Errorf("Name %q", g.Name)
	}
	if len(g.PrettyName) > 255 || !utf8.ValidString(g.PrettyName) || !strings.HasPrefix(long, g.PrettyName) {
		t.Errorf("PrettyName of %d bytes, valid %v", len(g.PrettyName), utf8.ValidString(g.PrettyName))
	}
	if id := osReleaseID(strings.Repeat("a", 65)); id != "" {
		t.Errorf("a 65-character ID kept")
	}
	if id := osReleaseID("opensuse-leap_15.5"); id != "opensuse-leap_15.5" {
		t.Errorf("a valid ID dropped: %q", id)
	}
}
