// Package exporter turns the stats of janus.plugin.sfu, read through the
// admin API of one or more Janus instances, into Prometheus metrics. Every
// scrape asks every instance once, in parallel, within a timeout; nothing is
// cached between scrapes.
package exporter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// Namespace prefixes every metric name.
const Namespace = "janus_sfu"

// Plugin is the package the admin requests go to.
const Plugin = "janus.plugin.sfu"

// maxResponseBytes bounds what one admin answer may take.
const maxResponseBytes = 4 << 20

// Options configure a Collector.
type Options struct {
	// Targets are Janus admin API URLs (http://host:7088/admin).
	Targets []string
	// Secret is Janus's admin_secret ("" when Janus has none).
	Secret string
	// Timeout bounds one instance's answer (default 5 s).
	Timeout time.Duration
	// Client makes the requests (default: a client with no timeout of its
	// own; the per-scrape context bounds each request).
	Client *http.Client
}

// Collector is a prometheus.Collector reading the targets at each Collect.
type Collector struct {
	opts Options
}

// New returns a Collector for opts.
func New(opts Options) *Collector {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	return &Collector{opts: opts}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, append([]string{"instance"}, labels...), nil)
}

// The metrics, one Desc each; "instance" is the Janus host:port.
var (
	upDesc         = desc("up", "1 if the last read of the instance's plugin stats succeeded, else 0.")
	durationDesc   = desc("scrape_duration_seconds", "Time the instance's admin API took to answer.")
	roomsDesc      = desc("rooms", "Rooms with at least one joined handle.")
	usersDesc      = desc("users", "Distinct users with at least one joined handle.")
	pubsDesc       = desc("publishers", "Publisher handles (joined with subscribe.data).")
	subsDesc       = desc("subscribers", "Joined handles that are not publishers.")
	handlesDesc    = desc("handles", "Handles attached to the plugin, joined or not.")
	packetsDesc    = desc("relay_packets_total", "Packets the relay received (direction=in) and handed to Janus for others (direction=out).", "kind", "direction")
	kfInDesc       = desc("keyframe_requests_received_total", "PLI/FIR packets received from subscribers.")
	kfSentDesc     = desc("keyframe_requests_sent_total", "Keyframe requests (PLI/FIR) sent to publishers.")
	kfThrotDesc    = desc("keyframe_requests_throttled_total", "Subscribers' keyframe requests dropped by the per-publisher throttle.")
	errorsDesc     = desc("errors_total", "Failed signalling messages by kind.", "kind")
	rejectedDesc   = desc("rejected_joins_total", "Refused joins by reason.", "reason")
	queueDesc      = desc("queue_depth", "Signalling messages waiting for a worker.")
	queueCapDesc   = desc("queue_capacity", "Signalling messages the worker queues hold.")
	msHandlesDesc  = desc("multistream_handles", "Multistream subscriber handles (they are among subscribers).")
	msLinesDesc    = desc("multistream_lines", "M-lines of multistream subscriber handles by state (active, paused, pending, inactive).", "state")
	msOutDesc      = desc("multistream_offers_outstanding", "Multistream subscriber handles with an offer sent and not answered.")
	msNotOffDesc   = desc("multistream_not_offered", "Streams max_streams_per_subscriber keeps out of multistream subscribers' latest offers.")
	msTimeoutsDesc = desc("multistream_offer_timeouts_total", "Multistream subscriber handles ended for leaving an offer unanswered (streams_offer_timeout_ms).")
	goroutDesc     = desc("go_goroutines", "Goroutines in the plugin's Go runtime.")
	heapDesc       = desc("go_heap_inuse_bytes", "Heap bytes in use by the plugin's Go runtime.")
	sysDesc        = desc("go_sys_bytes", "Bytes the plugin's Go runtime obtained from the OS.")
	mallocsDesc    = desc("go_mallocs_total", "Heap allocations by the plugin's Go runtime.")
	gcDesc         = desc("go_gc_cycles_total", "Completed GC cycles of the plugin's Go runtime.")

	allDescs = []*prometheus.Desc{upDesc, durationDesc, roomsDesc, usersDesc, pubsDesc, subsDesc, handlesDesc,
		packetsDesc, kfInDesc, kfSentDesc, kfThrotDesc, errorsDesc, rejectedDesc, queueDesc, queueCapDesc,
		msHandlesDesc, msLinesDesc, msOutDesc, msNotOffDesc, msTimeoutsDesc,
		goroutDesc, heapDesc, sysDesc, mallocsDesc, gcDesc}
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one stats request per target,
// in parallel.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, target := range c.opts.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.collect(ch, target)
		}()
	}
	wg.Wait()
}

