package e2e

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gosnmp/gosnmp"
)

// authProtocols and privProtocols map net-snmp option names to gosnmp's.
var (
	authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
		"": gosnmp.NoAuth, "MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA-224": gosnmp.SHA224,
		"SHA-256": gosnmp.SHA256, "SHA-384": gosnmp.SHA384, "SHA-512": gosnmp.SHA512,
	}
	privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
		"": gosnmp.NoPriv, "DES": gosnmp.DES, "AES": gosnmp.AES,
		"AES-192": gosnmp.AES192, "AES-256": gosnmp.AES256,
		"AES-192-C": gosnmp.AES192C, "AES-256-C": gosnmp.AES256C,
	}
)

// GoSNMP returns a gosnmp client for the gateway with cred (not yet connected).
func (g *Gateway) GoSNMP(cred Cred) (*gosnmp.GoSNMP, error) {
	return newGoSNMP("127.0.0.1", uint16(g.Port), cred)
}

func newGoSNMP(host string, port uint16, cred Cred) (*gosnmp.GoSNMP, error) {
	c := &gosnmp.GoSNMP{
		Target: host, Port: port, Timeout: 5 * time.Second, Retries: 0,
		MaxOids: gosnmp.MaxOids, ExponentialTimeout: false,
	}
	switch cred.Version {
	case "1":
		c.Version, c.Community = gosnmp.Version1, cred.Community
		return c, nil
	case "2c":
		c.Version, c.Community = gosnmp.Version2c, cred.Community
		return c, nil
	}
	ap, ok1 := authProtocols[cred.AuthProto]
	pp, ok2 := privProtocols[cred.PrivProto]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("unknown protocol in %s", cred)
	}
	c.Version, c.SecurityModel, c.ContextName = gosnmp.Version3, gosnmp.UserSecurityModel, cred.Context
	switch cred.Level() {
	case "noAuthNoPriv":
		c.MsgFlags = gosnmp.NoAuthNoPriv
	case "authNoPriv":
		c.MsgFlags = gosnmp.AuthNoPriv
	default:
		c.MsgFlags = gosnmp.AuthPriv
	}
	c.SecurityParameters = &gosnmp.UsmSecurityParameters{
		UserName: cred.User, AuthenticationProtocol: ap, AuthenticationPassphrase: cred.AuthPass,
		PrivacyProtocol: pp, PrivacyPassphrase: cred.PrivPass,
	}
	return c, nil
}

// EngineParams is what USM discovery learns about the agent.
type EngineParams struct {
	EngineID string // raw bytes
	Boots    uint32
	Time     uint32
}

// Discover performs a full authenticated GET of sysUpTime with cred (which must be a v3
// user with auth) and returns the agent's engine ID, boots and time as gosnmp learnt them.
func (g *Gateway) Discover(cred Cred) (EngineParams, error) {
	c, err := g.GoSNMP(cred)
	if err != nil {
		return EngineParams{}, err
	}
	if err := c.Connect(); err != nil {
		return EngineParams{}, err
	}
	defer c.Conn.Close()
	if _, err := c.Get([]string{sysUpTime}); err != nil {
		return EngineParams{}, fmt.Errorf("discovery GET: %w", err)
	}
	sp, ok := c.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if !ok {
		return EngineParams{}, errors.New("no USM parameters after discovery")
	}
	return EngineParams{sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime}, nil
}

// SendForged sends one v3 GET for oids with cred, claiming the given engine parameters
// (no discovery: a stale or future time, old boots...), and returns the decoded answer.
func (g *Gateway) SendForged(cred Cred, ep EngineParams, oids ...string) (*gosnmp.SnmpPacket, error) {
	pdus := make([]gosnmp.SnmpPDU, len(oids))
	for i, o := range oids {
		pdus[i] = gosnmp.SnmpPDU{Name: o, Type: gosnmp.Null}
	}
	c, pkt, err := g.EncodeV3(cred, ep, gosnmp.GetRequest, pdus)
	if err != nil {
		return nil, err
	}
	reply, err := g.Exchange(pkt, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return c.SnmpDecodePacket(reply)
}

// EncodeV3 builds one v3 message of type typ with cred, claiming the given engine
// parameters, and returns it with the client that can decode its answer: a message to
// send as captured bytes, again and again.
func (g *Gateway) EncodeV3(cred Cred, ep EngineParams, typ gosnmp.PDUType, pdus []gosnmp.SnmpPDU) (*gosnmp.GoSNMP, []byte, error) {
	c, err := g.GoSNMP(cred)
	if err != nil {
		return nil, nil, err
	}
	sp := c.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	sp.AuthoritativeEngineID = ep.EngineID
	sp.AuthoritativeEngineBoots = ep.Boots
	sp.AuthoritativeEngineTime = ep.Time
	if err := sp.InitSecurityKeys(); err != nil {
		return nil, nil, fmt.Errorf("localize keys: %w", err)
	}
	pkt, err := c.SnmpEncodePacket(typ, pdus, 0, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("encode: %w", err)
	}
	return c, pkt, nil
}

// Exchange sends one datagram to the agent and returns the first reply.
func (g *Gateway) Exchange(pkt []byte, timeout time.Duration) ([]byte, error) {
	conn, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(g.Port)))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if _, err := conn.Write(pkt); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
