package soak

import (
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/peer"
)

// sendMedia sends, until stop closes, one Opus and one H.264 packet every
// 20 ms on p's tracks, and closes done when it returns.
func sendMedia(p *peer.Publisher, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	apkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32())}, Payload: make([]byte, 100)}
	vpkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Marker: true}, Payload: make([]byte, 800)}
	apkt.Payload[0] = 0xfc // Opus TOC: CELT FB 20 ms
	vpkt.Payload[0] = 0x41 // H.264 non-IDR slice
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		apkt.SequenceNumber++
		apkt.Timestamp += 960
		vpkt.SequenceNumber++
		vpkt.Timestamp += 1800
		if p.Audio.WriteRTP(apkt) != nil || p.Video.WriteRTP(vpkt) != nil {
			return
		}
	}
}
