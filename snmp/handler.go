package snmp

import (
	"context"
	"fmt"

	"github.com/gosnmp/gosnmp"
)

// Access is what a principal may do.
type Access int

const (
	ReadOnly Access = iota + 1
	ReadWrite
)

// SecurityModel is the model a request arrived under (RFC 3411 SnmpSecurityModel values).
type SecurityModel int

const (
	ModelV1  SecurityModel = 1
	ModelV2c SecurityModel = 2
	ModelUSM SecurityModel = 3
)

// Principal is the authenticated sender of a request.
type Principal struct {
	Model  SecurityModel
	Name   string // USM user name, or the community's label (never its string): for logs
	Access Access
	// AllContexts: the principal may use every context ("*"), as only a v3 user can; a
	// community maps to one context, the merged cluster "" included, and never has it.
	AllContexts bool
}

// Request carries what a Handler may need to know about the request it serves. The
// engine makes one per PDU and serves a PDU's varbinds from one goroutine.
type Request struct {
	Context   string // contextName; "" is the merged cluster
	Principal Principal

	local []localValue // handlers' per-request state (Local)
	msg   *message     // the SNMPv3 message carrying the request; nil for v1/v2c
}

type localValue struct{ key, val any }

// Local returns the state a handler keeps for this request under key (its own key,
// e.g. its pointer), made by mk on the first call: a snapshot every varbind of the PDU
// is answered from, say. Not safe for concurrent use, which a request never needs.
func (r *Request) Local(key any, mk func() any) any {
	for i := range r.local {
		if r.local[i].key == key {
			return r.local[i].val
		}
	}
	v := mk()
	r.local = append(r.local, localValue{key, v})
	return v
}

// VarBind is one variable: a numeric OID, its BER type and a value in the Go type
// gosnmp marshals for that type: Integer int; OctetString []byte or string;
// ObjectIdentifier string (".1.3..."); IPAddress string; Counter32, Gauge32 and
// TimeTicks uint32; Counter64 uint64; NoSuchObject, NoSuchInstance and EndOfMibView nil.
type VarBind struct {
	OID   OID
	Type  gosnmp.Asn1BER
	Value any
}

// Handler serves one registered subtree. Implementations must be safe for concurrent
// use: the engine serves requests from several goroutines at once.
type Handler interface {
	// Get returns the instance at oid exactly. When there is none it returns a VarBind of
	// Type gosnmp.NoSuchObject (no such object type in this subtree) or
	// gosnmp.NoSuchInstance (the object exists, the instance does not).
	Get(ctx context.Context, r *Request, oid OID) VarBind
	// Next returns the first instance in this subtree whose OID is strictly greater than
	// oid (oid may lie before, inside or after the subtree); false when there is none.
	// It must cost O(log n) in the number of rows, not O(n).
	Next(ctx context.Context, r *Request, oid OID) (VarBind, bool)
}

// Setter is implemented by a Handler with writable objects. For one SET PDU the engine
// calls TestSet on every involved handler with the varbinds that fall in its subtree,
// and only when all pass, CommitSet on each, in the same order. SET PDUs are serialized.
type Setter interface {
	// TestSet checks vars without side effects. It returns a *SetError naming the
	// first failing varbind's Index.
	TestSet(ctx context.Context, r *Request, vars []SetVar) error
	// CommitSet applies vars that passed TestSet. A failure returns a *SetError with
	// CommitFailed (nothing applied / rolled back) or UndoFailed (partly applied).
	CommitSet(ctx context.Context, r *Request, vars []SetVar) error
}

// SetVar is one varbind of a SET PDU with its 1-based position in the PDU.
type SetVar struct {
	Index int
	VarBind
}

// SetError is a SET failure with the RFC 3416 error status and 1-based error index.
type SetError struct {
	Status gosnmp.SNMPError // WrongType, WrongLength, WrongValue, NoCreation, NotWritable, ...
	Index  int
	Err    error // for the log: why
}

func (e *SetError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("varbind %d: %v: %v", e.Index, e.Status, e.Err)
	}
	return fmt.Sprintf("varbind %d: %v", e.Index, e.Status)
}

func (e *SetError) Unwrap() error { return e.Err }
