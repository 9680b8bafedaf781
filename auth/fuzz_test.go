package auth

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
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
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && (k == nil || k.N.BitLen() < minKeyBits) {
			t.Fatalf("bad key accepted")
		}
	})
}
