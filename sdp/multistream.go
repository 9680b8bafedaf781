package sdp

// Multistream subscriber offers (Janus 1.x): one subscriber PeerConnection
// carries an audio and a video m-line per publisher stream of the room. The
// sfu decides which stream goes on which m-line (mids "0","1",... in order,
// so a line's mid is also its mindex; never reordered, gone streams marked
// inactive and recycled); this file only writes the SDP.
//
// Codecs and payload types are the classic subscriber offer's: each active
// line copies its codec from the m-line of the same kind in the publisher's
// classic subscriber offer (subscriberOfferFor), which already has the
// fixed payload types the relay rewrites to. An inactive line still needs a
// codec: it gets the classic offer's default (what subscriberOfferFor writes
// for a publisher that sent nothing).

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	psdp "github.com/pion/sdp/v3"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// AudioLevelURI is the RFC 6464 client-to-mixer audio level extension.
const AudioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// maxMidBytes is the longest mid Janus accepts (src/sdp.c refuses more).
const maxMidBytes = 16

// maxMSIDBytes is RFC 8830's limit on an msid-id and appdata, which is
// also the buffer Janus reads them into.
const maxMSIDBytes = 64

// Errors about multistream offers and answers, shown to clients wrapped.
var (
	ErrNoStreams      = errors.New("multistream offer has no m-lines")
	ErrStreamMismatch = errors.New("answer does not match the last offer")
)

// StreamID is the msid stream id of a user's m-lines, so that the browser
// puts a user's audio and video in one MediaStream. It is the user id
// itself when that is a valid msid-id (RFC 8830: 1 to 64 token chars),
// otherwise "u-" and 32 hex digits of the id's SHA-256.
func StreamID(user string) string {
	if user != "" && len(user) <= maxMSIDBytes && strings.IndexFunc(user, func(r rune) bool { return !tokenChar(r) }) < 0 {
		return user
	}
	h := sha256.Sum256([]byte(user))
	return "u-" + hex.EncodeToString(h[:16])
}

// tokenChar is RFC 4566's token-char.
func tokenChar(r rune) bool {
	switch {
	case r == 0x21, r >= 0x23 && r <= 0x27, r == 0x2a, r == 0x2b, r == 0x2d, r == 0x2e,
		r >= 0x30 && r <= 0x39, r >= 0x41 && r <= 0x5a, r >= 0x5e && r <= 0x7e:
		return true
	}
	return false
}

// MultistreamOffer writes the offer for a multistream subscriber: one
// m-line per line, in order. Lines with a Source are sendonly with the
// codec of the source's m-line of that kind; lines without are inactive.
// A payload type is described the same way on every line (the first
// active line using it decides): browsers refuse a BUNDLE group where one
// payload type has two descriptions.
func MultistreamOffer(lines []sfu.StreamLine, o Options) (offer string, err error) {
	defer func() {
		if r := recover(); r != nil {
			offer, err = "", invalid(r)
		}
	}()
	if len(lines) == 0 {
		return "", ErrNoStreams
	}
	defaults, err := defaultStreamMedia(o)
	if err != nil {
		return "", err
	}
	sources := map[string]map[string]*psdp.MediaDescription{}
	canonical := map[string]*psdp.MediaDescription{} // payload type -> the line describing it
	templates := make([]*psdp.MediaDescription, len(lines))
	mids := make([]string, 0, len(lines))
	for i, l := range lines {
		if l.Kind != "audio" && l.Kind != "video" {
			return "", fmt.Errorf("%w: m-line %d has kind %s", ErrInvalid, i, sfu.Quoted(l.Kind))
		}
		if l.Mid == "" || len(l.Mid) > maxMidBytes || slices.Contains(mids, l.Mid) {
			return "", fmt.Errorf("%w: m-line %d has a missing, long or repeated mid %s", ErrInvalid, i, sfu.Quoted(l.Mid))
		}
		mids = append(mids, l.Mid)
		if l.Source == "" {
			continue
		}
		byKind, ok := sources[l.Source]
		if !ok {
			if byKind, err = streamMedia(l.Source); err != nil {
				return "", err
			}
			sources[l.Source] = byKind
		}
		t := byKind[l.Kind]
		if t == nil {
			return "", fmt.Errorf("%w: the source of m-line %d has no %s", ErrInvalid, i, l.Kind)
		}
		pt := t.MediaName.Formats[0]
		if c := canonical[pt]; c != nil {
			t = c
		} else {
			canonical[pt] = t
		}
		templates[i] = t
	}
	s := newSession()
	s.Attributes = append(s.Attributes, a("group", "BUNDLE "+strings.Join(mids, " ")))
	for i, l := range lines {
		t, dir := templates[i], "sendonly"
		if t == nil {
			t, dir = inactiveTemplate(l.Kind, defaults, canonical), "inactive"
		}
		md := rtpMedia(l.Kind, 0)
		md.MediaName.Formats = slices.Clone(t.MediaName.Formats)
		md.Attributes = append(md.Attributes, a("mid", l.Mid), flag(dir))
		if dir == "sendonly" {
			// Janus keeps a plugin's msid (janus_sdp_process_local).
			md.Attributes = append(md.Attributes, a("msid", StreamID(l.User)+" "+l.Kind+"-"+l.Mid))
		}
		for _, at := range t.Attributes {
			switch strings.ToLower(at.Key) {
			case "mid", "msid", "sendonly", "recvonly", "sendrecv", "inactive":
				continue
			}
			md.Attributes = append(md.Attributes, at)
		}
		s.MediaDescriptions = append(s.MediaDescriptions, md)
	}
	b, err := s.Marshal()
	if err != nil {
		return "", fmt.Errorf("sdp: marshal multistream offer: %w", err)
	}
	return string(b), nil
}

