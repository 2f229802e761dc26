package snmp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // RFC 3414 CBC-DES is still what many managers use
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // RFC 3414 HMAC-MD5-96
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"

	"github.com/gosnmp/gosnmp"
)

// usmUser is a configured user with keys localized to our engine ID.
type usmUser struct {
	name     string
	auth     gosnmp.SnmpV3AuthProtocol
	priv     gosnmp.SnmpV3PrivProtocol
	authKey  []byte
	privKey  []byte
	authPass string
	privPass string
	access   Access
	contexts contextSet

	block cipher.Block // of privKey (AES or DES), nil without privacy; stateless, shared
	macs  sync.Pool    // hash.Hash: HMACs keyed with authKey, reused across messages
}

// level is the security level the user is configured for (msgFlags auth/priv bits).
func (u *usmUser) level() byte {
	switch {
	case u.priv != gosnmp.NoPriv:
		return flagAuth | flagPriv
	case u.auth != gosnmp.NoAuth:
		return flagAuth
	}
	return 0
}

// newUSMUser localizes the user's keys to engineID (RFC 3414 section 2.6).
func newUSMUser(c User, engineID []byte) (*usmUser, error) {
	auth, err := authProtocol(c.AuthProtocol)
	if err != nil {
		return nil, err
	}
	priv, err := privProtocol(c.PrivProtocol)
	if err != nil {
		return nil, err
	}
	u := &usmUser{name: c.Name, auth: auth, priv: priv, access: c.Access,
		contexts: newContextSet(c.Contexts), authPass: string(c.AuthPassphrase), privPass: string(c.PrivPassphrase)}
	if auth == gosnmp.NoAuth {
		return u, nil
	}
	sp := &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    string(engineID),
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: string(c.AuthPassphrase),
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        string(c.PrivPassphrase),
	}
	if err := sp.InitSecurityKeys(); err != nil {
		return nil, fmt.Errorf("user %q: localizing keys: %w", c.Name, err)
	}
	u.authKey, u.privKey = sp.SecretKey, sp.PrivacyKey
	switch priv {
	case gosnmp.NoPriv:
	case gosnmp.DES:
		if len(u.privKey) < 16 {
			return nil, fmt.Errorf("user %q: DES key of %d bytes", c.Name, len(u.privKey))
		}
		if u.block, err = des.NewCipher(u.privKey[:8]); err != nil { //nolint:gosec
			return nil, fmt.Errorf("user %q: %w", c.Name, err)
		}
	default:
		if u.block, err = aes.NewCipher(u.privKey); err != nil {
			return nil, fmt.Errorf("user %q: %w", c.Name, err)
		}
	}
	return u, nil
}

// mac returns a reset HMAC keyed with the user's authKey; give it back with putMAC.
func (u *usmUser) mac() hash.Hash {
	if h, ok := u.macs.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(hashFunc(u.auth), u.authKey)
}

// sign writes the digest of msg (whose msgAuthenticationParameters are zero) to dst.
func (u *usmUser) sign(dst, msg []byte) {
	h := u.mac()
	h.Write(msg)
	var sum [64]byte
	copy(dst, h.Sum(sum[:0]))
	u.macs.Put(h)
}

// authAlgs are the authentication protocols' digests: the hash of the HMAC and the
// length of msgAuthenticationParameters, the HMAC truncated (RFC 3414, RFC 7860).
var authAlgs = map[gosnmp.SnmpV3AuthProtocol]struct {
	hash   func() hash.Hash
	macLen int
}{
	gosnmp.MD5:    {md5.New, 12},
	gosnmp.SHA:    {sha1.New, 12},
	gosnmp.SHA224: {sha256.New224, 16},
	gosnmp.SHA256: {sha256.New, 24},
	gosnmp.SHA384: {sha512.New384, 32},
	gosnmp.SHA512: {sha512.New, 48},
}

// macLen is the length of msgAuthenticationParameters; 0 for no authentication.
func macLen(p gosnmp.SnmpV3AuthProtocol) int { return authAlgs[p].macLen }

func hashFunc(p gosnmp.SnmpV3AuthProtocol) func() hash.Hash { return authAlgs[p].hash }

// verifyDigest checks msgAuthenticationParameters of m against u's key: the HMAC of
// the whole message with that field zeroed (RFC 3414 section 6.3.2, RFC 7860).
func (u *usmUser) verifyDigest(m *message) bool {
	n := macLen(u.auth)
	if n == 0 || len(m.usm.authParams) != n {
		return false
	}
	h := u.mac()
	h.Write(m.raw[:m.usm.authOff]) // the message with the field zeroed, without a copy
	h.Write(zeroMAC[:n])
	h.Write(m.raw[m.usm.authOff+n:])
	var sum [64]byte
	ok := subtle.ConstantTimeCompare(h.Sum(sum[:0])[:n], m.usm.authParams) == 1
	u.macs.Put(h)
	return ok
}

var errDecrypt = errors.New("decryption error")

// decrypt returns the plaintext scopedPDU element of m (RFC 3414 section 8.3.2,
// RFC 3826 section 3.1.4). Garbage out of the cipher (a wrong privacy key) is a
// decryption error too: it cannot be told apart from a wrong key.
func (u *usmUser) decrypt(m *message) ([]byte, error) {
	salt, ct := m.usm.privParams, m.encrypted
	if len(salt) != 8 {
		return nil, fmt.Errorf("%w: privacy parameters of %d bytes", errDecrypt, len(salt))
	}
	var pt []byte
	switch u.priv {
	case gosnmp.DES:
		if len(ct) == 0 || len(ct)%des.BlockSize != 0 || u.block == nil {
			return nil, fmt.Errorf("%w: DES ciphertext of %d bytes", errDecrypt, len(ct))
		}
		var iv [8]byte
		subtle.XORBytes(iv[:], u.privKey[8:16], salt)
		pt = make([]byte, len(ct))
		cipher.NewCBCDecrypter(u.block, iv[:]).CryptBlocks(pt, ct)
	case gosnmp.AES, gosnmp.AES192, gosnmp.AES256, gosnmp.AES192C, gosnmp.AES256C:
		if u.block == nil {
			return nil, fmt.Errorf("%w: no AES key", errDecrypt)
		}
		var iv [16]byte
		binary.BigEndian.PutUint32(iv[:], uint32(m.usm.boots))
		binary.BigEndian.PutUint32(iv[4:], uint32(m.usm.time))
		copy(iv[8:], salt)
		pt = make([]byte, len(ct))
		cipher.NewCFBDecrypter(u.block, iv[:]).XORKeyStream(pt, ct) //nolint:staticcheck // RFC 3826 mandates CFB
	default:
		return nil, fmt.Errorf("%w: user has no privacy protocol", errDecrypt)
	}
	r := &berReader{buf: pt}
	t, err := r.next()
	// CBC pads to its 8-byte block; some managers (pysnmp) pad AES-CFB input too,
	// with 1 to 16 zeros.
	if err != nil || t.tag != 0x30 || len(pt)-t.end > aes.BlockSize {
		return nil, fmt.Errorf("%w: plaintext is not a scopedPDU", errDecrypt)
	}
	return pt[:t.end], nil // drop DES padding
}
