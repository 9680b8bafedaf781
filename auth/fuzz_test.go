package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzVerify(f *testing.F) {
	priv, _ := keys(f)
	exp := now.Add(time.Hour).Unix()
	for _, c := range []jwt.MapClaims{
		{"join_hub": true, "kick_users": true, "room_ids": []string{"a"}, "exp": exp},
		{"join_hub": true, "exp": exp, "nbf": exp},
		{"exp": "x"},
	} {
		f.Add(sign(f, jwt.SigningMethodRS512, priv, c))
	}
	f.Add(sign(f, jwt.SigningMethodHS512, x509.MarshalPKCS1PublicKey(&priv.PublicKey), jwt.MapClaims{"join_hub": true, "exp": exp}))
	f.Add(rawToken(`{"alg":"none"}`, `{"join_hub":true,"exp":9999999999}`, nil))
	f.Add(rawToken(`{"alg":"RS512"}`, `{"join_hub":[],"room_ids":{},"exp":1e400}`, []byte("sig")))
	f.Add("")
	f.Add("a.b.c")
	f.Add(rawToken(`{"alg":"RS512"}`, `{"join_hub":true,"user_id":{"a":1},"exp":99999999999}`, []byte("sig")))
	// Hostile inputs from the security review: a valid signature by the
	// right key under another RSA algorithm, the wrong key, algorithms
	// that need other key types, odd alg values, an expired token, deep
	// JSON, a token just over MaxTokenLen.
	_, other := keys(f)
	good := jwt.MapClaims{"join_hub": true, "kick_users": true, "exp": exp}
	f.Add(sign(f, jwt.SigningMethodRS256, priv, good))
	f.Add(sign(f, jwt.SigningMethodPS512, priv, good))
	f.Add(sign(f, jwt.SigningMethodRS512, other, good))
	f.Add(sign(f, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true, "exp": now.Add(-time.Second).Unix()}))
	f.Add(sign(f, jwt.SigningMethodRS512, priv, jwt.MapClaims{"join_hub": true}))
	for _, h := range []string{`{"alg":"ES256"}`, `{"alg":"EdDSA"}`, `{"alg":"NONE"}`, `{"alg":"rs512"}`, `{"alg":null}`, `{}`,
		`{"alg":"RS512","crit":["exp"]}`, `{"alg":"RS512","kid":"../../etc/passwd","jku":"http://x/"}`, `{"alg":["RS512"]}`} {
		f.Add(rawToken(h, `{"join_hub":true,"exp":9999999999}`, []byte("sig")))
	}
	f.Add(rawToken(`{"alg":"RS512"}`, `{"exp":9999999999,"room_ids":`+strings.Repeat("[", 10000)+`}`, []byte("sig")))
	f.Add(strings.Repeat("a", MaxTokenLen-4) + ".b.c.")
	f.Add("..")
	f.Add("a.b.c.d")
	v := NewVerifier(&priv.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token, now)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		_ = c.MayJoin("room")
	})
}

func FuzzParsePublicKey(f *testing.F) {
	priv, _ := keys(f)
	pkcs1 := x509.MarshalPKCS1PublicKey(&priv.PublicKey)
	spki, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	f.Add(pkcs1)
	f.Add(spki)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n"))
	// Too small a key, a private key, an EC key, PEM with trailing junk.
	small := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(1)), E: 65537}
	f.Add(x509.MarshalPKCS1PublicKey(small))
	f.Add(x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: priv.N, E: 1}))
	f.Add(x509.MarshalPKCS1PrivateKey(priv))
	if ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
		if der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey); err == nil {
			f.Add(der)
		}
	}
	f.Add(append(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}), "junk\x00"...))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: spki}))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && (k == nil || k.N.BitLen() < minKeyBits) {
			t.Fatalf("bad key accepted")
		}
	})
}
