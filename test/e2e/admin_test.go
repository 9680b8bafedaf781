package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/janus-sfu-go/janus-plugin-sfu/cmd/sfu-exporter/exporter"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// adminCall sends a message_plugin request and decodes the plugin's answer.
func adminCall(t *testing.T, s *janus.Server, req map[string]any, out any) string {
	t.Helper()
	raw, err := s.MessagePlugin(req)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%v: %s: %v", req, raw, err)
		}
	}
	return string(raw)
}

func adminStats(t *testing.T, s *janus.Server) sfu.Stats {
	t.Helper()
	var st sfu.Stats
	adminCall(t, s, map[string]any{"request": "stats"}, &st)
	return st
}

// TestAdminAPI drives the plugin's admin requests through Janus's admin API
// with two real publishers (pion) in a room, one subscribed to the other.
func TestAdminAPI(t *testing.T) {
	requireNetns(t)
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true})
	alice := newUser(t, s, "adm", "alice")
	bob := newUser(t, s, "adm", "bob")
	bs := bob.subscribe(alice)
	mediaArrives(t, "alice's media at bob", 15*time.Second, alice, bs, "video")

	var rooms struct{ Rooms []sfu.RoomInfo }
	raw := adminCall(t, s, map[string]any{"request": "list_rooms"}, &rooms)
	if want := []sfu.RoomInfo{{RoomID: "adm", Users: 2, Publishers: 2, Subscribers: 1}}; fmt.Sprint(rooms.Rooms) != fmt.Sprint(want) {
		t.Errorf("list_rooms = %s, want %+v", raw, want)
	}

	var users struct{ Rooms []sfu.RoomUsers }
	raw = adminCall(t, s, map[string]any{"request": "list_users", "room_id": "adm"}, &users)
	want := []sfu.RoomUsers{{RoomID: "adm", Users: []sfu.UserInfo{
		{UserID: "alice", Role: sfu.RolePublisher, Handles: 1, Subscriptions: []string{}, Blocks: []string{}},
		{UserID: "bob", Role: sfu.RolePublisher, Handles: 2, Subscriptions: []string{"alice"}, Blocks: []string{}},
	}}}
	if fmt.Sprint(users.Rooms) != fmt.Sprint(want) {
		t.Errorf("list_users = %s, want %+v", raw, want)
	}

	st := adminStats(t, s)
	if st.Rooms != 1 || st.Users != 2 || st.Publishers != 2 || st.Subscribers != 1 || st.Handles != 3 {
		t.Errorf("stats counts: %+v", st)
	}
	if st.Relay == nil || st.Relay.RTPIn == 0 || st.Relay.RTPOut == 0 || st.Runtime.Goroutines == 0 {
		t.Fatalf("stats relay/runtime: %+v %+v", st.Relay, st.Runtime)
	}
	if _, ok := st.RejectedJoins[sfu.RejectRoomFull]; !ok {
		t.Errorf("stats rejected_joins lacks room_full: %v", st.RejectedJoins)
	}

	// query_session still answers the handle's own state.
	info, err := s.HandleInfo(alice.c.SessionID(), alice.pub.h.ID)
	if err != nil {
		t.Fatal(err)
	}
	var hi struct {
		Joined bool             `json:"joined"`
		UserID string           `json:"user_id"`
		Relay  *sfu.RelayCounts `json:"relay"`
	}
	if err := json.Unmarshal(info, &hi); err != nil || !hi.Joined || hi.UserID != "alice" || hi.Relay == nil || hi.Relay.RTPIn == 0 {
		t.Errorf("handle_info of alice's publisher: %s (%v)", info, err)
	}

	// Bad requests get a clear error and change nothing.
	for req, wantErr := range map[string]string{
		`{"request":"reboot"}`:                               `unknown request "reboot"`,
		`{"request":"kick","room_id":"adm"}`:                 "kick needs room_id and user_id",
		`{"request":"kick","room_id":"adm","user_id":"eve"}`: `user "eve" has no handle in room "adm"`,
	} {
		var m map[string]any
		json.Unmarshal([]byte(req), &m)
		var out struct{ Error string }
		raw := adminCall(t, s, m, &out)
		if !strings.Contains(out.Error, wantErr) {
			t.Errorf("%s = %s, want an error with %q", req, raw, wantErr)
		}
	}

	// Kick bob: his two handles go, alice hears that he left, the relay
	// totals keep what his handles counted.
	var kicked struct{ Kicked sfu.KickResult }
	raw = adminCall(t, s, map[string]any{"request": "kick", "room_id": "adm", "user_id": "bob"}, &kicked)
	if kicked.Kicked != (sfu.KickResult{RoomID: "adm", UserID: "bob", Handles: 2}) {
		t.Errorf("kick = %s", raw)
	}
	alice.pub.waitEvent(map[string]any{"event": "leave", "user_id": "bob", "room_id": "adm"})
	eventually(t, "bob's handles gone", 5*time.Second, func() bool {
		st := adminStats(t, s)
		return st.Handles == 1 && st.Users == 1
	})
	after := adminStats(t, s)
	if after.Relay.RTPIn < st.Relay.RTPIn || after.Relay.RTPOut < st.Relay.RTPOut || after.Relay.RTCPIn < st.Relay.RTCPIn {
		t.Errorf("relay totals went down after the kick: %+v then %+v", *st.Relay, *after.Relay)
	}
	if !s.Running() {
		t.Fatalf("janus died:\n%s", s.Log())
	}
}