func (c *Collector) collect(ch chan<- prometheus.Metric, target string) {
	inst := Instance(target)
	start := time.Now()
	st, err := c.Stats(target)
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, time.Since(start).Seconds(), inst)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0, inst)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1, inst)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{inst}, labels...)...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{inst}, labels...)...)
	}
	gauge(roomsDesc, float64(st.Rooms))
	gauge(usersDesc, float64(st.Users))
	gauge(pubsDesc, float64(st.Publishers))
	gauge(subsDesc, float64(st.Subscribers))
	gauge(handlesDesc, float64(st.Handles))
	if r := st.Relay; r != nil {
		counter(packetsDesc, r.RTPIn, "rtp", "in")
		counter(packetsDesc, r.RTPOut, "rtp", "out")
		counter(packetsDesc, r.RTCPIn, "rtcp", "in")
		counter(packetsDesc, r.DataIn, "data", "in")
		counter(packetsDesc, r.DataOut, "data", "out")
		counter(kfInDesc, r.KeyframeRequestsIn)
		counter(kfSentDesc, r.KeyframesSent)
		counter(kfThrotDesc, r.KeyframesThrottled)
	}
	for kind, n := range st.Errors {
		counter(errorsDesc, n, kind)
	}
	for reason, n := range st.RejectedJoins {
		counter(rejectedDesc, n, reason)
	}
	gauge(queueDesc, float64(st.QueueDepth))
	gauge(queueCapDesc, float64(st.QueueCapacity))
	ms := st.Multistream
	gauge(msHandlesDesc, float64(ms.Handles))
	gauge(msLinesDesc, float64(ms.Active), sfu.StreamActive)
	gauge(msLinesDesc, float64(ms.Paused), sfu.StreamPaused)
	gauge(msLinesDesc, float64(ms.Pending), sfu.StreamPending)
	gauge(msLinesDesc, float64(ms.Inactive), sfu.StreamInactive)
	gauge(msOutDesc, float64(ms.OffersOutstanding))
	gauge(msNotOffDesc, float64(ms.NotOffered))
	counter(msTimeoutsDesc, ms.OfferTimeouts)
	gauge(goroutDesc, float64(st.Runtime.Goroutines))
	gauge(heapDesc, float64(st.Runtime.HeapInuseBytes))
	gauge(sysDesc, float64(st.Runtime.SysBytes))
	counter(mallocsDesc, st.Runtime.Mallocs)
	counter(gcDesc, uint64(st.Runtime.GCCycles))
}

// Instance is the "instance" label of a target: its host:port.
func Instance(target string) string {
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		return u.Host
	}
	return target
}

// Stats asks one Janus for the plugin's stats (message_plugin
// {"request":"stats"}).
func (c *Collector) Stats(target string) (sfu.Stats, error) {
	var st sfu.Stats
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	req := map[string]any{
		"janus": "message_plugin", "plugin": Plugin, "transaction": transaction(),
		"request": map[string]string{"request": sfu.AdminStats},
	}
	if c.opts.Secret != "" {
		req["admin_secret"] = c.opts.Secret
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return st, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.opts.Client.Do(hr)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return st, err
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: HTTP %s", target, resp.Status)
	}
	var out struct {
		Janus string `json:"janus"`
		Error *struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		} `json:"error"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return st, fmt.Errorf("%s: %v", target, err)
	}
	if out.Janus != "success" {
		if out.Error != nil {
			return st, fmt.Errorf("%s: Janus error %d: %s", target, out.Error.Code, out.Error.Reason)
		}
		return st, fmt.Errorf("%s: answer %q", target, out.Janus)
	}
	var pluginErr struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(out.Response, &pluginErr) == nil && pluginErr.Error != "" {
		return st, fmt.Errorf("%s: plugin: %s", target, pluginErr.Error)
	}
	if err := json.Unmarshal(out.Response, &st); err != nil {
		return st, fmt.Errorf("%s: stats: %v", target, err)
	}
	return st, nil
}

func transaction() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "sfu-exporter-" + hex.EncodeToString(b[:])
}