// inactiveTemplate picks the codec of an inactive line: one that an active
// line of the offer already describes if the default's payload type is
// taken, so the payload type keeps one description.
func inactiveTemplate(kind string, defaults, canonical map[string]*psdp.MediaDescription) *psdp.MediaDescription {
	t := defaults[kind]
	if c := canonical[t.MediaName.Formats[0]]; c != nil {
		return c
	}
	return t
}

// defaultStreamMedia is the classic subscriber offer's m-line of each kind
// for a publisher that negotiated nothing.
func defaultStreamMedia(o Options) (map[string]*psdp.MediaDescription, error) {
	offer, _, err := subscriberOfferFor(chosen{}, o.codecs(), o.h264Profile())
	if err != nil {
		return nil, err
	}
	return streamMedia(offer)
}

// streamMedia finds the audio and video m-lines of a classic subscriber
// offer (ours: one payload type per m-line).
func streamMedia(subscriberOffer string) (map[string]*psdp.MediaDescription, error) {
	d, err := parse(subscriberOffer)
	if err != nil {
		return nil, err
	}
	out := map[string]*psdp.MediaDescription{}
	for _, md := range d.MediaDescriptions {
		kind := md.MediaName.Media
		if (kind == "audio" || kind == "video") && out[kind] == nil && len(md.MediaName.Formats) > 0 {
			out[kind] = md
		}
	}
	return out, nil
}

// ValidateStreamAnswer checks a multistream subscriber's answer against
// the mids of the offer it answers: same number of m-lines, same mids in
// the same order.
func ValidateStreamAnswer(answer string, mids []string) error {
	d, err := parse(answer)
	if err != nil {
		return err
	}
	if len(d.MediaDescriptions) != len(mids) {
		return fmt.Errorf("%w: %d m-lines, the offer has %d", ErrStreamMismatch, len(d.MediaDescriptions), len(mids))
	}
	for i, md := range d.MediaDescriptions {
		mid, _ := attr(md, "mid")
		if mid != mids[i] {
			return fmt.Errorf("%w: m-line %d has mid %s, the offer has %q", ErrStreamMismatch, i, sfu.Quoted(mid), mids[i])
		}
	}
	return nil
}

// AudioLevelExtension returns the id of the RFC 6464 audio-level
// extension on the audio m-line of our answer to a publisher (0 when not
// negotiated): the relay reads the level from that extension.
func AudioLevelExtension(publisherAnswer string) int {
	d, err := parse(publisherAnswer)
	if err != nil {
		return 0
	}
	for _, md := range d.MediaDescriptions {
		if m := parseMline(md); m.kind == "audio" && m.port != 0 && m.dir != "inactive" {
			for _, e := range m.extmaps {
				if strings.EqualFold(e.uri, AudioLevelURI) {
					return e.id
				}
			}
			return 0
		}
	}
	return 0
}

// StreamOffer implements sfu.StreamNegotiator.
func (n Negotiator) StreamOffer(lines []sfu.StreamLine) (string, error) {
	return MultistreamOffer(lines, n.Options)
}

// ValidateStreamAnswer implements sfu.StreamNegotiator.
func (Negotiator) ValidateStreamAnswer(answer string, mids []string) error {
	return ValidateStreamAnswer(answer, mids)
}

// AudioLevelExtension implements sfu.StreamNegotiator.
func (Negotiator) AudioLevelExtension(publisherAnswer string) int {
	return AudioLevelExtension(publisherAnswer)
}
