package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/buger/jsonparser"
)

// Limits on client input. Everything beyond them is refused with an error
// before any state changes.
const (
	MaxMessageBytes = 1 << 20   // whole message body
	MaxIDBytes      = 256       // room_id, user_id, whom
	MaxTokenBytes   = 16 << 10  // JWT
	MaxDataBytes    = 256 << 10 // kind:"data" body
	MaxSDPBytes     = 64 << 10  // jsep.sdp
	MaxSecretBytes  = 64        // join's reconnect_secret
)

// Kind is a message's "kind".
type Kind string

// The message kinds of the protocol (docs/protocol.md).
const (
	KindJoin    Kind = "join"
	KindKick    Kind = "kick"
	KindBlock   Kind = "block"
	KindUnblock Kind = "unblock"
	KindData    Kind = "data"
	// KindConfigure pauses and resumes a multistream subscription's
	// streams (streams.go).
	KindConfigure Kind = "configure"
)

// Subscription is a join's "subscribe" object.
type Subscription struct {
	Notifications bool
	Data          bool
	Media         string // user id whose media to receive; "" for none
	HasMedia      bool
	// Streams asks for a multistream subscription (streams.go).
	Streams bool
}

// Message is a parsed, validated message body.
type Message struct {
	Kind      Kind
	RoomID    string
	UserID    string
	Subscribe *Subscription
	Token     string
	HasToken  bool
	Whom      string
	HasWhom   bool
	Body      string
	// Streams are a configure's settings per mid.
	Streams []StreamSetting
	// ReconnectSecret, on a join, is the secret an earlier join of the
	// same user and room was given: it replaces that user's stale handles.
	ReconnectSecret string
}

// JSEP is a parsed session description.
type JSEP struct {
	Type string // "offer" or "answer"
	SDP  string
}

// inputError is a client mistake: its text goes back to the client.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// ParseMessage parses a message body. A nil result with a nil error means
// "no message" (an absent or empty body, as when only a jsep is sent).
func ParseMessage(body []byte) (*Message, error) {
	if len(body) == 0 {
		return nil, nil
	}
	if len(body) > MaxMessageBytes {
		return nil, badInput("Malformed message: larger than %d bytes.", MaxMessageBytes)
	}
	if err := checkObject(body); err != nil {
		return nil, badInput("Malformed message: the body must be a JSON object.")
	}
	empty := true
	_ = jsonparser.ObjectEach(body, func([]byte, []byte, jsonparser.ValueType, int) error {
		empty = false
		return errStop
	})
	if empty {
		return nil, nil
	}
	kindRaw, kt, _, err := jsonparser.Get(body, "kind")
	if kt == jsonparser.NotExist {
		return nil, badInput(`Malformed message: missing "kind".`)
	}
	if err != nil || kt != jsonparser.String {
		return nil, badInput(`Malformed message: "kind" must be a string.`)
	}
	kind, err := jsonparser.ParseString(kindRaw)
	if err != nil {
		return nil, badInput(`Malformed message: "kind" must be a string.`)
	}
	m := &Message{Kind: Kind(kind)}
	p := fieldParser{body: body, what: kind}
	switch m.Kind {
	case KindJoin:
		m.RoomID = p.id("room_id", true)
		m.UserID = p.id("user_id", true)
		m.Token, m.HasToken = p.str("token", false, MaxTokenBytes)
		m.Subscribe = p.subscription()
		m.ReconnectSecret, _ = p.str("reconnect_secret", false, MaxSecretBytes)
	case KindKick:
		m.RoomID = p.id("room_id", true)
		m.UserID = p.id("user_id", true)
		m.Token, m.HasToken = p.str("token", true, MaxTokenBytes)
	case KindBlock, KindUnblock:
		m.Whom = p.id("whom", true)
		m.HasWhom = true
	case KindConfigure:
		m.Streams = p.streamSettings()
	case KindData:
		m.Body, _ = p.str("body", true, MaxDataBytes)
		if w, ok := p.str("whom", false, MaxIDBytes); ok {
			m.Whom, m.HasWhom = w, true
		}
	default:
		return nil, badInput("Unknown message kind %s.", Quoted(kind))
	}
	if p.err != nil {
		return nil, p.err
	}
	return m, nil
}

var errStop = errors.New("stop")

