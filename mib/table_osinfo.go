package mib

import (
	"cmp"
	"strings"
)

// OSInfo is what supportedOsTable shows of a guest OS.
type OSInfo struct {
	Name, Version, Family string
}

// distros maps the first path element of well-known libosinfo ids
// (http://<vendor>/<distro>/<version>) to a readable name and the libosinfo family.
var distros = map[string]OSInfo{
	"debian":        {Name: "Debian GNU/Linux", Family: "linux"},
	"ubuntu":        {Name: "Ubuntu", Family: "linux"},
	"fedora":        {Name: "Fedora", Family: "linux"},
	"rhel":          {Name: "Red Hat Enterprise Linux", Family: "linux"},
	"centos":        {Name: "CentOS", Family: "linux"},
	"centos-stream": {Name: "CentOS Stream", Family: "linux"},
	"rocky":         {Name: "Rocky Linux", Family: "linux"},
	"almalinux":     {Name: "AlmaLinux", Family: "linux"},
	"ol":            {Name: "Oracle Linux", Family: "linux"},
	"opensuse":      {Name: "openSUSE", Family: "linux"},
	"sles":          {Name: "SUSE Linux Enterprise Server", Family: "linux"},
	"alpinelinux":   {Name: "Alpine Linux", Family: "linux"},
	"archlinux":     {Name: "Arch Linux", Family: "linux"},
	"gentoo":        {Name: "Gentoo Linux", Family: "linux"},
	"linux":         {Name: "Linux", Family: "linux"},
	"win":           {Name: "Microsoft Windows", Family: "winnt"},
	"freebsd":       {Name: "FreeBSD", Family: "freebsd"},
	"netbsd":        {Name: "NetBSD", Family: "netbsd"},
	"openbsd":       {Name: "OpenBSD", Family: "openbsd"},
	"solaris":       {Name: "Solaris", Family: "solaris"},
}

// ParseOSInfoID derives name, version and family from a libosinfo id such as
// http://debian.org/debian/12 (without the libosinfo database: well-known distributions
// get their usual name, others the id's distribution element). Without an id the name
// is the domain's OS type (osSource osType(3)).
func ParseOSInfoID(id, osType string) OSInfo {
	if id == "" {
		return OSInfo{Name: osType}
	}
	rest := id
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	// rest is vendor/distro[/version]
	_, rest, _ = strings.Cut(rest, "/")
	distro, version, _ := strings.Cut(rest, "/")
	if distro == "" {
		return OSInfo{Name: id}
	}
	info, ok := distros[distro]
	if !ok {
		info = OSInfo{Name: distro}
	}
	info.Version = version
	return info
}

// AgentOS is what a QEMU guest agent reports of the OS running in a guest: its
// os-release ID, NAME, VERSION_ID and PRETTY_NAME (Windows agents: ID "mswindows").
type AgentOS struct {
	ID, Name, VersionID, PrettyName string
}

// Known reports whether the agent named the OS at all.
func (a AgentOS) Known() bool { return a.ID != "" || a.Name != "" || a.PrettyName != "" }

// agentFamilies maps os-release IDs that differ from the libosinfo distribution names
// of distros to a family.
var agentFamilies = map[string]string{
	"mswindows": "winnt", "alpine": "linux", "arch": "linux", "opensuse-leap": "linux",
	"opensuse-tumbleweed": "linux", "sled": "linux", "amzn": "linux", "raspbian": "linux",
	"linuxmint": "linux", "pop": "linux", "kali": "linux", "nixos": "linux",
}

// Info returns what supportedOsTable shows of the row and where it comes from: the
// guest agent's answer when there is one (osName its NAME, else PRETTY_NAME or ID;
// osVersion its VERSION_ID; osFamily when the ID is a well-known one), else the
// libosinfo id, else the OS type alone.
func (r *OSRow) Info() (OSInfo, OSSource) {
	if a := r.Agent; a.Known() {
		info := OSInfo{Name: cmp.Or(a.Name, a.PrettyName, a.ID), Version: a.VersionID, Family: agentFamilies[a.ID]}
		if d, ok := distros[a.ID]; ok && info.Family == "" {
			info.Family = d.Family
		}
		return info, OSGuestAgent
	}
	if r.OSInfoID == "" {
		return ParseOSInfoID("", r.OSType), OSType
	}
	return ParseOSInfoID(r.OSInfoID, r.OSType), OSLibosinfo
}
