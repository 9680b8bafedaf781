// Package sdp produces the SDP bodies the SFU plugin hands to Janus.
//
// Janus's core does ICE and DTLS itself: it passes the plugin the peer's SDP
// with all transport details removed ("anonymized") and, when the plugin
// replies, it strips the transport attributes again and merges in its own
// (o= address, per-m c=, a=group:BUNDLE, a=mid, a=rtcp-mux, a=sctp-port,
// ICE credentials, fingerprint, a=setup, a=msid, a=ssrc, rtx payloads...).
// This package therefore only decides codecs, payload types, directions,
// mids and header extensions.
//
// A publisher's offer is answered with Opus and one video codec, both
// recvonly, plus the data channel. From that answer a subscriber offer is
// built that always has three m-lines (audio, video, data, mids "0", "1",
// "2") with fixed payload types per codec (videoCodecs, Opus 111): the relay
// rewrites each publisher's payload types into those (sfu.PayloadMap), so a
// subscriber's payload types never change across renegotiations.
package sdp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// MaxSize is the largest SDP accepted, in bytes.
const MaxSize = 64 * 1024

// OpusFmtp is the fmtp parameter string used for Opus on both the publisher
// answer and the subscriber offer (the same string the Rust plugin emitted).
const OpusFmtp = "stereo=0; sprop-stereo=0; usedtx=1;"

// Default codec settings.
const (
	DefaultH264Profile = "42e01f"
	defaultOpusPT      = 111
)

// videoCodecs are the video codecs we negotiate, in the order of the
// video_codecs setting's documentation, with the fixed payload type and
// rtpmap the subscriber offer uses for each (h264 107 is what
// naf-janus-adapter's munging expects).
var videoCodecs = []videoCodec{
	{"h264", 107, "H264/90000"},
	{"vp8", 96, "VP8/90000"},
	{"vp9", 98, "VP9/90000"},
	{"av1", 45, "AV1/90000"},
}

type videoCodec struct {
	name   string
	pt     int
	rtpmap string
}

// videoCodecNamed finds a codec of videoCodecs by its lower-case name.
func videoCodecNamed(name string) (videoCodec, bool) {
	i := slices.IndexFunc(videoCodecs, func(c videoCodec) bool { return c.name == name })
	if i < 0 {
		return videoCodec{}, false
	}
	return videoCodecs[i], true
}

// VideoCodecNames lists the accepted video codec names, lower case.
func VideoCodecNames() []string {
	out := make([]string, len(videoCodecs))
	for i, c := range videoCodecs {
		out[i] = c.name
	}
	return out
}

// CheckVideoCodec reports whether name (lower case) is a video codec we
// negotiate.
func CheckVideoCodec(name string) error {
	if _, ok := videoCodecNamed(name); !ok {
		return fmt.Errorf("unknown codec %q (want one of %s)", name, strings.Join(VideoCodecNames(), ", "))
	}
	return nil
}

// CheckH264Profile reports whether p is a profile-level-id: 6 hex digits.
func CheckH264Profile(p string) error {
	if len(p) != 6 || strings.TrimLeft(p, "0123456789abcdefABCDEF") != "" {
		return fmt.Errorf("%q is not 6 hex digits (profile_idc, constraint flags, level_idc, e.g. %s)", p, DefaultH264Profile)
	}
	return nil
}

// Options controls codec selection.
type Options struct {
	// VideoCodecs lists the accepted video codecs in preference order, in
	// lower case (VideoCodecNames). Empty means {"h264"}. Unknown names
	// are ignored.
	VideoCodecs []string
	// H264Profile is the profile-level-id an H.264 payload must have to be
	// accepted (compared case-insensitively). Empty means DefaultH264Profile.
	H264Profile string
}

// Validate reports unknown codec names or a malformed H.264 profile.
func (o Options) Validate() error {
	for _, c := range o.VideoCodecs {
		if err := CheckVideoCodec(strings.ToLower(strings.TrimSpace(c))); err != nil {
			return fmt.Errorf("sdp: %w", err)
		}
	}
	if p := o.H264Profile; p != "" {
		if err := CheckH264Profile(p); err != nil {
			return fmt.Errorf("sdp: H.264 profile-level-id %w", err)
		}
	}
	return nil
}

func (o Options) codecs() []string {
	var out []string
	for _, c := range o.VideoCodecs {
		c = strings.ToLower(strings.TrimSpace(c))
		if _, ok := videoCodecNamed(c); ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = VideoCodecNames()[:1]
	}
	return out
}