// Quoted quotes client text for an error message: at most 64 bytes of it,
// and fewer where quoting escapes them into more than 100 (invalid UTF-8
// and control bytes quote as 4–6 each), marked with "…" when cut. A cut
// falls between characters, so no half character is shown as escapes.
func Quoted(s string) string {
	if q := strconv.Quote(s); len(s) <= 64 && len(q) <= 100 {
		return q
	}
	cut := min(len(s), 64)
	for back := 0; back < utf8.UTFMax-1 && cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	s = s[:cut]
	for len(strconv.Quote(s+"…")) > 100 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strconv.Quote(s + "…")
}

// checkObject accepts exactly one JSON object (with surrounding
// whitespace). jsonparser is lazy, so the whole value is validated now:
// garbage after a valid prefix or inside it is refused before handling
// starts, not half-way through. Valid JSON whose first byte is '{' is an
// object, so one pass does.
func checkObject(b []byte) error {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	if i == len(b) || b[i] != '{' {
		return errors.New("not an object")
	}
	if !json.Valid(b) {
		return errors.New("invalid JSON")
	}
	return nil
}

// fieldParser reads typed fields and keeps the first error.
type fieldParser struct {
	body   []byte
	what   string
	prefix string // for nested objects: "subscribe."
	err    error
}

func (p *fieldParser) fail(format string, args ...any) {
	if p.err == nil {
		p.err = badInput("Malformed %s: "+format, append([]any{p.what}, args...)...)
	}
}

func (p *fieldParser) str(key string, required bool, max int) (string, bool) {
	raw, t, _, err := jsonparser.Get(p.body, key)
	key = p.prefix + key
	if t == jsonparser.NotExist {
		if required {
			p.fail("missing %q.", key)
		}
		return "", false
	}
	if t == jsonparser.Null && !required {
		return "", false
	}
	if err != nil || t != jsonparser.String {
		p.fail("%q must be a string.", key)
		return "", false
	}
	if len(raw) > max*6 { // escaped form can be up to 6x the decoded size
		p.fail("%q is longer than %d bytes.", key, max)
		return "", false
	}
	s, err := jsonparser.ParseString(raw)
	if err != nil {
		p.fail("%q must be a string.", key)
		return "", false
	}
	if len(s) > max {
		p.fail("%q is longer than %d bytes.", key, max)
		return "", false
	}
	return s, true
}

func (p *fieldParser) id(key string, required bool) string {
	s, ok := p.str(key, required, MaxIDBytes)
	if ok && s == "" {
		p.fail("%q must not be empty.", key)
	}
	return s
}

func (p *fieldParser) boolean(obj []byte, key, label string) bool {
	raw, t, _, err := jsonparser.Get(obj, key)
	if t == jsonparser.NotExist || t == jsonparser.Null {
		return false
	}
	if err != nil || t != jsonparser.Boolean {
		p.fail("%q must be a boolean.", label)
		return false
	}
	v, err := jsonparser.ParseBoolean(raw)
	if err != nil {
		p.fail("%q must be a boolean.", label)
	}
	return v
}

func (p *fieldParser) subscription() *Subscription {
	raw, t, _, err := jsonparser.Get(p.body, "subscribe")
	if t == jsonparser.NotExist || t == jsonparser.Null {
		return nil
	}
	if err != nil || t != jsonparser.Object {
		p.fail(`"subscribe" must be an object.`)
		return nil
	}
	s := &Subscription{
		Notifications: p.boolean(raw, "notifications", "subscribe.notifications"),
		Data:          p.boolean(raw, "data", "subscribe.data"),
		Streams:       p.boolean(raw, "streams", "subscribe.streams"),
	}
	sub := fieldParser{body: raw, what: p.what, prefix: "subscribe."}
	if m, ok := sub.str("media", false, MaxIDBytes); ok {
		if m == "" {
			sub.fail(`"subscribe.media" must not be empty.`)
		}
		s.Media, s.HasMedia = m, true
	}
	if p.err == nil {
		p.err = sub.err
	}
	return s
}

// ParseJSEP parses a jsep object. nil, nil means none.
func ParseJSEP(b []byte) (*JSEP, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if err := checkObject(b); err != nil {
		return nil, badInput("Malformed jsep: it must be a JSON object.")
	}
	p := fieldParser{body: b, what: "jsep"}
	typ, _ := p.str("type", true, 16)
	sdp, _ := p.str("sdp", true, MaxSDPBytes)
	if p.err != nil {
		return nil, p.err
	}
	if typ != "offer" && typ != "answer" {
		return nil, badInput(`Malformed jsep: "type" must be "offer" or "answer".`)
	}
	return &JSEP{Type: typ, SDP: sdp}, nil
}
