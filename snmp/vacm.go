package snmp

import (
	"fmt"
	"slices"

	"github.com/gosnmp/gosnmp"
)

// contextSet is the set of contexts a principal may use; all means "*".
type contextSet struct {
	all   bool
	names map[string]bool
}

func newContextSet(names []string) contextSet {
	s := contextSet{names: map[string]bool{}}
	for _, n := range names {
		if n == "*" {
			s.all = true
		}
		s.names[n] = true
	}
	return s
}

func (s contextSet) allows(ctx string) bool { return s.all || s.names[ctx] }

// security is one immutable snapshot of who may do what, swapped whole on Reload.
type security struct {
	communities map[string]Community
	users       map[string]*usmUser
	notify      []Target
	sysName     string
	sysContact  string
	sysLocation string
	// caps of community answers, see Config
	communityMaxSize, communityMaxReps int
}

func newSecurity(cfg Config, engineID []byte) (*security, error) {
	s := &security{
		communities:      make(map[string]Community, len(cfg.Communities)),
		users:            make(map[string]*usmUser, len(cfg.Users)),
		notify:           slices.Clone(cfg.Notify),
		sysName:          cfg.SysName,
		sysContact:       cfg.SysContact,
		sysLocation:      cfg.SysLocation,
		communityMaxSize: cfg.CommunityMaxMessageSize,
		communityMaxReps: cfg.CommunityMaxRepetitions,
	}
	for i, c := range cfg.Communities {
		c.Name = c.label(i)
		s.communities[string(c.Community)] = c
	}
	for i, u := range cfg.Users {
		uu, err := newUSMUser(u, engineID)
		if err != nil {
			return nil, fmt.Errorf("snmp.users[%d] %q: %w", i, u.Name, err)
		}
		s.users[u.Name] = uu
	}
	return s, nil
}

// contextKnown reports whether ctx is "" or a host context set with SetContexts.
func (e *Engine) contextKnown(ctx string) bool {
	if ctx == "" {
		return true
	}
	m := e.contexts.Load()
	return m != nil && (*m)[ctx]
}

// v1Status maps an SNMPv2 error status to SNMPv1 (RFC 3584 section 4.4).
func v1Status(s gosnmp.SNMPError) gosnmp.SNMPError {
	switch s {
	case gosnmp.WrongValue, gosnmp.WrongEncoding, gosnmp.WrongType, gosnmp.WrongLength, gosnmp.InconsistentValue:
		return gosnmp.BadValue
	case gosnmp.NoAccess, gosnmp.NotWritable, gosnmp.NoCreation, gosnmp.InconsistentName, gosnmp.AuthorizationError:
		return gosnmp.NoSuchName
	case gosnmp.ResourceUnavailable, gosnmp.CommitFailed, gosnmp.UndoFailed:
		return gosnmp.GenErr
	}
	return s
}
