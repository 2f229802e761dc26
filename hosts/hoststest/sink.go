package hoststest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmgate/vmgate/e2e/testkit"
	"github.com/vmgate/vmgate/hosts"
)

// Sink records what Supervisors report. Safe for concurrent use; its methods return
// copies, so a test can read while supervisors write.
type Sink struct {
	mu     sync.Mutex
	health map[string][]hosts.Health
	syncs  map[string][]hosts.Inventory
	doms   map[string]map[hosts.UUID]hosts.Domain // current view: Synced, then events
	stats  map[string]int
}

var _ hosts.Sink = (*Sink)(nil)

// NewSink returns an empty recording Sink.
func NewSink() *Sink {
	return &Sink{
		health: map[string][]hosts.Health{},
		syncs:  map[string][]hosts.Inventory{},
		doms:   map[string]map[hosts.UUID]hosts.Domain{},
		stats:  map[string]int{},
	}
}

// Health implements hosts.Sink.
func (s *Sink) Health(host string, h hosts.Health) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health[host] = append(s.health[host], h)
}

// Synced implements hosts.Sink.
func (s *Sink) Synced(host string, inv hosts.Inventory) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs[host] = append(s.syncs[host], inv)
	m := make(map[hosts.UUID]hosts.Domain, len(inv.Domains))
	for _, d := range inv.Domains {
		m[d.UUID] = d
	}
	s.doms[host] = m
}

// DomainUpdated implements hosts.Sink.
func (s *Sink) DomainUpdated(host string, d hosts.Domain) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.doms[host] == nil {
		s.doms[host] = map[hosts.UUID]hosts.Domain{}
	}
	s.doms[host][d.UUID] = d
}

// DomainPatched implements hosts.Sink.
func (s *Sink) DomainPatched(host string, d hosts.Domain, f hosts.Fields) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.doms[host][d.UUID]
	if !ok || !f.Apply(&old, &d) {
		return false
	}
	s.doms[host][d.UUID] = old
	return true
}

// DomainsPatched implements hosts.Sink.
func (s *Sink) DomainsPatched(host string, ds []hosts.Domain, f hosts.Fields) {
	for _, d := range ds {
		s.DomainPatched(host, d, f)
	}
}

// DomainRemoved implements hosts.Sink.
func (s *Sink) DomainRemoved(host string, id hosts.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.doms[host], id)
}

// StorageSynced implements hosts.Sink.
func (s *Sink) StorageSynced(string, []hosts.Pool, []hosts.Volume) {}

// Stats implements hosts.Sink.
func (s *Sink) Stats(host string, _ *hosts.Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[host]++
}

// LastHealth is the latest Health reported for host; Status 0 if none yet.
func (s *Sink) LastHealth(host string) hosts.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.health[host]
	if len(hs) == 0 {
		return hosts.Health{}
	}
	return hs[len(hs)-1]
}

// HealthHistory is every Health reported for host, oldest first.
func (s *Sink) HealthHistory(host string) []hosts.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.health[host])
}

// Syncs is every Inventory passed to Synced for host, oldest first.
func (s *Sink) Syncs(host string) []hosts.Inventory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.syncs[host])
}

// Domains is the host's current view (last Synced plus events), sorted by name.
func (s *Sink) Domains(host string) []hosts.Domain {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]hosts.Domain, 0, len(s.doms[host]))
	for _, d := range s.doms[host] {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b hosts.Domain) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DomainNames is Domains reduced to the names, sorted.
func (s *Sink) DomainNames(host string) []string {
	var names []string
	for _, d := range s.Domains(host) {
		names = append(names, d.Name)
	}
	return names
}

// StatsCount is how many Stats calls host made.
func (s *Sink) StatsCount(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats[host]
}

// WaitFor is testkit.WaitFor for a condition that says what it saw: the test fails
// with what and the last detail cond gave when timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var detail string
	if !testkit.Poll(timeout, func() bool { ok, d := cond(); detail = d; return ok }) {
		t.Fatalf("waited %s for %s; last: %s", timeout, what, detail)
	}
}
