package hosts

import (
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"github.com/digitalocean/go-libvirt"
)

// permanentCodes are libvirt's errors (virErrorNumber) that a retry of the same
// ConnectOpen meets again until someone changes the host or the configuration: no
// driver for the URI, a function the driver lacks, refused authentication or access.
var permanentCodes = map[libvirt.ErrorNumber]bool{
	libvirt.ErrNoSupport:            true, // VIR_ERR_NO_SUPPORT: no support for this function
	libvirt.ErrNoConnect:            true, // VIR_ERR_NO_CONNECT: "no connection driver available for ..."
	libvirt.ErrInvalidArg:           true, // VIR_ERR_INVALID_ARG: e.g. a URI the driver does not take
	libvirt.ErrOperationDenied:      true, // VIR_ERR_OPERATION_DENIED
	libvirt.ErrAuthFailed:           true, // VIR_ERR_AUTH_FAILED
	libvirt.ErrAuthCancelled:        true, // VIR_ERR_AUTH_CANCELLED
	libvirt.ErrAuthUnavailable:      true, // VIR_ERR_AUTH_UNAVAILABLE
	libvirt.ErrAccessDenied:         true, // VIR_ERR_ACCESS_DENIED: polkit, access control
	libvirt.ErrConfigUnsupported:    true, // VIR_ERR_CONFIG_UNSUPPORTED
	libvirt.ErrOperationUnsupported: true, // VIR_ERR_OPERATION_UNSUPPORTED
	libvirt.ErrNoSecurityModel:      true, // VIR_ERR_NO_SECURITY_MODEL
}

// permanentError marks a failure of vmgate's own dialers that retrying does not cure
// (a host key or a certificate refused, an sshd that will not forward).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// isPermanent says whether err, a failed connection attempt, will fail the same way
// until something changes on the host or in the configuration.
func isPermanent(err error) bool {
	var pe permanentError
	var le libvirt.Error
	var ve *tls.CertificateVerificationError
	switch {
	case err == nil:
		return false
	case errors.As(err, &pe), errors.As(err, &ve):
		return true
	case errors.As(err, &le):
		return permanentCodes[libvirt.ErrorNumber(le.Code)]
	}
	// x/crypto/ssh has no type for a refused key: its message is all there is.
	return strings.Contains(err.Error(), "ssh: unable to authenticate")
}

// retry decides how long to wait after a failed connection attempt and whether to
// log it: a permanent error waits backoff_max and is logged once, until a success or
// a different error.
type retry struct {
	bo    backoff
	quiet string // the permanent error already logged
}

// failed returns the wait before the next attempt, whether the failure is permanent,
// and whether it is news (to be logged as a warning).
func (r *retry) failed(err error, wasUp bool) (wait time.Duration, perm, news bool) {
	if wasUp {
		r.bo.reset()
		r.quiet = ""
	}
	msg := "disconnected"
	if err != nil {
		msg = err.Error()
	}
	perm = isPermanent(err)
	if !perm {
		r.quiet = ""
		return r.bo.next(), false, true
	}
	r.bo.cur = r.bo.max
	news = msg != r.quiet
	r.quiet = msg
	return r.bo.next(), true, news
}
