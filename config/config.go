// Package config reads janus.plugin.sfu.cfg, the INI file the Rust
// janus-plugin-sfu reads, with the same syntax and keys plus a few new ones.
//
// File format (compatible with rust-ini as the Rust plugin uses it):
//
//	; comment            # comment too
//	[general]
//	auth_key = /etc/janus/public.der
//	auth_key = "/etc/janus/public.der"   ; quoted, as docker start.sh writes
//	max_room_size = 30
//
// Only the [general] section is read; keys elsewhere, and unknown keys, give
// warnings. A malformed file or bad value is an error naming file:line: key.
package config

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/janus-sfu-go/janus-plugin-sfu/auth"
	"github.com/janus-sfu-go/janus-plugin-sfu/sdp"
)

// FileName is the name of the config file inside Janus's config directory.
const FileName = "janus.plugin.sfu.cfg"

// Config is the plugin configuration.
type Config struct {
	AuthKeyPath      string         // "auth_key": "" = auth off
	AuthKey          *rsa.PublicKey // parsed key when AuthKeyPath != "" (set by Load only)
	MaxRoomSize      int            // "max_room_size": 0 = no limit
	MaxCCU           int            // "max_ccu": 0 = no limit
	MessageThreads   int            // "message_threads": 0 = runtime.NumCPU(); Load stores the resolved value
	VideoCodecs      []string       // "video_codecs": default the first of sdp.VideoCodecNames
	H264Profile      string         // "h264_profile": default sdp.DefaultH264Profile, lower-cased
	KeyframeInterval time.Duration  // "keyframe_throttle_ms": default 500ms; 0 = no throttle

	// Caps per identity and on state (docs/security.md).
	MaxPublishersPerUser int           // "max_publishers_per_user": per room; default 2; 0 = no limit
	MaxRoomsPerUser      int           // "max_rooms_per_user": default 4; 0 = no limit
	SubscriberSlack      int           // "subscriber_slack": default 2
	MaxInFlight          int           // "max_inflight_messages": per handle; default 32
	MaxBlocksPerUser     int           // "max_blocks_per_user": default 64
	BlockExpiry          time.Duration // "block_expiry_s": default 1h
	ReconnectSecret      bool          // "reconnect_secret": hand out reconnect secrets when auth is off; default true

	// Many hosts (docs/deploy.md): room placement in Redis; "" = one host.
	RedisURL  string        // "redis_url": redis://, rediss:// or unix://
	PublicURL string        // "public_url": this host's URL as clients reach it; required with redis_url
	RoomLease time.Duration // "room_lease_ms": 0 = the placement package's default; else at least 1s
	// Talking events (docs/protocol.md 11.4).
	TalkingEvents       bool          // "talking_events": default true
	AudioLevelThreshold int           // "audio_level_threshold": dBov 0..127, default 25
	AudioActive         time.Duration // "audio_active_ms": window, default 1s, 100ms..60s
	// Multistream subscriptions (docs/protocol.md 11.2).
	StreamsOfferTimeout time.Duration // "streams_offer_timeout_ms": default 20s; 0 = never, else 100ms..1h
	// "max_streams_per_subscriber": m-lines per multistream subscriber,
	// default DefaultMaxStreamsPerSubscriber; 0 = no cap, else 2..1024.
	MaxStreamsPerSubscriber int
}

// DefaultMaxStreamsPerSubscriber is 64 publishers' worth of audio and
// video lines: every line is a transceiver the browser negotiates on each
// offer and a decoder it may run, and a headset's browser (Quest) has a
// phone's CPU; a crowd beyond that is better left out of the offer
// (docs/protocol.md 11.2) than dropped as a whole subscription.
const DefaultMaxStreamsPerSubscriber = 128

// MaxMessageThreads caps message_threads: workers beyond the cores only
// add contention on the switchboard, and a typo must not start thousands
// of goroutines and queues.
const MaxMessageThreads = 64

// maxInt bounds every integer setting, so that values stay meaningful as int
// and as milliseconds in a time.Duration on any platform.
const maxInt = 1<<31 - 1

