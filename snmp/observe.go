package snmp

import (
	"time"

	"github.com/gosnmp/gosnmp"
)

// Observer is told of every request PDU the engine served, once per request (never per
// varbind), on the serving goroutine: it must be cheap and safe for concurrent use.
type Observer interface {
	// Request: pdu is "get", "getnext", "getbulk" or "set"; result the error-status
	// sent in lowerCamel case as RFC 3416 spells it ("noError", "tooBig"...), or
	// "dropped" when no answer was sent; d the time from the parsed PDU to the
	// encoded answer.
	Request(pdu, result string, d time.Duration)
}

// WithObserver has every request measured by o (vmgate's /metrics).
func WithObserver(o Observer) Option { return func(e *Engine) { e.obs = o } }

// Counters are the engine's counts of messages refused before any handler saw them,
// since it started. They wrap at 2^32 like the MIB counters most of them are.
type Counters struct {
	BadCommunityNames    uint32 // snmpInBadCommunityNames
	UnknownUserNames     uint32 // usmStatsUnknownUserNames
	UnsupportedSecLevels uint32 // usmStatsUnsupportedSecLevels
	WrongDigests         uint32 // usmStatsWrongDigests
	NotInTimeWindows     uint32 // usmStatsNotInTimeWindows
	DecryptionErrors     uint32 // usmStatsDecryptionErrors
	UnknownContexts      uint32 // snmpUnknownContexts
	NotAuthorized        uint32 // v3: security level or context not allowed to the user
	ParseErrors          uint32 // snmpInASNParseErrs
}

// Counters returns the engine's refusal counters now.
func (e *Engine) Counters() Counters {
	c := &e.cnt
	return Counters{
		BadCommunityNames: c.inBadCommunityNames.Load(), UnknownUserNames: c.unknownUserNames.Load(),
		UnsupportedSecLevels: c.unsupportedSecLevels.Load(), WrongDigests: c.wrongDigests.Load(),
		NotInTimeWindows: c.notInTimeWindows.Load(), DecryptionErrors: c.decryptionErrors.Load(),
		UnknownContexts: c.unknownContexts.Load(), NotAuthorized: c.notAuthorized.Load(),
		ParseErrors: c.inASNParseErrs.Load(),
	}
}

// observed runs serve (which answers p through the wrapper it is given) and tells the
// observer the PDU type, the error-status of the answer it wrapped last and the time.
func (e *Engine) observed(p *pdu, wrap wrapper, serve func(wrapper) ([]byte, error)) ([]byte, error) {
	if e.obs == nil {
		return serve(wrap)
	}
	start := time.Now()
	status, wrapped := gosnmp.NoError, false
	out, err := serve(func(po pduOut) ([]byte, error) {
		status, wrapped = po.status, true
		return wrap(po)
	})
	result := "dropped"
	if out != nil && wrapped {
		result = statusName(status)
	}
	e.obs.Request(pduName(p.typ), result, time.Since(start))
	return out, err
}

func pduName(t gosnmp.PDUType) string {
	switch t {
	case gosnmp.GetRequest:
		return "get"
	case gosnmp.GetNextRequest:
		return "getnext"
	case gosnmp.GetBulkRequest:
		return "getbulk"
	case gosnmp.SetRequest:
		return "set"
	}
	return "other"
}

// statusNames are RFC 3416's error-status names, by value.
var statusNames = [...]string{"noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr",
	"noAccess", "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
	"inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
	"authorizationError", "notWritable", "inconsistentName"}

func statusName(s gosnmp.SNMPError) string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "other"
}