func (o Options) h264Profile() string {
	if o.H264Profile == "" {
		return DefaultH264Profile
	}
	return strings.ToLower(o.H264Profile)
}

// Header extensions copied from the publisher's offer into the answer (same
// ids). All of them are understood by Janus 0.x and 1.x.
var acceptedExtmaps = []string{
	"urn:ietf:params:rtp-hdrext:sdes:mid",
	AudioLevelURI,
	"urn:3gpp:video-orientation",
	"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
}

// Video RTCP feedback kinds relayed/understood, in output order.
var videoFeedback = []string{"ccm fir", "nack", "nack pli", "goog-remb", "transport-cc"}

// Errors returned to clients. They are wrapped with details where useful.
var (
	ErrTooLarge     = errors.New("SDP is too large")
	ErrInvalid      = errors.New("invalid SDP")
	ErrNoMedia      = errors.New("SDP has no media lines")
	ErrNoAcceptable = errors.New("SDP offer has no acceptable media (need Opus audio, a supported video codec or a data channel)")
)

// codec describes one payload type offered on an m-line.
type codec struct {
	pt       int
	name     string // lower case encoding name
	clock    string // clock rate (and channels), e.g. "48000/2"
	rtpmap   string // original rtpmap value after the pt, e.g. "opus/48000/2"
	fmtp     string // fmtp parameters ("" if none)
	feedback []string
}

// parsed view of one offered m-line.
type mline struct {
	md       *psdp.MediaDescription
	kind     string
	mid      string
	port     int
	dir      string // sendrecv, sendonly, recvonly, inactive
	codecs   []codec
	extmaps  []extmap
	sctpPort string
	maxMsg   string
	sctpmap  string
}

type extmap struct {
	id  int
	uri string
}

func parse(s string) (*psdp.SessionDescription, error) {
	if len(s) > MaxSize {
		return nil, fmt.Errorf("%w (%d bytes, limit %d)", ErrTooLarge, len(s), MaxSize)
	}
	t := strings.TrimLeft(s, " \t\r\n")
	if !strings.HasPrefix(t, "v=") {
		return nil, fmt.Errorf("%w: does not start with v=", ErrInvalid)
	}
	var d psdp.SessionDescription
	if err := unmarshal(normalize(t), &d); err != nil {
		return nil, invalid(err)
	}
	return &d, nil
}

// invalid wraps the reason an SDP was refused. The parser's reasons quote
// the offending field whole, up to MaxSize bytes of it, and they go back
// to the client, so they are cut like any client text.
func invalid(reason any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, sfu.Quoted(fmt.Sprint(reason)))
}

// sessionRank is RFC 4566's order of session-level lines.
var sessionRank = map[byte]int{'v': 0, 'o': 1, 's': 2, 'i': 3, 'u': 4, 'e': 5, 'p': 6, 'c': 7, 'b': 8, 't': 9, 'r': 9, 'z': 10, 'k': 11, 'a': 12}

// normalize drops empty lines and puts session-level lines in RFC 4566
// order. Janus's writer (janus_sdp_write) emits a session-level c= after t=,
// which pion's strict parser rejects.
func normalize(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var session, media []string
	for _, l := range lines {
		l = strings.TrimRight(l, "\r")
		if l == "" {
			continue
		}
		if media != nil || strings.HasPrefix(l, "m=") {
			media = append(media, l)
			continue
		}
		session = append(session, l)
	}
	rank := func(l string) int {
		if r, ok := sessionRank[l[0]]; ok {
			return r
		}
		return 13
	}
	slices.SortStableFunc(session, func(x, y string) int { return rank(x) - rank(y) })
	var b strings.Builder
	b.Grow(len(s) + 16)
	for _, l := range append(session, media...) {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// unmarshal guards against panics inside the SDP parser.
func unmarshal(s string, d *psdp.SessionDescription) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unparseable: %v", r)
		}
	}()
	return d.UnmarshalString(s)
}

func attr(md *psdp.MediaDescription, key string) (string, bool) {
	for _, a := range md.Attributes {
		if strings.EqualFold(a.Key, key) {
			return strings.TrimSpace(a.Value), true
		}
	}
	return "", false
}

// splitPT splits "<pt> rest" into pt and rest.
func splitPT(v string) (int, string, bool) {
	v = strings.TrimSpace(v)
	head, rest, _ := strings.Cut(v, " ")
	pt, err := strconv.Atoi(head)
	if err != nil || pt < 0 || pt > 127 {
		return 0, "", false
	}
	return pt, strings.TrimSpace(rest), true
}

