package main

import (
	"fmt"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/auth"
	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus"
	"github.com/janus-sfu-go/janus-plugin-sfu/config"
	"github.com/janus-sfu-go/janus-plugin-sfu/placement"
	"github.com/janus-sfu-go/janus-plugin-sfu/sdp"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// start runs at Janus's init: read the config, then build the SFU.
func start(gw *cjanus.Gateway, log sfu.Logger, configDir string) (cjanus.Host, error) {
	cfg, warnings, err := config.Load(configDir)
	for _, w := range warnings {
		log.Warnf("%s", w)
	}
	if err != nil {
		return nil, err
	}
	neg := sdp.Negotiator{Options: sdp.Options{VideoCodecs: cfg.VideoCodecs, H264Profile: cfg.H264Profile}}
	opts := sfu.Options{
		MaxRoomSize: cfg.MaxRoomSize,
		MaxCCU:      cfg.MaxCCU,
		Workers:     cfg.MessageThreads,

		MaxPublishersPerUser: cfg.MaxPublishersPerUser,
		MaxRoomsPerUser:      cfg.MaxRoomsPerUser,
		LimitSubscribers:     true,
		SubscriberSlack:      cfg.SubscriberSlack,
		MaxInFlight:          cfg.MaxInFlight,
		MaxBlocksPerUser:     cfg.MaxBlocksPerUser,
		BlockExpiry:          cfg.BlockExpiry,
		ReconnectSecrets:     cfg.ReconnectSecret,

		Negotiator: neg,
		// Multistream subscriptions need the 1.x ABI (packets carry an
		// mindex); on 0.x subscribe.streams is refused.
		Multistream: gw.Multistream(),
		Streams:     neg,
		// 0 = never (config: streams_offer_timeout_ms).
		StreamOfferTimeout: cfg.StreamsOfferTimeout,
		// 0 = no cap (config: max_streams_per_subscriber).
		MaxStreamsPerSubscriber: cfg.MaxStreamsPerSubscriber,
		Log:                     log,
	}
	if cfg.AuthKey != nil {
		v := auth.NewVerifier(cfg.AuthKey)
		opts.Verify = func(token string) (sfu.Grant, error) { return v.Verify(token, time.Now()) }
	}
	if cfg.TalkingEvents {
		opts.Talking = sfu.TalkingOptions{Threshold: cfg.AudioLevelThreshold, Window: cfg.AudioActive}
	}
	gw.SetKeyframeInterval(cfg.KeyframeInterval)
	auth := "off"
	if cfg.AuthKey != nil {
		auth = fmt.Sprintf("on (%s)", cfg.AuthKeyPath)
	}
	log.Infof("config: auth %s, max_room_size %d, max_ccu %d, message_threads %d, video_codecs %v, h264_profile %s, keyframe_throttle %v",
		auth, cfg.MaxRoomSize, cfg.MaxCCU, cfg.MessageThreads, cfg.VideoCodecs, cfg.H264Profile, cfg.KeyframeInterval)
	log.Infof("config: max_publishers_per_user %d, max_rooms_per_user %d, subscriber_slack %d, max_inflight_messages %d, max_blocks_per_user %d, block_expiry %v",
		cfg.MaxPublishersPerUser, cfg.MaxRoomsPerUser, cfg.SubscriberSlack, cfg.MaxInFlight, cfg.MaxBlocksPerUser, cfg.BlockExpiry)
	log.Infof("config: multistream %v, streams_offer_timeout_ms %d, max_streams_per_subscriber %d, talking_events %v, audio_level_threshold %d, audio_active_ms %d",
		opts.Multistream, cfg.StreamsOfferTimeout.Milliseconds(), cfg.MaxStreamsPerSubscriber, cfg.TalkingEvents, cfg.AudioLevelThreshold, cfg.AudioActive.Milliseconds())
	if cfg.RedisURL == "" {
		return sfu.NewServer(gw, opts), nil
	}
	dir, err := placement.New(placement.Options{URL: cfg.RedisURL, Self: cfg.PublicURL, Lease: cfg.RoomLease, Log: log})
	if err != nil {
		return nil, err
	}
	opts.Rooms = dir
	srv := sfu.NewServer(gw, opts)
	dir.OnLost(srv.EvictRoom)
	return placedServer{srv, dir}, nil
}

// placedServer also hands its room leases back when Janus stops.
type placedServer struct {
	*sfu.Server
	rooms *placement.Directory
}

func (p placedServer) Destroy() {
	p.Server.Destroy()
	p.rooms.Close()
}
