package snmp

import (
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"
)

// informPeers remembers what the discovery of each inform receiver taught (RFC 3414
// section 4): its engine ID, boots and time, and the user's keys localized to it. An
// inform to a known receiver then goes out at once, without a discovery round trip and
// without localizing the keys again (a million bytes hashed per key). A receiver that
// rebooted or changed its engine ID answers with a notInTimeWindow or unknownEngineID
// report, on which gosnmp updates the parameters and sends again; a receiver that
// stays silent instead makes the inform fail, and the entry is dropped so that the
// next attempt discovers afresh.
type informPeers struct {
	mu sync.Mutex
	m  map[informPeerKey]informPeer
}

// informPeerKey is one target as one user: a configuration reload makes new users, so
// entries of an old configuration are never used again (Reload empties the cache).
type informPeerKey struct {
	addr string
	u    *usmUser
}

type informPeer struct {
	engineID         string
	boots, time      uint32
	at               time.Time // when time was learned
	authKey, privKey []byte
}

// maxInformPeers bounds the cache; beyond it (reloads with many targets), it restarts.
const maxInformPeers = 256

// apply sets sp (and x's context engine ID) from the entry for k, if any; it reports
// whether it did.
func (c *informPeers) apply(k informPeerKey, x *gosnmp.GoSNMP, sp *gosnmp.UsmSecurityParameters) bool {
	c.mu.Lock()
	p, ok := c.m[k]
	c.mu.Unlock()
	if !ok {
		return false
	}
	elapsed := time.Since(p.at) / time.Second
	sp.AuthoritativeEngineID = p.engineID
	sp.AuthoritativeEngineBoots = p.boots
	sp.AuthoritativeEngineTime = p.time + uint32(min(elapsed, 1<<31-1))
	sp.SecretKey, sp.PrivacyKey = p.authKey, p.privKey
	x.ContextEngineID = p.engineID
	return true
}

// learn stores what x's last exchange with the receiver taught, with the user's keys
// localized to its engine ID.
func (c *informPeers) learn(k informPeerKey, x *gosnmp.GoSNMP) {
	sp, ok := x.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if !ok || sp.AuthoritativeEngineID == "" {
		return
	}
	keys := &gosnmp.UsmSecurityParameters{UserName: k.u.name, AuthoritativeEngineID: sp.AuthoritativeEngineID,
		AuthenticationProtocol: k.u.auth, AuthenticationPassphrase: k.u.authPass,
		PrivacyProtocol: k.u.priv, PrivacyPassphrase: k.u.privPass}
	if sp.SecretKey != nil && (k.u.priv == gosnmp.NoPriv || sp.PrivacyKey != nil) {
		keys.SecretKey, keys.PrivacyKey = sp.SecretKey, sp.PrivacyKey
	} else if err := keys.InitSecurityKeys(); err != nil {
		return
	}
	p := informPeer{engineID: sp.AuthoritativeEngineID, boots: sp.AuthoritativeEngineBoots,
		time: sp.AuthoritativeEngineTime, at: time.Now(), authKey: keys.SecretKey, privKey: keys.PrivacyKey}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxInformPeers {
		c.m = map[informPeerKey]informPeer{}
	}
	c.m[k] = p
	c.mu.Unlock()
}

// reset forgets every receiver.
func (c *informPeers) reset() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// forget drops k's entry.
func (c *informPeers) forget(k informPeerKey) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
