package config

import (
	"strings"
	"testing"
	"time"
)

func TestPlacementKeys(t *testing.T) {
	c, _, err := Parse(testPath, []byte("[general]\nredis_url = redis://10.0.0.5:6379/2\npublic_url = wss://sfu.example.com/janus?host=janus1\nroom_lease_ms = 3000\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisURL != "redis://10.0.0.5:6379/2" || c.PublicURL != "wss://sfu.example.com/janus?host=janus1" || c.RoomLease != 3*time.Second {
		t.Fatalf("got %+v", c)
	}
	c, _, err = Parse(testPath, []byte("[general]\nmax_ccu = 3\n"))
	if err != nil || c.RedisURL != "" || c.RoomLease != 0 {
		t.Fatalf("without the keys: %+v %v", c, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"redis_url = redis://r:6379\n", ":2: redis_url: needs public_url"},
		{"redis_url = http://r:6379\npublic_url = ws://h\n", ":2: redis_url: \"http://r:6379\" is not"},
		{"redis_url = redis://r\npublic_url = sfu.example.com\n", ":3: public_url: \"sfu.example.com\" is not"},
		{"room_lease_ms = 999\n", ":2: room_lease_ms: \"999\" is below 1000"},
		{"room_lease_ms = soon\n", ":2: room_lease_ms: \"soon\" is not a non-negative integer"},
	} {
		_, _, err := Parse(testPath, []byte("[general]\n"+tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
