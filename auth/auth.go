// Package auth verifies the JWTs that clients present when joining a room,
// with the same rules as the Rust janus-plugin-sfu (jsonwebtoken 7, RS512
// only), and parses the RSA public key those tokens are checked against.
package auth

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// MaxTokenLen is the longest token Verify will look at; longer tokens are
// refused without being decoded.
const MaxTokenLen = 16 << 10

// minKeyBits is the smallest RSA modulus Go's crypto/rsa will verify with.
const minKeyBits = 1024

// ErrInvalid is wrapped by every error Verify returns.
var ErrInvalid = errors.New("invalid token")

// Verifier checks tokens against one RSA public key. It is safe for
// concurrent use.
type Verifier struct {
	key *rsa.PublicKey
}

// NewVerifier returns a Verifier for key. A nil key makes every token invalid.
func NewVerifier(key *rsa.PublicKey) *Verifier {
	return &Verifier{key: key}
}

// Verify checks token's signature (RS512 only), its "exp" claim (required,
// no leeway) and its "nbf" claim (if present) against now, and returns what
// its claims grant: "join_hub", "kick_users" (booleans, absent = false),
// "room_ids" (array of strings; absent or null = any room) and "user_id" (a
// string the join's user_id must equal; absent or null = none). Every error
// wraps ErrInvalid.
func (v *Verifier) Verify(token string, now time.Time) (sfu.Grant, error) {
	if v == nil || v.key == nil {
		return sfu.Grant{}, fmt.Errorf("%w: no verification key", ErrInvalid)
	}
	if len(token) > MaxTokenLen {
		return sfu.Grant{}, fmt.Errorf("%w: token longer than %d bytes", ErrInvalid, MaxTokenLen)
	}
	var tc tokenClaims
	_, err := jwt.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		// WithValidMethods already enforces this; check again so that a
		// change of options can never turn the key into an HMAC secret.
		if t.Method != jwt.SigningMethodRS512 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return v.key, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS512.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(0),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return sfu.Grant{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return tc.claims, nil
}

// tokenClaims decodes the payload with the types the Rust plugin's serde
// structs accept: booleans must be JSON booleans (absent = false), room_ids
// an array of strings or null/absent, exp and nbf integers. user_id is new
// (naf-janus-adapter's docs put one in tokens): a string or null/absent.
type tokenClaims struct {
	exp, nbf *jwt.NumericDate
	claims   sfu.Grant
}

func (c *tokenClaims) UnmarshalJSON(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("claims are not a JSON object")
	}
	var err error
	if c.claims.JoinHub, err = boolClaim(m, "join_hub"); err != nil {
		return err
	}
	if c.claims.KickUsers, err = boolClaim(m, "kick_users"); err != nil {
		return err
	}
	if raw, ok := m["room_ids"]; ok && !isNull(raw) {
		var ids []string
		if err := json.Unmarshal(raw, &ids); err != nil {
			return fmt.Errorf("room_ids: not an array of strings")
		}
		if ids == nil {
			ids = []string{}
		}
		c.claims.RoomIDs = ids
	}
	if raw, ok := m["user_id"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &c.claims.UserID); err != nil {
			return fmt.Errorf("user_id: not a string")
		}
		if c.claims.UserID == "" {
			return fmt.Errorf("user_id: empty")
		}
	}
	if c.exp, err = timeClaim(m, "exp"); err != nil {
		return err
	}
	if c.nbf, err = timeClaim(m, "nbf"); err != nil {
		return err
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func boolClaim(m map[string]json.RawMessage, name string) (bool, error) {
	raw, ok := m[name]
	if !ok {
		return false, nil
	}
	var b bool
	if isNull(raw) || json.Unmarshal(raw, &b) != nil {
		return false, fmt.Errorf("%s: not a boolean", name)
	}
	return b, nil
}

// timeClaim decodes an integer NumericDate, as jsonwebtoken 7 does (it
// reads exp as i64; fractional values are refused).
func timeClaim(m map[string]json.RawMessage, name string) (*jwt.NumericDate, error) {
	raw, ok := m[name]
	if !ok {
		return nil, nil
	}
	// json.Number alone would also accept a quoted number.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("%s: not a number", name)
	}
	secs, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: not an integer number of seconds", name)
	}
	return jwt.NewNumericDate(time.Unix(secs, 0)), nil
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.nbf, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return "", nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// ParsePublicKey parses an RSA public key in any of the encodings people
// produce with openssl: DER PKCS#1 RSAPublicKey (what the Rust plugin reads,
// `openssl rsa -RSAPublicKey_out -outform DER`), DER SubjectPublicKeyInfo
// (`openssl rsa -pubout -outform DER`), or PEM of either ("RSA PUBLIC KEY" /
// "PUBLIC KEY").
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("key file is empty")
	}
	if block, _ := pem.Decode(data); block != nil {
		switch block.Type {
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM RSA PUBLIC KEY: %w", err)
			}
			return checkKey(k)
		case "PUBLIC KEY":
			return parsePKIX(block.Bytes, "PEM PUBLIC KEY")
		case "RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %q is a private key; give the public key (openssl rsa -in private.pem -RSAPublicKey_out -outform DER -out public.der)", block.Type)
		default:
			return nil, fmt.Errorf("PEM block %q is not an RSA public key (want \"RSA PUBLIC KEY\" or \"PUBLIC KEY\")", block.Type)
		}
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return nil, errors.New("malformed PEM")
	}
	if k, err := x509.ParsePKCS1PublicKey(data); err == nil {
		return checkKey(k)
	}
	if _, err := x509.ParsePKIXPublicKey(data); err == nil {
		return parsePKIX(data, "DER")
	}
	return nil, errors.New("not an RSA public key in DER PKCS#1, DER SPKI or PEM form")
}

func parsePKIX(der []byte, form string) (*rsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s PUBLIC KEY: %w", form, err)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s public key is %T, not RSA (tokens are RS512)", form, pub)
	}
	return checkKey(k)
}

func checkKey(k *rsa.PublicKey) (*rsa.PublicKey, error) {
	bits := 0
	if k.N != nil {
		bits = k.N.BitLen()
	}
	if bits < minKeyBits {
		return nil, fmt.Errorf("RSA key too small (%d bits, need at least %d)", bits, minKeyBits)
	}
	return k, nil
}
