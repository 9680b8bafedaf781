package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

const testPath = "/etc/janus/janus.plugin.sfu.cfg"

func TestParse(t *testing.T) {
	def := Default()
	with := func(f func(*Config)) Config {
		c := Default()
		f(&c)
		return c
	}
	tests := []struct {
		name     string
		in       string
		want     Config
		warnings []string // substrings, in order
	}{
		{"empty", "", def, []string{"no [general] section"}},
		{"empty section", "[general]\n", def, nil},
		{"bare values", `[general]
auth_key = /etc/janus/public.der
max_room_size = 30
max_ccu = 1000
message_threads = 4
video_codecs = h264, VP8,vp9 , av1
h264_profile = 42E01F
keyframe_throttle_ms = 0
`, with(func(c *Config) {
			c.AuthKeyPath, c.MaxRoomSize, c.MaxCCU, c.MessageThreads = "/etc/janus/public.der", 30, 1000, 4
			c.VideoCodecs, c.KeyframeInterval = []string{"h264", "vp8", "vp9", "av1"}, 0
		}), nil},
		{"caps", `[general]
max_publishers_per_user = 1
max_rooms_per_user = 0
subscriber_slack = 5
max_inflight_messages = 8
max_blocks_per_user = 10
block_expiry_s = 60
reconnect_secret = off
`, with(func(c *Config) {
			c.MaxPublishersPerUser, c.MaxRoomsPerUser, c.SubscriberSlack, c.MaxInFlight, c.MaxBlocksPerUser = 1, 0, 5, 8, 10
			c.BlockExpiry, c.ReconnectSecret = time.Minute, false
		}), nil},
		{"double quoted like start.sh", "[general]\nauth_key = \"/etc/janus/public.der\"\nmax_room_size = \"30\"\n",
			with(func(c *Config) { c.AuthKeyPath = "/etc/janus/public.der"; c.MaxRoomSize = 30 }), nil},
		{"single quoted", "[general]\nauth_key = '/a b/k.der' ; trailing comment\n",
			with(func(c *Config) { c.AuthKeyPath = "/a b/k.der" }), nil},
		{"quote escapes", `[general]` + "\n" + `auth_key = "/a\"b\\c"` + "\n",
			with(func(c *Config) { c.AuthKeyPath = `/a"b\c` }), nil},
		{"blank auth_key is off", "[general]\nauth_key =\n", def, nil},
		{"empty quoted auth_key is off", "[general]\nauth_key = \"\"\n", def, nil},
		{"comments CRLF BOM spacing", "\ufeff; comment\r\n# another\r\n  [ general ]  ; c\r\n\tmax_ccu=7\r\n  ; indented comment\r\nmax_room_size : 3\r\n",
			with(func(c *Config) { c.MaxCCU = 7; c.MaxRoomSize = 3 }), nil},
		{"throttle", "[general]\nkeyframe_throttle_ms = 1500\n",
			with(func(c *Config) { c.KeyframeInterval = 1500 * time.Millisecond }), nil},
		{"duplicate codecs collapse", "[general]\nvideo_codecs = vp8,vp8,h264\n",
			with(func(c *Config) { c.VideoCodecs = []string{"vp8", "h264"} }), nil},
		{"unknown key", "[general]\nfoo = 1\nmax_ccu = 2\n", with(func(c *Config) { c.MaxCCU = 2 }),
			[]string{testPath + ":2: foo: unknown key"}},
		{"wrong case key is unknown", "[general]\nMAX_CCU = 2\n", def,
			[]string{testPath + ":2: MAX_CCU: unknown key"}},
		{"other section ignored", "[general]\nmax_ccu = 2\n[other]\nmax_ccu = 3\nmax_ccu = 4\n[General]\nmax_room_size = 9\n",
			with(func(c *Config) { c.MaxCCU = 2 }),
			[]string{":4: max_ccu: key in section [other]", ":5: max_ccu: key in section [other]", ":7: max_room_size: key in section [General]"}},
		{"key outside section", "max_ccu = 3\n[general]\n", def, []string{":1: max_ccu: key outside [general]"}},
		{"missing section", "max_ccu = 3\n", def, []string{":1: max_ccu: key outside", "no [general] section"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := Parse(testPath, []byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("config = %+v\nwant     %+v", got, tc.want)
			}
			if len(warnings) != len(tc.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tc.warnings), tc.warnings)
			}
			for i, w := range tc.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bad int", "[general]\n\nmax_room_size = abc\n", testPath + `:3: max_room_size: "abc" is not a non-negative integer`},
		{"negative", "[general]\nmax_ccu = -1\n", `:2: max_ccu: "-1" is not a non-negative integer`},
		{"plus sign", "[general]\nmax_ccu = +1\n", `:2: max_ccu: "+1" is not a non-negative integer`},
		{"float", "[general]\nmessage_threads = 1.5\n", `:2: message_threads: "1.5" is not a non-negative integer`},
		{"empty int", "[general]\nkeyframe_throttle_ms =\n", `:2: keyframe_throttle_ms: "" is not a non-negative integer`},
		{"inline comment on int", "[general]\nmax_ccu = 5 ; five\n", `:2: max_ccu: "5 ; five" is not a non-negative integer`},
		{"too large", "[general]\nmax_ccu = 99999999999999999999999\n", `:2: max_ccu: "99999999999999999999999" is too large`},
		{"bad codec", "[general]\nvideo_codecs = h264,h265\n", `:2: video_codecs: "h264,h265": unknown codec "h265"`},
		{"empty codec", "[general]\nvideo_codecs = h264,\n", `:2: video_codecs: "h264,": empty codec name`},
		{"no codecs", "[general]\nvideo_codecs =\n", `:2: video_codecs: "": empty codec name`},
		{"zero inflight", "[general]\nmax_inflight_messages = 0\n", `:2: max_inflight_messages: must be at least 1`},
		{"bad bool", "[general]\nreconnect_secret = maybe\n", `:2: reconnect_secret: "maybe" is not a boolean`},
		{"bad profile", "[general]\nh264_profile = 42e01\n", `:2: h264_profile: "42e01" is not 6 hex digits`},
		{"non-hex profile", "[general]\nh264_profile = 42e0zz\n", `:2: h264_profile: "42e0zz" is not 6 hex digits`},
		{"unterminated quote", "[general]\nauth_key = \"/etc/x\n", `:2: auth_key: missing closing quote`},
		{"text after quote", "[general]\nauth_key = \"/etc/x\" y\n", `:2: auth_key: unexpected text "y" after closing quote`},
		{"no equals", "[general]\njust some words\n", `:2: expected "key = value"`},
		{"empty key", "[general]\n= 3\n", `:2: missing key`},
		{"bad section", "[general\n", `:1: malformed section header "[general"`},
		{"text after section", "[general] x\n", `:1: malformed section header`},
		{"duplicate key", "[general]\nmax_ccu = 1\nmax_ccu = 2\n", `:3: max_ccu: duplicate key (first set on line 2)`},
		{"duplicate section", "[general]\n[general]\n", `:2: duplicate [general] section`},
		{"invalid utf8", "[general]\nauth_key = \xff\n", `:2: invalid UTF-8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Parse(testPath, []byte(tc.in))
			if err == nil {
				t.Fatalf("Parse accepted, config %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), testPath+":") {
				t.Fatalf("error = %q, want it to start with %q and contain %q", err, testPath+":", tc.want)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	c, warnings, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.MessageThreads = runtime.NumCPU()
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config = %+v, want %+v", c, want)
	}
	path := filepath.Join(dir, FileName)
	if len(warnings) != 1 || warnings[0] != "no "+path+", using defaults" {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestLoadResolvesThreads(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, FileName), []byte("[general]\nmessage_threads = 0\nmax_ccu = 5\n"))
	c, warnings, err := Load(dir)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Load: %v %q", err, warnings)
	}
	if c.MessageThreads != runtime.NumCPU() || c.MaxCCU != 5 || c.AuthKey != nil {
		t.Errorf("config = %+v", c)
	}
	writeFile(t, filepath.Join(dir, FileName), []byte("[general]\nmessage_threads = 3\n"))
	if c, _, _ = Load(dir); c.MessageThreads != 3 {
		t.Errorf("MessageThreads = %d, want 3", c.MessageThreads)
	}
}

func TestLoadUnreadableConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadAuthKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(&key.PublicKey)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	encodings := map[string][]byte{
		"public.der":      pkcs1,
		"public-spki.der": spki,
		"public-rsa.pem":  pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1}),
		"public.pem":      pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}),
	}
	cfg := filepath.Join(dir, FileName)
	for name, data := range encodings {
		for _, quoted := range []bool{false, true} {
			keyPath := filepath.Join(dir, name)
			writeFile(t, keyPath, data)
			v := keyPath
			if quoted {
				v = `"` + keyPath + `"`
			}
			writeFile(t, cfg, []byte("[general]\nauth_key = "+v+"\n"))
			c, warnings, err := Load(dir)
			if err != nil || len(warnings) != 0 {
				t.Fatalf("%s: Load: %v %q", name, err, warnings)
			}
			if c.AuthKeyPath != keyPath || c.AuthKey == nil || !c.AuthKey.Equal(&key.PublicKey) {
				t.Fatalf("%s: AuthKeyPath %q, key %v", name, c.AuthKeyPath, c.AuthKey)
			}
		}
	}

	bad := []struct {
		name string
		data []byte // nil: file does not exist
		want string
	}{
		{"missing.der", nil, "cannot read key file"},
		{"garbage.der", []byte("not a key"), "not an RSA public key"},
		{"private.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), "private key"},
		{"empty.der", []byte{}, "empty"},
	}
	for _, tc := range bad {
		keyPath := filepath.Join(dir, tc.name)
		if tc.data != nil {
			writeFile(t, keyPath, tc.data)
		}
		writeFile(t, cfg, []byte("; auth\n[general]\nauth_key = "+keyPath+"\n"))
		_, _, err := Load(dir)
		if err == nil {
			t.Fatalf("%s: Load accepted", tc.name)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, cfg+":3: auth_key: ") || !strings.Contains(msg, keyPath) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want %q prefix, key path and %q", tc.name, msg, cfg+":3: auth_key: ", tc.want)
		}
	}

	// A directory cannot be read as a key file.
	writeFile(t, cfg, []byte("[general]\nauth_key = "+dir+"\n"))
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "cannot read key file") {
		t.Errorf("directory as key: err = %v", err)
	}
	// Unreadable by permission (skipped as root, who can read anything).
	if os.Geteuid() != 0 {
		keyPath := filepath.Join(dir, "noperm.der")
		writeFile(t, keyPath, pkcs1)
		if err := os.Chmod(keyPath, 0); err != nil {
			t.Fatal(err)
		}
		writeFile(t, cfg, []byte("[general]\nauth_key = "+keyPath+"\n"))
		if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("unreadable key: err = %v", err)
		}
	}
}

func TestExampleFile(t *testing.T) {
	const path = "../janus.plugin.sfu.cfg.example"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, warnings, err := Parse(path, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	want := Default()
	want.MaxRoomSize, want.MaxCCU = 30, 1000
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config = %+v, want %+v", c, want)
	}
	// Every key is documented (commented-out auth_key included).
	for _, k := range knownKeys {
		if !strings.Contains(string(data), "\n; "+k+":") {
			t.Errorf("example file does not document %s", k)
		}
	}
	// Uncommenting auth_key gives a file that still parses.
	on := strings.Replace(string(data), ";auth_key = ", "auth_key = ", 1)
	if c, _, err := Parse(path, []byte(on)); err != nil || c.AuthKeyPath != "/etc/janus/public.der" {
		t.Errorf("with auth_key: %v %+v", err, c)
	}
}

func TestMessageThreadsCapped(t *testing.T) {
	c, warnings, err := Parse("x.cfg", []byte("[general]\nmessage_threads = 100000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MessageThreads != MaxMessageThreads {
		t.Errorf("message_threads = %d, want the cap %d", c.MessageThreads, MaxMessageThreads)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "message_threads") {
		t.Errorf("warnings %q, want one about message_threads", warnings)
	}
}