// Default returns the configuration used when the file or a key is absent.
// MessageThreads is 0 (unresolved) here.
func Default() Config {
	return Config{
		VideoCodecs:      sdp.VideoCodecNames()[:1],
		H264Profile:      sdp.DefaultH264Profile,
		KeyframeInterval: 500 * time.Millisecond,

		MaxPublishersPerUser: 2,
		MaxRoomsPerUser:      4,
		SubscriberSlack:      2,
		MaxInFlight:          32,
		MaxBlocksPerUser:     64,
		BlockExpiry:          time.Hour,
		ReconnectSecret:      true,

		TalkingEvents:           true,
		AudioLevelThreshold:     25,
		AudioActive:             time.Second,
		StreamsOfferTimeout:     20 * time.Second,
		MaxStreamsPerSubscriber: DefaultMaxStreamsPerSubscriber,
	}
}

// Load reads dir/FileName, then the auth key file it names. A missing config
// file gives Default() and a warning. The warnings (missing file, unknown or
// ignored keys) are for the caller to log; the error, for anything malformed
// or an unreadable/unparsable key, names the file, line and key.
// MessageThreads is resolved to runtime.NumCPU() when 0.
func Load(dir string) (Config, []string, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c := Default()
		c.MessageThreads = runtime.NumCPU()
		return c, []string{fmt.Sprintf("no %s, using defaults", path)}, nil
	}
	if err != nil {
		return Config{}, nil, fmt.Errorf("reading config: %w", err)
	}
	c, lines, warnings, err := parse(path, data)
	if err != nil {
		return Config{}, warnings, err
	}
	if c.AuthKeyPath != "" {
		where := fmt.Sprintf("%s:%d: auth_key", path, lines["auth_key"])
		keyData, err := os.ReadFile(c.AuthKeyPath)
		if err != nil {
			return Config{}, warnings, fmt.Errorf("%s: cannot read key file: %w", where, err)
		}
		c.AuthKey, err = auth.ParsePublicKey(keyData)
		if err != nil {
			return Config{}, warnings, fmt.Errorf("%s: key file %s: %w", where, c.AuthKeyPath, err)
		}
	}
	if c.MessageThreads == 0 {
		c.MessageThreads = min(runtime.NumCPU(), MaxMessageThreads)
	}
	return c, warnings, nil
}

// Parse parses and validates the config file contents; path is used only in
// messages. Unlike Load it neither reads the auth key (AuthKey stays nil)
// nor resolves MessageThreads.
func Parse(path string, data []byte) (Config, []string, error) {
	c, _, warnings, err := parse(path, data)
	if err != nil {
		return Config{}, warnings, err
	}
	return c, warnings, nil
}

// general receives the [general] section. Every value is decoded as a
// string and validated here, so errors can quote what the user wrote.
type general struct {
	AuthKey          string `toml:"auth_key"`
	MaxRoomSize      string `toml:"max_room_size"`
	MaxCCU           string `toml:"max_ccu"`
	MessageThreads   string `toml:"message_threads"`
	VideoCodecs      string `toml:"video_codecs"`
	H264Profile      string `toml:"h264_profile"`
	KeyframeThrottle string `toml:"keyframe_throttle_ms"`

	MaxPublishersPerUser string `toml:"max_publishers_per_user"`
	MaxRoomsPerUser      string `toml:"max_rooms_per_user"`
	SubscriberSlack      string `toml:"subscriber_slack"`
	MaxInFlight          string `toml:"max_inflight_messages"`
	MaxBlocksPerUser     string `toml:"max_blocks_per_user"`
	BlockExpiry          string `toml:"block_expiry_s"`
	ReconnectSecret      string `toml:"reconnect_secret"`

	RedisURL            string `toml:"redis_url"`
	PublicURL           string `toml:"public_url"`
	RoomLease           string `toml:"room_lease_ms"`
	TalkingEvents       string `toml:"talking_events"`
	AudioLevelThreshold string `toml:"audio_level_threshold"`
	AudioActive         string `toml:"audio_active_ms"`
	StreamsOfferTimeout string `toml:"streams_offer_timeout_ms"`
	MaxStreamsPerSub    string `toml:"max_streams_per_subscriber"`
}

var knownKeys = []string{"auth_key", "max_room_size", "max_ccu", "message_threads",
	"video_codecs", "h264_profile", "keyframe_throttle_ms",
	"max_publishers_per_user", "max_rooms_per_user", "subscriber_slack", "max_inflight_messages",
	"max_blocks_per_user", "block_expiry_s", "reconnect_secret",
	"redis_url", "public_url", "room_lease_ms",
	"talking_events", "audio_level_threshold", "audio_active_ms", "streams_offer_timeout_ms",
	"max_streams_per_subscriber"}

