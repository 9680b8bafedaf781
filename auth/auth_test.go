package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

var (
	keyOnce          sync.Once
	testKey, otherKy *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if testKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if otherKy, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return testKey, otherKy
}

var now = time.Unix(1_700_000_000, 0)

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// rawToken builds header.payload.signature from JSON objects, for algorithms
// jwt refuses to sign with.
func rawToken(header, payload string, sig []byte) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(payload)) + "." + e.EncodeToString(sig)
}

func TestVerify(t *testing.T) {
	priv, other := keys(t)
	v := NewVerifier(&priv.PublicKey)
	exp := now.Add(time.Hour).Unix()
	pkcs1 := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	spki, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	tests := []struct {
		name  string
		token string
		want  *sfu.Grant // nil: must be invalid
	}{
		{"valid", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "kick_users": true, "exp": exp}),
			&sfu.Grant{JoinHub: true, KickUsers: true}},
		{"defaults false", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"exp": exp}), &sfu.Grant{}},
		{"room ids", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": []string{"a", "b"}, "exp": exp}),
			&sfu.Grant{JoinHub: true, RoomIDs: []string{"a", "b"}}},
		{"room ids null", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": nil, "exp": exp}),
			&sfu.Grant{JoinHub: true}},
		{"empty room ids", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": []string{}, "exp": exp}),
			&sfu.Grant{JoinHub: true, RoomIDs: []string{}}},
		{"user id", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "user_id": "u1", "exp": exp}),
			&sfu.Grant{JoinHub: true, UserID: "u1"}},
		{"user id null", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "user_id": nil, "exp": exp}),
			&sfu.Grant{JoinHub: true}},
		{"user id number", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "user_id": 5, "exp": exp}), nil},
		{"user id empty", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "user_id": "", "exp": exp}), nil},
		{"nbf past", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"exp": exp, "nbf": now.Unix() - 10}), &sfu.Grant{}},
		{"extra claims ignored", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"exp": exp, "sub": "x", "aud": 5, "iat": "junk"}), &sfu.Grant{}},

		{"expired", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": now.Unix() - 1}), nil},
		{"expires now", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": now.Unix()}), nil},
		{"no exp", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true}), nil},
		{"exp string", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": "9999999999"}), nil},
		{"exp float", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": float64(exp) + 0.5}), nil},
		{"nbf future", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": exp, "nbf": now.Unix() + 10}), nil},
		{"join_hub string", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": "true", "exp": exp}), nil},
		{"join_hub null", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": nil, "exp": exp}), nil},
		{"kick_users number", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"kick_users": 1, "exp": exp}), nil},
		{"room_ids string", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": "a", "exp": exp}), nil},
		{"room_ids numbers", sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": []int{1}, "exp": exp}), nil},
		{"wrong key", sign(t, jwt.SigningMethodRS512, other, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"RS256", sign(t, jwt.SigningMethodRS256, priv, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"PS512", sign(t, jwt.SigningMethodPS512, priv, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"HS512 with PKCS1 DER as secret", sign(t, jwt.SigningMethodHS512, pkcs1, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"HS512 with SPKI DER as secret", sign(t, jwt.SigningMethodHS512, spki, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"HS512 with PEM as secret", sign(t, jwt.SigningMethodHS512, pemPub, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"HS256 with PEM as secret", sign(t, jwt.SigningMethodHS256, pemPub, jwt.MapClaims{"join_hub": true, "exp": exp}), nil},
		{"alg none", rawToken(`{"alg":"none","typ":"JWT"}`, `{"join_hub":true,"exp":9999999999}`, nil), nil},
		{"alg none unsigned", strings.TrimSuffix(rawToken(`{"alg":"none"}`, `{"join_hub":true,"exp":9999999999}`, nil), "."), nil},
		{"alg missing", rawToken(`{"typ":"JWT"}`, `{"join_hub":true,"exp":9999999999}`, []byte("x")), nil},
		{"payload not object", rawToken(`{"alg":"RS512"}`, `[1,2]`, []byte("x")), nil},
		{"empty", "", nil},
		{"garbage", "garbage", nil},
		{"dots", "...", nil},
		{"two parts", "a.b", nil},
		{"bad base64", "!!.@@.##", nil},
		{"too long", strings.Repeat("a", MaxTokenLen+1), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token, now)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("Verify accepted token, claims %+v", got)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v does not wrap ErrInvalid", err)
				}
				if !reflect.DeepEqual(got, sfu.Grant{}) {
					t.Fatalf("claims %+v returned with error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, *tc.want) {
				t.Fatalf("claims = %+v, want %+v", got, *tc.want)
			}
		})
	}
}

func TestVerifyLongValidTokenRefused(t *testing.T) {
	priv, _ := keys(t)
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = "room-xxxxxxxx"
	}
	tok := sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "room_ids": ids, "exp": now.Unix() + 60})
	if len(tok) <= MaxTokenLen {
		t.Fatalf("token only %d bytes", len(tok))
	}
	if _, err := NewVerifier(&priv.PublicKey).Verify(tok, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestVerifyNilKey(t *testing.T) {
	priv, _ := keys(t)
	tok := sign(t, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": now.Unix() + 60})
	for _, v := range []*Verifier{nil, NewVerifier(nil)} {
		if _, err := v.Verify(tok, now); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	priv, _ := keys(t)
	pkcs1 := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecSPKI, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)

	good := map[string][]byte{
		"DER PKCS1": pkcs1,
		"DER SPKI":  spki,
		"PEM PKCS1": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"PEM SPKI":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
		"PEM CRLF with leading text": []byte("comment\r\n" + strings.ReplaceAll(
			string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})), "\n", "\r\n")),
	}
	for name, data := range good {
		k, err := ParsePublicKey(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !k.Equal(&priv.PublicKey) {
			t.Errorf("%s: wrong key", name)
		}
	}

	bad := map[string]struct {
		data []byte
		msg  string
	}{
		"empty":         {nil, "empty"},
		"whitespace":    {[]byte(" \n"), "empty"},
		"garbage":       {[]byte("hello"), "not an RSA public key"},
		"truncated DER": {pkcs1[:len(pkcs1)/2], "not an RSA public key"},
		"EC SPKI":       {ecSPKI, "not RSA"},
		"EC PEM":        {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecSPKI}), "not RSA"},
		"private PEM": {pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
			Bytes: x509.MarshalPKCS1PrivateKey(priv)}), "private key"},
		"certificate PEM": {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "not an RSA public key"},
		"PEM bad body":    {pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: []byte{1, 2}}), "PEM RSA PUBLIC KEY"},
		"broken PEM":      {[]byte("-----BEGIN PUBLIC KEY-----\nxx"), "malformed PEM"},
	}
	for name, tc := range bad {
		k, err := ParsePublicKey(tc.data)
		if err == nil {
			t.Errorf("%s: accepted, key %v", name, k.N.BitLen())
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q does not contain %q", name, err, tc.msg)
		}
	}
}
