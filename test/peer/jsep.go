package peer

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// Timeouts of the steps of a negotiation.
const (
	GatherTimeout = 10 * time.Second // every local candidate
	SignalTimeout = 20 * time.Second // webrtcup after the answer
)

// JSEP is a session description as Janus's API carries it.
type JSEP map[string]any

// LocalDescription sets d as pc's local description and waits for every
// candidate (no trickle: Janus gets the full-ICE SDP in one message).
func LocalDescription(pc *webrtc.PeerConnection, d webrtc.SessionDescription) (JSEP, error) {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return nil, err
	}
	select {
	case <-gathered:
	case <-time.After(GatherTimeout):
		return nil, errors.New("peer: ICE gathering timed out")
	}
	ld := pc.LocalDescription()
	return JSEP{"type": ld.Type.String(), "sdp": ld.SDP}, nil
}

// Offer creates pc's offer with every candidate.
func Offer(pc *webrtc.PeerConnection) (JSEP, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, err
	}
	return LocalDescription(pc, offer)
}

// SDP returns the SDP of ev's jsep, which must be of type want ("offer" or
// "answer").
func SDP(ev janus.PluginEvent, want string) (string, error) {
	if len(ev.Jsep) == 0 {
		return "", fmt.Errorf("peer: no jsep in %s", ev.Raw)
	}
	var j struct{ Type, SDP string }
	if err := ev.DecodeJsep(&j); err != nil {
		return "", err
	}
	if j.Type != want {
		return "", fmt.Errorf("peer: jsep %q, want %q", j.Type, want)
	}
	return j.SDP, nil
}

// ApplyAnswer sets the answer in ev as pc's remote description.
func ApplyAnswer(pc *webrtc.PeerConnection, ev janus.PluginEvent) error {
	sdp, err := SDP(ev, "answer")
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("peer: pion refuses the answer: %w\n%s", err, sdp)
	}
	return nil
}

// AcceptOffer sets the offer in ev as pc's remote description and returns
// pc's answer with every candidate. pion answers every m-line of the offer,
// so a subscriber to several publishers (one offer, many m-lines) needs
// nothing more; pc.OnTrack sees each track.
func AcceptOffer(pc *webrtc.PeerConnection, ev janus.PluginEvent) (JSEP, error) {
	sdp, err := SDP(ev, "offer")
	if err != nil {
		return nil, err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return nil, fmt.Errorf("peer: pion refuses the offer: %w\n%s", err, sdp)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	return LocalDescription(pc, ans)
}

// WaitSignal waits up to d for a signal of type kind (e.g. "webrtcup") on
// h; a hangup or a closed handle before it is an error.
func WaitSignal(h *janus.Handle, kind string, d time.Duration) error {
	deadline := time.After(d)
	for {
		select {
		case s, ok := <-h.Signals():
			if !ok {
				return fmt.Errorf("peer: handle %d closed waiting for %s", h.ID, kind)
			}
			if s.Type == kind {
				return nil
			}
			if s.Type == "hangup" {
				return fmt.Errorf("peer: handle %d hung up (%s) waiting for %s", h.ID, s.Reason, kind)
			}
		case <-deadline:
			return fmt.Errorf("peer: handle %d: no %s within %v", h.ID, kind, d)
		}
	}
}
