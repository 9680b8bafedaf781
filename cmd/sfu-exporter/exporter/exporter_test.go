package exporter

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const stats = `{"rooms":2,"users":3,"publishers":3,"subscribers":4,"handles":8,
"relay":{"rtp_in":100,"rtp_out":250,"rtcp_in":7,"data_in":5,"data_out":9,"keyframe_requests_in":4,"keyframes_sent":3,"keyframes_throttled":1},
"errors":{"bad_jsep":2,"busy":0},"rejected_joins":{"room_full":1,"invalid_token":0},
"queue_depth":1,"queue_capacity":2048,
"multistream":{"handles":2,"lines":9,"active":5,"paused":1,"pending":2,"inactive":1,"offers_outstanding":1,"not_offered":3,"offer_timeouts":6},
"runtime":{"goroutines":12,"heap_inuse_bytes":4096,"sys_bytes":8192,"mallocs":77,"gc_cycles":3}}`

// fakeJanus answers message_plugin like Janus's admin API, checking what the
// exporter sends.
func fakeJanus(t *testing.T, secret, response string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Janus       string            `json:"janus"`
			Plugin      string            `json:"plugin"`
			Transaction string            `json:"transaction"`
			Secret      string            `json:"admin_secret"`
			Request     map[string]string `json:"request"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || r.Method != http.MethodPost {
			t.Errorf("bad admin request: %v", err)
		}
		if req.Secret != secret {
			w.Write([]byte(`{"janus":"error","transaction":"x","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}`))
			return
		}
		if req.Janus != "message_plugin" || req.Plugin != Plugin || req.Request["request"] != "stats" || req.Transaction == "" {
			t.Errorf("unexpected admin request %+v", req)
		}
		w.Write([]byte(`{"janus":"success","transaction":"` + req.Transaction + `","response":` + response + `}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestExposition(t *testing.T) {
	a := fakeJanus(t, "s3cret", stats)
	inst := Instance(a.URL + "/admin")
	c := New(Options{Targets: []string{a.URL + "/admin"}, Secret: "s3cret"})
	want := strings.NewReplacer("INST", inst).Replace(`
# HELP janus_sfu_up 1 if the last read of the instance's plugin stats succeeded, else 0.
# TYPE janus_sfu_up gauge
janus_sfu_up{instance="INST"} 1
# HELP janus_sfu_users Distinct users with at least one joined handle.
# TYPE janus_sfu_users gauge
janus_sfu_users{instance="INST"} 3
# HELP janus_sfu_rooms Rooms with at least one joined handle.
# TYPE janus_sfu_rooms gauge
janus_sfu_rooms{instance="INST"} 2
# HELP janus_sfu_relay_packets_total Packets the relay received (direction=in) and handed to Janus for others (direction=out).
# TYPE janus_sfu_relay_packets_total counter
janus_sfu_relay_packets_total{direction="in",instance="INST",kind="data"} 5
janus_sfu_relay_packets_total{direction="in",instance="INST",kind="rtcp"} 7
janus_sfu_relay_packets_total{direction="in",instance="INST",kind="rtp"} 100
janus_sfu_relay_packets_total{direction="out",instance="INST",kind="data"} 9
janus_sfu_relay_packets_total{direction="out",instance="INST",kind="rtp"} 250
# HELP janus_sfu_rejected_joins_total Refused joins by reason.
# TYPE janus_sfu_rejected_joins_total counter
janus_sfu_rejected_joins_total{instance="INST",reason="invalid_token"} 0
janus_sfu_rejected_joins_total{instance="INST",reason="room_full"} 1
# HELP janus_sfu_errors_total Failed signalling messages by kind.
# TYPE janus_sfu_errors_total counter
janus_sfu_errors_total{instance="INST",kind="bad_jsep"} 2
janus_sfu_errors_total{instance="INST",kind="busy"} 0
# HELP janus_sfu_keyframe_requests_throttled_total Subscribers' keyframe requests dropped by the per-publisher throttle.
# TYPE janus_sfu_keyframe_requests_throttled_total counter
janus_sfu_keyframe_requests_throttled_total{instance="INST"} 1
# HELP janus_sfu_queue_depth Signalling messages waiting for a worker.
# TYPE janus_sfu_queue_depth gauge
janus_sfu_queue_depth{instance="INST"} 1
# HELP janus_sfu_multistream_handles Multistream subscriber handles (they are among subscribers).
# TYPE janus_sfu_multistream_handles gauge
janus_sfu_multistream_handles{instance="INST"} 2
# HELP janus_sfu_multistream_lines M-lines of multistream subscriber handles by state (active, paused, pending, inactive).
# TYPE janus_sfu_multistream_lines gauge
janus_sfu_multistream_lines{instance="INST",state="active"} 5
janus_sfu_multistream_lines{instance="INST",state="inactive"} 1
janus_sfu_multistream_lines{instance="INST",state="paused"} 1
janus_sfu_multistream_lines{instance="INST",state="pending"} 2
# HELP janus_sfu_multistream_offers_outstanding Multistream subscriber handles with an offer sent and not answered.
# TYPE janus_sfu_multistream_offers_outstanding gauge
janus_sfu_multistream_offers_outstanding{instance="INST"} 1
# HELP janus_sfu_multistream_not_offered Streams max_streams_per_subscriber keeps out of multistream subscribers' latest offers.
# TYPE janus_sfu_multistream_not_offered gauge
janus_sfu_multistream_not_offered{instance="INST"} 3
# HELP janus_sfu_multistream_offer_timeouts_total Multistream subscriber handles ended for leaving an offer unanswered (streams_offer_timeout_ms).
# TYPE janus_sfu_multistream_offer_timeouts_total counter
janus_sfu_multistream_offer_timeouts_total{instance="INST"} 6
# HELP janus_sfu_go_goroutines Goroutines in the plugin's Go runtime.
# TYPE janus_sfu_go_goroutines gauge
janus_sfu_go_goroutines{instance="INST"} 12
`)
	names := []string{"janus_sfu_up", "janus_sfu_users", "janus_sfu_rooms", "janus_sfu_relay_packets_total",
		"janus_sfu_rejected_joins_total", "janus_sfu_errors_total", "janus_sfu_keyframe_requests_throttled_total",
		"janus_sfu_queue_depth", "janus_sfu_go_goroutines",
		"janus_sfu_multistream_handles", "janus_sfu_multistream_lines", "janus_sfu_multistream_offers_outstanding",
		"janus_sfu_multistream_offer_timeouts_total", "janus_sfu_multistream_not_offered"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	// Every Desc is described, so a registry accepts the collector.
	if err := prometheus.NewPedanticRegistry().Register(c); err != nil {
		t.Error(err)
	}
}

// A bad secret, a plugin error, a dead or slow instance: up is 0 for that
// instance only, and the scrape still answers within the timeout.
func TestDownInstances(t *testing.T) {
	good := fakeJanus(t, "s", stats)
	wrongSecret := fakeJanus(t, "other", stats)
	pluginErr := fakeJanus(t, "s", `{"error":"unknown request \"stats\""}`)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	t.Cleanup(func() { close(hang); slow.Close() })

	targets := []string{good.URL, wrongSecret.URL, pluginErr.URL, dead.URL, slow.URL}
	c := New(Options{Targets: targets, Secret: "s", Timeout: 300 * time.Millisecond})
	var want strings.Builder
	want.WriteString("# HELP janus_sfu_up 1 if the last read of the instance's plugin stats succeeded, else 0.\n# TYPE janus_sfu_up gauge\n")
	for i, u := range targets {
		v := "0"
		if i == 0 {
			v = "1"
		}
		want.WriteString(`janus_sfu_up{instance="` + Instance(u) + `"} ` + v + "\n")
	}
	start := time.Now()
	if err := testutil.CollectAndCompare(c, strings.NewReader(want.String()), "janus_sfu_up"); err != nil {
		t.Error(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("scrape took %v with a 300ms timeout", d)
	}
	if n := testutil.CollectAndCount(c, "janus_sfu_users"); n != 1 {
		t.Errorf("%d janus_sfu_users series, want 1 (only the live instance)", n)
	}
}

func TestInstance(t *testing.T) {
	for in, want := range map[string]string{
		"http://h1:7088/admin": "h1:7088", "https://janus.example/admin": "janus.example", "not a url": "not a url",
	} {
		if got := Instance(in); got != want {
			t.Errorf("Instance(%q) = %q, want %q", in, got, want)
		}
	}
}