func parseMline(md *psdp.MediaDescription) *mline {
	m := &mline{md: md, kind: strings.ToLower(md.MediaName.Media), port: md.MediaName.Port.Value, dir: "sendrecv"}
	if v, ok := attr(md, "mid"); ok {
		m.mid = v
	}
	if m.port == 0 {
		if _, ok := attr(md, "bundle-only"); ok {
			m.port = 9
		}
	}
	for _, d := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
		if _, ok := attr(md, d); ok {
			m.dir = d
		}
	}
	seen := map[int]bool{}
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 || seen[pt] {
			continue
		}
		seen[pt] = true
		m.codecs = append(m.codecs, codec{pt: pt})
	}
	// Pointers into m.codecs stay valid: the slice is not appended to below.
	byPT := make(map[int]*codec, len(m.codecs))
	for i := range m.codecs {
		byPT[m.codecs[i].pt] = &m.codecs[i]
	}
	var wildcardFB []string
	for _, a := range md.Attributes {
		key := strings.ToLower(a.Key)
		switch key {
		case "rtpmap", "fmtp", "rtcp-fb":
		case "extmap":
			if e, ok := parseExtmap(a.Value); ok {
				m.extmaps = append(m.extmaps, e)
			}
			continue
		case "sctp-port":
			m.sctpPort = strings.TrimSpace(a.Value)
			continue
		case "max-message-size":
			m.maxMsg = strings.TrimSpace(a.Value)
			continue
		case "sctpmap":
			m.sctpmap = strings.TrimSpace(a.Value)
			continue
		default:
			continue
		}
		v := strings.TrimSpace(a.Value)
		if key == "rtcp-fb" && strings.HasPrefix(v, "*") {
			wildcardFB = append(wildcardFB, normFB(strings.TrimSpace(v[1:])))
			continue
		}
		pt, rest, ok := splitPT(v)
		if !ok || byPT[pt] == nil {
			continue
		}
		c := byPT[pt]
		switch key {
		case "rtpmap":
			if c.rtpmap != "" {
				continue
			}
			name, clock, _ := strings.Cut(rest, "/")
			c.rtpmap, c.name, c.clock = rest, strings.ToLower(strings.TrimSpace(name)), strings.ToLower(strings.TrimSpace(clock))
		case "fmtp":
			if c.fmtp == "" {
				c.fmtp = rest
			}
		case "rtcp-fb":
			c.feedback = append(c.feedback, normFB(rest))
		}
	}
	if len(wildcardFB) > 0 {
		for i := range m.codecs {
			m.codecs[i].feedback = append(m.codecs[i].feedback, wildcardFB...)
		}
	}
	return m
}