// ignored describes a key that is not a [general] setting.
type ignored struct {
	line          int
	key, section  string
	outsideAnyTbl bool
}

// parse returns the config and the line of each known key present.
//
// Why BurntSushi/toml for an INI file: INI's lexical rules (bare string
// values, ';' comments, optional quotes, ':' separators) are not TOML's, so
// each INI line is lexed here and rewritten as exactly one TOML line
// (comments become blank lines, every value an escaped TOML string). toml
// then does the decoding into the typed general struct and, through
// MetaData.Undecoded, reports which keys no setting consumed; because line
// N of the generated document is line N of the file, any toml error carries
// the user's line number. Keys that cannot be [general] settings are renamed
// "?<line>" so toml's case-insensitive field matching cannot bind AUTH_KEY
// or [General] (rust-ini is case-sensitive) and repeats of ignored keys are
// not TOML duplicate-key errors. Duplicate settings are refused here, before
// toml, to give a message in INI terms.
func parse(path string, data []byte) (Config, map[string]int, []string, error) {
	c := Default()
	var warnings []string
	errAt := func(line int, format string, args ...any) error {
		return fmt.Errorf("%s:%d: "+format, append([]any{path, line}, args...)...)
	}

	data = trimBOM(data)
	var (
		doc         strings.Builder
		section     string
		inSection   bool
		sawGeneral  bool
		ignoredKeys = map[string]ignored{}
		lines       = map[string]int{}
	)
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		line := strings.TrimSuffix(raw, "\r")
		if !utf8.ValidString(line) {
			return c, nil, warnings, errAt(n, "invalid UTF-8")
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t[0] == ';' || t[0] == '#':
			// blank line keeps TOML line numbers aligned
		case t[0] == '[':
			end := strings.IndexByte(t, ']')
			if end < 0 || !isComment(t[end+1:]) {
				return c, nil, warnings, errAt(n, "malformed section header %q (want [name])", t)
			}
			section, inSection = strings.TrimSpace(t[1:end]), true
			if section == "general" {
				if sawGeneral {
					return c, nil, warnings, errAt(n, "duplicate [general] section")
				}
				sawGeneral = true
				doc.WriteString("[general]")
			} else {
				doc.WriteString("[" + tomlString(fmt.Sprintf("?%d", n)) + "]")
			}
		default:
			sep := strings.IndexAny(t, "=:")
			if sep < 0 {
				return c, nil, warnings, errAt(n, "expected \"key = value\", got %q", t)
			}
			key := strings.TrimSpace(t[:sep])
			if key == "" {
				return c, nil, warnings, errAt(n, "missing key before %q", t[sep:sep+1])
			}
			value, err := unquote(strings.TrimSpace(t[sep+1:]))
			if err != nil {
				return c, nil, warnings, errAt(n, "%s: %v", key, err)
			}
			name := key
			if !inSection || section != "general" || !slices.Contains(knownKeys, key) {
				name = fmt.Sprintf("?%d", n)
				ignoredKeys[name] = ignored{line: n, key: key, section: section, outsideAnyTbl: !inSection}
			} else if prev, dup := lines[key]; dup {
				return c, nil, warnings, errAt(n, "%s: duplicate key (first set on line %d)", key, prev)
			} else {
				lines[key] = n
			}
			doc.WriteString(tomlString(name) + " = " + tomlString(value))
		}
		doc.WriteByte('\n')
	}

	var file struct {
		General general `toml:"general"`
	}
	md, err := toml.Decode(doc.String(), &file)
	if err != nil {
		// Not expected: the document is generated. Still report a line.
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return c, nil, warnings, errAt(pe.Position.Line, "%s", pe.Message)
		}
		return c, nil, warnings, fmt.Errorf("%s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		name := k[len(k)-1]
		ig, ok := ignoredKeys[name]
		if !ok { // a "?<line>" section header itself
			continue
		}
		switch {
		case ig.outsideAnyTbl:
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s: key outside [general] section, ignored", path, ig.line, ig.key))
		case ig.section != "general":
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s: key in section [%s] ignored (only [general] is read)", path, ig.line, ig.key, ig.section))
		default:
			warnings = append(warnings, fmt.Sprintf("%s:%d: %s: unknown key, ignored", path, ig.line, ig.key))
		}
	}
	if !sawGeneral {
		warnings = append(warnings, fmt.Sprintf("%s: no [general] section, using defaults", path))
	}

	g := file.General
	intKey := func(key, v string, dst *int) error {
		if _, ok := lines[key]; !ok {
			return nil
		}
		x, err := parseUint(v)
		if err != nil {
			return errAt(lines[key], "%s: %q %v", key, v, err)
		}
		*dst = x
		return nil
	}
	c.AuthKeyPath = g.AuthKey
	var ms, expiry, leaseMS, activeMS, offerMS int
	for _, f := range []struct {
		key, v string
		dst    *int
	}{
		{"max_room_size", g.MaxRoomSize, &c.MaxRoomSize},
		{"max_ccu", g.MaxCCU, &c.MaxCCU},
		{"message_threads", g.MessageThreads, &c.MessageThreads},
		{"keyframe_throttle_ms", g.KeyframeThrottle, &ms},
		{"max_publishers_per_user", g.MaxPublishersPerUser, &c.MaxPublishersPerUser},
		{"max_rooms_per_user", g.MaxRoomsPerUser, &c.MaxRoomsPerUser},
		{"subscriber_slack", g.SubscriberSlack, &c.SubscriberSlack},
		{"max_inflight_messages", g.MaxInFlight, &c.MaxInFlight},
		{"max_blocks_per_user", g.MaxBlocksPerUser, &c.MaxBlocksPerUser},
		{"block_expiry_s", g.BlockExpiry, &expiry},
		{"room_lease_ms", g.RoomLease, &leaseMS},
		{"audio_level_threshold", g.AudioLevelThreshold, &c.AudioLevelThreshold},
		{"audio_active_ms", g.AudioActive, &activeMS},
		{"streams_offer_timeout_ms", g.StreamsOfferTimeout, &offerMS},
		{"max_streams_per_subscriber", g.MaxStreamsPerSub, &c.MaxStreamsPerSubscriber},
	} {
		if err := intKey(f.key, f.v, f.dst); err != nil {
			return c, nil, warnings, err
		}
	}
	if _, ok := lines["block_expiry_s"]; ok {
		c.BlockExpiry = time.Duration(expiry) * time.Second
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"max_inflight_messages", c.MaxInFlight}, {"max_blocks_per_user", c.MaxBlocksPerUser}, {"block_expiry_s", expiry}} {
		if n, ok := lines[f.key]; ok && f.v == 0 {
			return c, nil, warnings, errAt(n, "%s: must be at least 1", f.key)
		}
	}
	for _, f := range []struct {
		key, v string
		dst    *bool
	}{{"reconnect_secret", g.ReconnectSecret, &c.ReconnectSecret}, {"talking_events", g.TalkingEvents, &c.TalkingEvents}} {
		if n, ok := lines[f.key]; ok {
			b, err := parseBool(f.v)
			if err != nil {
				return c, nil, warnings, errAt(n, "%s: %q %v", f.key, f.v, err)
			}
			*f.dst = b
		}
	}
	if n, ok := lines["audio_level_threshold"]; ok && c.AudioLevelThreshold > 127 {
		return c, nil, warnings, errAt(n, "audio_level_threshold: %d is not a level in dBov (0 loudest .. 127 silence)", c.AudioLevelThreshold)
	}
	if n, ok := lines["audio_active_ms"]; ok {
		if activeMS < 100 || activeMS > 60000 {
			return c, nil, warnings, errAt(n, "audio_active_ms: %d is outside 100..60000", activeMS)
		}
		c.AudioActive = time.Duration(activeMS) * time.Millisecond
	}
	if n, ok := lines["streams_offer_timeout_ms"]; ok {
		if offerMS != 0 && (offerMS < 100 || offerMS > 3600000) {
			return c, nil, warnings, errAt(n, "streams_offer_timeout_ms: %d is neither 0 nor within 100..3600000", offerMS)
		}
		c.StreamsOfferTimeout = time.Duration(offerMS) * time.Millisecond
	}
	if n, ok := lines["max_streams_per_subscriber"]; ok && c.MaxStreamsPerSubscriber != 0 &&
		(c.MaxStreamsPerSubscriber < 2 || c.MaxStreamsPerSubscriber > 1024) {
		return c, nil, warnings, errAt(n, "max_streams_per_subscriber: %d is neither 0 nor within 2..1024", c.MaxStreamsPerSubscriber)
	}
	if c.MessageThreads > MaxMessageThreads {
		warnings = append(warnings, fmt.Sprintf("%s:%d: message_threads: %d is more than %d; using %d", path, lines["message_threads"], c.MessageThreads, MaxMessageThreads, MaxMessageThreads))
		c.MessageThreads = MaxMessageThreads
	}
	if _, ok := lines["keyframe_throttle_ms"]; ok {
		c.KeyframeInterval = time.Duration(ms) * time.Millisecond
	}
	if n, ok := lines["video_codecs"]; ok {
		codecs, err := parseCodecs(g.VideoCodecs)
		if err != nil {
			return c, nil, warnings, errAt(n, "video_codecs: %q: %v", g.VideoCodecs, err)
		}
		c.VideoCodecs = codecs
	}
	if n, ok := lines["h264_profile"]; ok {
		if err := sdp.CheckH264Profile(g.H264Profile); err != nil {
			return c, nil, warnings, errAt(n, "h264_profile: %v", err)
		}
		c.H264Profile = strings.ToLower(g.H264Profile)
	}
	if err := parsePlacement(&c, g, lines, errAt); err != nil {
		return c, nil, warnings, err
	}
	return c, lines, warnings, nil
}

