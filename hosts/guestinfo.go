package hosts

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/digitalocean/go-libvirt"
)

// GuestOS is what the QEMU guest agent says of the OS running in a domain
// (virDomainGetGuestInfo, type os: the guest's os-release and uname). The zero value
// means no answer.
type GuestOS struct {
	ID            string // os.id, e.g. "debian" (os-release ID), "mswindows"
	Name          string // os.name, e.g. "Debian GNU/Linux"
	Version       string // os.version, e.g. "12 (bookworm)"
	VersionID     string // os.version-id, e.g. "12"
	PrettyName    string // os.pretty-name, e.g. "Debian GNU/Linux 12 (bookworm)"
	KernelRelease string // os.kernel-release, e.g. "6.1.0-57-amd64"
}

// Known reports whether the agent named the OS at all.
func (g GuestOS) Known() bool { return g.ID != "" || g.Name != "" || g.PrettyName != "" }

// ParseGuestOS picks the os.* fields out of DomainGetGuestInfo's typed parameters.
// Other fields, and values that are not strings, are ignored.
func ParseGuestOS(params []libvirt.TypedParam) GuestOS {
	var g GuestOS
	fields := map[string]*string{
		libvirt.DomainGuestInfoOsID:            &g.ID,
		libvirt.DomainGuestInfoOsName:          &g.Name,
		libvirt.DomainGuestInfoOsVersion:       &g.Version,
		libvirt.DomainGuestInfoOsVersionID:     &g.VersionID,
		libvirt.DomainGuestInfoOsPrettyName:    &g.PrettyName,
		libvirt.DomainGuestInfoOsKernelRelease: &g.KernelRelease,
	}
	for _, p := range params {
		if dst, ok := fields[p.Field]; ok {
			if s, ok := p.Value.I.(string); ok {
				*dst = s
			}
		}
	}
	// The guest writes these: keep what os-release allows in its identifiers, and
	// printable, bounded text elsewhere.
	g.ID, g.VersionID = osReleaseID(g.ID), osReleaseID(g.VersionID)
	g.Name, g.Version, g.PrettyName = guestText(g.Name), guestText(g.Version), guestText(g.PrettyName)
	g.KernelRelease = guestText(g.KernelRelease)
	return g
}

// maxGuestText bounds a text field of the agent's answer (bytes).
const maxGuestText = 255

// osReleaseID returns s if it is an os-release identifier (ID, VERSION_ID: 1 to 64 of
// 0-9, a-z, '.', '_', '-'), else "".
func osReleaseID(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '.' || c == '_' || c == '-') {
			return ""
		}
	}
	return s
}

// guestText returns s as valid UTF-8 without control characters, cut to maxGuestText
// bytes at a character boundary.
func guestText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	for len(s) > maxGuestText {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// readGuestOS asks dom's guest agent for its OS (one DomainGetGuestInfo call) and
// stores the answer; changed says it differs from the one stored. A failure (no agent
// running in the guest, a daemon without the call) keeps the last answer and is
// logged at debug level; only a lost connection is returned.
func (s *Supervisor) readGuestOS(ctx context.Context, c *conn, id UUID, dom libvirt.Domain) (changed bool, err error) {
	params, err := callT(ctx, c, fmt.Sprintf("DomainGetGuestInfo %q os", dom.Name), func(l *lv) ([]libvirt.TypedParam, error) {
		return l.DomainGetGuestInfo(dom, uint32(libvirt.DomainGuestInfoOs), 0)
	})
	if connLost(err) || ctx.Err() != nil {
		return false, err
	}
	if err != nil {
		s.log.Debug("guest OS not read", "domain", dom.Name, "err", err)
		return false, nil
	}
	g := ParseGuestOS(params)
	if !g.Known() {
		return false, nil
	}
	return s.plans.storeOS(id, g), nil
}

// storeOS keeps the agent's latest OS answer for id; it reports whether it changed.
func (a *addrPlans) storeOS(id UUID, g GuestOS) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[id]
	if x == nil {
		return false // re-read meanwhile and gone, or stopped
	}
	if x.os != nil && *x.os == g {
		return false
	}
	x.os = &g
	return true
}

// withGuestOS sets d.GuestOS to the agent's last answer while d runs, and forgets that
// answer once d is shut off, crashed or has no agent channel: an agent that goes silent
// leaves its last answer in place until the domain stops.
func (a *addrPlans) withGuestOS(d *Domain) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.m[d.UUID]
	d.GuestOS = GuestOS{}
	switch {
	case !d.GuestAgent || d.State == StateShutoff || d.State == StateCrashed:
		if x != nil {
			x.os = nil
		}
	case x != nil && x.os != nil:
		d.GuestOS = *x.os
	}
}