func normFB(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// parseExtmap parses "<id>[/<dir>] <uri> [attributes]".
func parseExtmap(v string) (extmap, bool) {
	f := strings.Fields(v)
	if len(f) < 2 {
		return extmap{}, false
	}
	idStr, dir, _ := strings.Cut(f[0], "/")
	id, err := strconv.Atoi(idStr)
	if err != nil || id < 1 || id > 14 {
		return extmap{}, false
	}
	// A recvonly/inactive extension is one the offerer will not send.
	if d := strings.ToLower(dir); d == "recvonly" || d == "inactive" {
		return extmap{}, false
	}
	return extmap{id: id, uri: f[1]}, true
}

// fmtpParams parses "a=1;b=2" (also tolerating "a=1; b=2;") into lower-case keys.
func fmtpParams(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func (m *mline) findOpus() *codec {
	for i := range m.codecs {
		c := &m.codecs[i]
		if c.name == "opus" && c.clock == "48000/2" {
			return c
		}
	}
	return nil
}

func (m *mline) findVideo(codecs []string, h264Profile string) (*codec, string) {
	for _, want := range codecs {
		var best, fallback *codec
		for i := range m.codecs {
			c := &m.codecs[i]
			if c.clock != "90000" {
				continue
			}
			p := fmtpParams(c.fmtp)
			switch want {
			case "h264":
				if c.name != "h264" || !strings.EqualFold(p["profile-level-id"], h264Profile) {
					continue
				}
				if p["packetization-mode"] == "1" {
					best = c
				} else if fallback == nil {
					fallback = c
				}
			case "vp8":
				if c.name == "vp8" {
					best = c
				}
			case "vp9":
				if c.name != "vp9" {
					continue
				}
				if id, ok := p["profile-id"]; !ok || id == "0" {
					best = c
				} else if fallback == nil {
					fallback = c
				}
			case "av1":
				if c.name == "av1" {
					best = c
				}
			}
			if best != nil {
				break
			}
		}
		if best == nil {
			best = fallback
		}
		if best != nil {
			return best, want
		}
	}
	return nil, ""
}

func isDataChannel(md *psdp.MediaDescription) (legacy bool, ok bool) {
	proto := strings.ToUpper(strings.Join(md.MediaName.Protos, "/"))
	switch proto {
	case "UDP/DTLS/SCTP":
		for _, f := range md.MediaName.Formats {
			if strings.EqualFold(f, "webrtc-datachannel") {
				return false, true
			}
		}
	case "DTLS/SCTP":
		return true, len(md.MediaName.Formats) > 0
	}
	return false, false
}

func newSession() psdp.SessionDescription {
	id := rand.Uint64()>>2 | 1
	return psdp.SessionDescription{
		Version: 0,
		Origin: psdp.Origin{
			Username:       "-",
			SessionID:      id,
			SessionVersion: 1,
			NetworkType:    "IN",
			AddressType:    "IP4",
			UnicastAddress: "127.0.0.1",
		},
		SessionName:      "-",
		TimeDescriptions: []psdp.TimeDescription{{Timing: psdp.Timing{StartTime: 0, StopTime: 0}}},
	}
}

func conn() *psdp.ConnectionInformation {
	return &psdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &psdp.Address{Address: "0.0.0.0"}}
}

func a(k, v string) psdp.Attribute { return psdp.Attribute{Key: k, Value: v} }

func flag(k string) psdp.Attribute { return psdp.Attribute{Key: k} }

// rejected builds a rejected (port 0, inactive) answer m-line mirroring the offered one.
func rejected(m *mline) *psdp.MediaDescription {
	formats := m.md.MediaName.Formats
	if len(formats) == 0 {
		formats = []string{"0"}
	} else {
		formats = []string{formats[0]}
	}
	protos := m.md.MediaName.Protos
	if len(protos) == 0 {
		protos = []string{"UDP", "TLS", "RTP", "SAVPF"}
	}
	media := m.md.MediaName.Media
	if media == "" {
		media = "application"
	}
	md := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:   media,
			Port:    psdp.RangedPort{Value: 0},
			Protos:  append([]string(nil), protos...),
			Formats: formats,
		},
		ConnectionInformation: conn(),
	}
	if m.mid != "" {
		md.Attributes = append(md.Attributes, a("mid", m.mid))
	}
	md.Attributes = append(md.Attributes, flag("inactive"))
	return md
}

func answerDir(offered string) string {
	if offered == "sendrecv" || offered == "sendonly" {
		return "recvonly"
	}
	return "inactive"
}

// chosen is what the publisher answer negotiated; it seeds the subscriber offer.
type chosen struct {
	audio      *codec
	video      *codec
	videoCodec string
}

// Negotiate answers a publisher's (anonymized) offer and builds the offer
// its subscribers get. Errors are meant to be shown to the client.
//
// The subscriber offer uses fixed payload types (Opus 111, H.264 107, VP8
// 96, VP9 98, AV1 45) whatever the publisher chose, and the relay rewrites
// the payload type byte (Payloads). A subscriber's payload types then never
// change across renegotiations: Janus adds an rtx payload type next to the
// video one in its offers, and a later offer reusing that number for video
// would be refused by the browser.
func Negotiate(offer string, o Options) (n sfu.Negotiation, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = sfu.Negotiation{}, invalid(r)
		}
	}()
	answer, sub, pm, err := negotiate(offer, o)
	if err != nil {
		return sfu.Negotiation{}, err
	}
	return sfu.Negotiation{Answer: answer, SubscriberOffer: sub, Payloads: pm}, nil
}

