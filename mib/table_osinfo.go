package mib

import "strings"

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