// TestAdminExporter runs cmd/sfu-exporter's collector in-process against
// a real Janus and scrapes it.
func TestAdminExporter(t *testing.T) {
	requireE2E(t)
	s := janus.Start(t, janus.Options{Netns: Netns(), Admin: true})
	c := s.Connect(t)
	for _, name := range []string{"ann", "ben"} {
		attach(t, c).ok(join("exp", name, pubSub, ""), nil)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(exporter.New(exporter.Options{Targets: []string{s.AdminURL}, Secret: janus.AdminSecret,
		Client: s.HTTPClient(), Timeout: 5 * time.Second}))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	inst := exporter.Instance(s.AdminURL)
	for _, line := range []string{
		fmt.Sprintf(`janus_sfu_up{instance=%q} 1`, inst),
		fmt.Sprintf(`janus_sfu_users{instance=%q} 2`, inst),
		fmt.Sprintf(`janus_sfu_rooms{instance=%q} 1`, inst),
		fmt.Sprintf(`janus_sfu_relay_packets_total{direction="in",instance=%q,kind="rtp"} 0`, inst),
		fmt.Sprintf(`janus_sfu_rejected_joins_total{instance=%q,reason="room_full"} 0`, inst),
	} {
		if !strings.Contains(string(body), line+"\n") {
			t.Errorf("scrape lacks %q:\n%s", line, body)
		}
	}

	// The build's version (Makefile: git describe) is the plugin's
	// version_string in /info and in its start log line.
	info, err := s.Info()
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Version       int    `json:"version"`
		VersionString string `json:"version_string"`
	}
	if err := json.Unmarshal(info.Plugins[janus.PluginPackage], &meta); err != nil || meta.VersionString == "" {
		t.Fatalf("plugin info %s: %v", info.Plugins[janus.PluginPackage], err)
	}
	if !strings.Contains(s.Log(), "ready (version "+meta.VersionString+",") {
		t.Errorf("start log does not name version %q", meta.VersionString)
	}
	t.Logf("plugin version %q (%d)", meta.VersionString, meta.Version)

	// A wrong secret: Janus refuses, the exporter says the instance is down.
	bad := prometheus.NewPedanticRegistry()
	bad.MustRegister(exporter.New(exporter.Options{Targets: []string{s.AdminURL}, Secret: "wrong", Client: s.HTTPClient()}))
	mfs, err := bad.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "janus_sfu_up" && mf.GetMetric()[0].GetGauge().GetValue() != 0 {
			t.Errorf("janus_sfu_up with a wrong secret: %v", mf)
		}
	}
}