func negotiate(offer string, o Options) (answer string, subscriberOffer string, pm sfu.PayloadMap, err error) {
	pm = sfu.NoPayloadMap
	d, err := parse(offer)
	if err != nil {
		return "", "", pm, err
	}
	if len(d.MediaDescriptions) == 0 {
		return "", "", pm, ErrNoMedia
	}
	codecs, profile := o.codecs(), o.h264Profile()
	ans := newSession()
	var ch chosen
	var bundle []string
	haveAudio, haveVideo, haveData := false, false, false
	for _, md := range d.MediaDescriptions {
		if md == nil {
			continue
		}
		m := parseMline(md)
		var out *psdp.MediaDescription
		if m.port != 0 {
			switch m.kind {
			case "audio":
				if !haveAudio {
					if c := m.findOpus(); c != nil {
						haveAudio = true
						out = answerAudio(m, c)
						if out.MediaName.Port.Value != 0 && answerDir(m.dir) == "recvonly" {
							ch.audio = c
						}
					}
				}
			case "video":
				if !haveVideo {
					if c, name := m.findVideo(codecs, profile); c != nil {
						haveVideo = true
						out = answerVideo(m, c)
						if answerDir(m.dir) == "recvonly" {
							ch.video, ch.videoCodec = c, name
						}
					}
				}
			case "application":
				if legacy, ok := isDataChannel(md); ok && !haveData {
					haveData = true
					out = answerData(m, legacy)
				}
			}
		}
		if out == nil {
			out = rejected(m)
		} else if m.mid != "" {
			bundle = append(bundle, m.mid)
		}
		ans.MediaDescriptions = append(ans.MediaDescriptions, out)
	}
	if !haveAudio && !haveVideo && !haveData {
		return "", "", pm, ErrNoAcceptable
	}
	if len(bundle) > 0 {
		// Janus strips and rewrites the group itself; this keeps the body self-consistent.
		ans.Attributes = append(ans.Attributes, a("group", "BUNDLE "+strings.Join(bundle, " ")))
	}
	ab, err := ans.Marshal()
	if err != nil {
		return "", "", pm, fmt.Errorf("sdp: marshal answer: %w", err)
	}
	sub, pm, err := subscriberOfferFor(ch, codecs, profile)
	if err != nil {
		return "", "", pm, err
	}
	return string(ab), sub, pm, nil
}

func rtpMedia(kind string, pt int) *psdp.MediaDescription {
	return &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:   kind,
			Port:    psdp.RangedPort{Value: 9},
			Protos:  []string{"UDP", "TLS", "RTP", "SAVPF"},
			Formats: []string{strconv.Itoa(pt)},
		},
		ConnectionInformation: conn(),
	}
}

func addExtmaps(md *psdp.MediaDescription, m *mline) {
	seen := map[int]bool{}
	for _, e := range m.extmaps {
		if seen[e.id] {
			continue
		}
		for _, u := range acceptedExtmaps {
			if strings.EqualFold(e.uri, u) {
				seen[e.id] = true
				md.Attributes = append(md.Attributes, a("extmap", strconv.Itoa(e.id)+" "+u))
				break
			}
		}
	}
}

func hasFB(c *codec, fb string) bool { return slices.Contains(c.feedback, fb) }

// answerRTP starts an answer m-line for one codec: mid, extmaps,
// direction, rtcp-mux and rtpmap, the part audio and video share.
func answerRTP(kind string, m *mline, c *codec, rtpmap string) (*psdp.MediaDescription, string) {
	md := rtpMedia(kind, c.pt)
	pt := strconv.Itoa(c.pt)
	if m.mid != "" {
		md.Attributes = append(md.Attributes, a("mid", m.mid))
	}
	addExtmaps(md, m)
	md.Attributes = append(md.Attributes,
		flag(answerDir(m.dir)),
		flag("rtcp-mux"),
		a("rtpmap", pt+" "+rtpmap),
	)
	return md, pt
}

func answerAudio(m *mline, c *codec) *psdp.MediaDescription {
	md, pt := answerRTP("audio", m, c, "opus/48000/2")
	md.Attributes = append(md.Attributes, a("fmtp", pt+" "+OpusFmtp))
	if hasFB(c, "transport-cc") {
		md.Attributes = append(md.Attributes, a("rtcp-fb", pt+" transport-cc"))
	}
	return md
}

func answerVideo(m *mline, c *codec) *psdp.MediaDescription {
	md, pt := answerRTP("video", m, c, c.rtpmap)
	for _, fb := range videoFeedback {
		if hasFB(c, fb) {
			md.Attributes = append(md.Attributes, a("rtcp-fb", pt+" "+fb))
		}
	}
	if c.fmtp != "" {
		md.Attributes = append(md.Attributes, a("fmtp", pt+" "+c.fmtp))
	}
	return md
}