// parsePlacement checks the many-hosts keys: a Redis URL needs this host's
// public URL, which other hosts name when they refuse a join.
func parsePlacement(c *Config, g general, lines map[string]int, errAt func(int, string, ...any) error) error {
	if n, ok := lines["room_lease_ms"]; ok {
		ms, _ := parseUint(g.RoomLease) // checked above
		if ms < 1000 {
			return errAt(n, "room_lease_ms: %q is below 1000 (a dead host's rooms move after this long; renewals run every third of it)", g.RoomLease)
		}
		c.RoomLease = time.Duration(ms) * time.Millisecond
	}
	if n, ok := lines["redis_url"]; ok && g.RedisURL != "" {
		u, err := url.Parse(g.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return errAt(n, "redis_url: %q is not a redis://, rediss:// or unix:// URL", g.RedisURL)
		}
		c.RedisURL = g.RedisURL
	}
	if n, ok := lines["public_url"]; ok && g.PublicURL != "" {
		u, err := url.Parse(g.PublicURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errAt(n, "public_url: %q is not a ws://, wss://, http:// or https:// URL", g.PublicURL)
		}
		c.PublicURL = g.PublicURL
	}
	if c.RedisURL != "" && c.PublicURL == "" {
		return errAt(lines["redis_url"], "redis_url: needs public_url, this host's URL as clients reach it")
	}
	return nil
}

