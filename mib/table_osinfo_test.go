package mib

import "testing"

func TestOSRowInfo(t *testing.T) {
	tests := []struct {
		name string
		row  OSRow
		want OSInfo
		src  OSSource
	}{
		{"os type only", OSRow{OSType: "hvm"}, OSInfo{Name: "hvm"}, OSType},
		{"libosinfo", OSRow{OSInfoID: "http://debian.org/debian/12", OSType: "hvm"},
			OSInfo{Name: "Debian GNU/Linux", Version: "12", Family: "linux"}, OSLibosinfo},
		{"libosinfo, unknown distribution", OSRow{OSInfoID: "http://example.org/exotic/3"},
			OSInfo{Name: "exotic", Version: "3"}, OSLibosinfo},
		{"agent wins over libosinfo", OSRow{OSInfoID: "http://debian.org/debian/11", OSType: "hvm",
			Agent: AgentOS{ID: "debian", Name: "Debian GNU/Linux", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"}},
			OSInfo{Name: "Debian GNU/Linux", Version: "12", Family: "linux"}, OSGuestAgent},
		{"agent, os-release id not a libosinfo name", OSRow{Agent: AgentOS{ID: "alpine", Name: "Alpine Linux", VersionID: "3.20.3"}},
			OSInfo{Name: "Alpine Linux", Version: "3.20.3", Family: "linux"}, OSGuestAgent},
		{"agent, windows", OSRow{Agent: AgentOS{ID: "mswindows", Name: "Microsoft Windows", VersionID: "2022"}},
			OSInfo{Name: "Microsoft Windows", Version: "2022", Family: "winnt"}, OSGuestAgent},
		{"agent, unknown id: no family", OSRow{Agent: AgentOS{ID: "vmgate-test", Name: "vmgate test guest", VersionID: "1"}},
			OSInfo{Name: "vmgate test guest", Version: "1"}, OSGuestAgent},
		{"agent without NAME", OSRow{Agent: AgentOS{ID: "x", PrettyName: "X 1"}}, OSInfo{Name: "X 1"}, OSGuestAgent},
		{"agent without NAME or PRETTY_NAME", OSRow{Agent: AgentOS{ID: "x", VersionID: "2"}}, OSInfo{Name: "x", Version: "2"}, OSGuestAgent},
		{"agent answer empty: XML", OSRow{OSType: "hvm", Agent: AgentOS{VersionID: "1"}}, OSInfo{Name: "hvm"}, OSType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src := tt.row.Info()
			if got != tt.want || src != tt.src {
				t.Errorf("Info() = %+v, %d; want %+v, %d", got, src, tt.want, tt.src)
			}
		})
	}
}