func answerData(m *mline, legacy bool) *psdp.MediaDescription {
	md := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:   "application",
			Port:    psdp.RangedPort{Value: 9},
			Protos:  append([]string(nil), m.md.MediaName.Protos...),
			Formats: append([]string(nil), m.md.MediaName.Formats...),
		},
		ConnectionInformation: conn(),
	}
	if legacy {
		md.MediaName.Formats = md.MediaName.Formats[:1]
	}
	if m.mid != "" {
		md.Attributes = append(md.Attributes, a("mid", m.mid))
	}
	if legacy {
		port := md.MediaName.Formats[0]
		md.Attributes = append(md.Attributes, a("sctpmap", port+" webrtc-datachannel 1024"))
		return md
	}
	port := "5000"
	if _, err := strconv.ParseUint(m.sctpPort, 10, 16); err == nil {
		port = m.sctpPort
	}
	md.Attributes = append(md.Attributes, a("sctp-port", port))
	if _, err := strconv.ParseUint(m.maxMsg, 10, 64); err == nil {
		md.Attributes = append(md.Attributes, a("max-message-size", m.maxMsg))
	}
	return md
}

func subscriberOfferFor(ch chosen, codecs []string, profile string) (string, sfu.PayloadMap, error) {
	pm := sfu.NoPayloadMap
	s := newSession()
	s.Attributes = append(s.Attributes, a("group", "BUNDLE 0 1 2"))

	name := codecs[0]
	if ch.video != nil {
		name = ch.videoCodec
	}
	fb, _ := videoCodecNamed(name) // name comes from codecs(): known
	vpt, vrtpmap := fb.pt, fb.rtpmap
	var vfmtp string
	switch {
	case ch.video != nil:
		vrtpmap, vfmtp = ch.video.rtpmap, ch.video.fmtp
		pm.VideoFrom, pm.VideoTo = ch.video.pt, vpt
	case name == "h264":
		vfmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile
	case name == "vp9":
		vfmtp = "profile-id=0"
	}
	apt := defaultOpusPT
	if ch.audio != nil {
		pm.AudioFrom, pm.AudioTo = ch.audio.pt, apt
	}

	audio := rtpMedia("audio", apt)
	ap := strconv.Itoa(apt)
	audio.Attributes = append(audio.Attributes,
		a("mid", "0"),
		flag("sendonly"),
		flag("rtcp-mux"),
		a("rtpmap", ap+" opus/48000/2"),
		a("fmtp", ap+" "+OpusFmtp),
		a("rtcp-fb", ap+" transport-cc"),
	)

	video := rtpMedia("video", vpt)
	vp := strconv.Itoa(vpt)
	video.Attributes = append(video.Attributes,
		a("mid", "1"),
		flag("sendonly"),
		flag("rtcp-mux"),
		a("rtpmap", vp+" "+vrtpmap),
	)
	for _, fb := range videoFeedback {
		video.Attributes = append(video.Attributes, a("rtcp-fb", vp+" "+fb))
	}
	if vfmtp != "" {
		video.Attributes = append(video.Attributes, a("fmtp", vp+" "+vfmtp))
	}

	data := &psdp.MediaDescription{
		MediaName: psdp.MediaName{
			Media:   "application",
			Port:    psdp.RangedPort{Value: 9},
			Protos:  []string{"UDP", "DTLS", "SCTP"},
			Formats: []string{"webrtc-datachannel"},
		},
		ConnectionInformation: conn(),
		Attributes:            []psdp.Attribute{a("mid", "2"), a("sctp-port", "5000")},
	}
	s.MediaDescriptions = []*psdp.MediaDescription{audio, video, data}
	b, err := s.Marshal()
	if err != nil {
		return "", pm, fmt.Errorf("sdp: marshal subscriber offer: %w", err)
	}
	return string(b), pm, nil
}

// ValidateAnswer checks that a subscriber's answer is a parseable SDP with
// at least one media line.
func ValidateAnswer(answer string) (err error) {
	d, err := parse(answer)
	if err != nil {
		return err
	}
	if len(d.MediaDescriptions) == 0 {
		return ErrNoMedia
	}
	return nil
}

// Negotiator is the sfu.Negotiator for these options.
type Negotiator struct{ Options Options }

// Negotiate implements sfu.Negotiator.
func (n Negotiator) Negotiate(offer string) (sfu.Negotiation, error) {
	return Negotiate(offer, n.Options)
}

// ValidateAnswer implements sfu.Negotiator.
func (Negotiator) ValidateAnswer(answer string) error { return ValidateAnswer(answer) }