// parseBool reads an INI boolean.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, errors.New("is not a boolean (true or false)")
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

// isComment reports whether s is empty or an end-of-line comment.
func isComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s[0] == ';' || s[0] == '#'
}

// unquote returns a trimmed INI value: bare values are taken as they are;
// values in double or single quotes lose the quotes, and inside double
// quotes \" and \\ are escapes. A comment may follow a closing quote.
func unquote(v string) (string, error) {
	if v == "" || (v[0] != '"' && v[0] != '\'') {
		return v, nil
	}
	q := v[0]
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch == q:
			if !isComment(v[i+1:]) {
				return "", fmt.Errorf("unexpected text %q after closing quote", strings.TrimSpace(v[i+1:]))
			}
			return b.String(), nil
		case ch == '\\' && q == '"' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\'):
			i++
			b.WriteByte(v[i])
		default:
			b.WriteByte(ch)
		}
	}
	return "", fmt.Errorf("missing closing quote in %s", v)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func parseUint(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("is not a non-negative integer")
	}
	x, err := strconv.ParseUint(s, 10, 64)
	if err != nil || x > maxInt {
		return 0, fmt.Errorf("is too large (max %d)", maxInt)
	}
	return int(x), nil
}

func parseCodecs(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(f))
		if name == "" {
			return nil, fmt.Errorf("empty codec name (want a comma-separated list of %s)", strings.Join(sdp.VideoCodecNames(), ", "))
		}
		if err := sdp.CheckVideoCodec(name); err != nil {
			return nil, err
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}
