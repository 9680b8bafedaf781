package sfu

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var fuzzMessageSeeds = []string{
	`{"kind":"join","room_id":"r","user_id":"a","reconnect_secret":"00","subscribe":{"notifications":true,"data":true}}`,
	`{"kind":"join","room_id":"r","user_id":"a","reconnect_secret":7,"subscribe":{"data":true}}`,
	``,
	`{}`,
	`[]`,
	`null`,
	`"x"`,
	`{"kind":"join","room_id":"r","user_id":"a","subscribe":{"notifications":true,"data":true}}`,
	`{"kind":"join","room_id":"r","user_id":"b","subscribe":{"media":"a"}}`,
	`{"kind":"join","room_id":"r","user_id":"b","token":"t","subscribe":{"notifications":null,"data":"x"}}`,
	`{"kind":"join","room_id":"\u0072","user_id":"\ud800","subscribe":[]}`,
	`{"kind":"kick","room_id":"r","user_id":"a","token":"t"}`,
	`{"kind":"block","whom":"a"}`,
	`{"kind":"unblock","whom":""}`,
	`{"kind":"data","body":"x"}`,
	`{"kind":"data","body":"x","whom":"a"}`,
	`{"kind":"data","body":{"nested":["x"]}}`,
	`{"kind":1}`,
	`{"kind":"jo\u0069n","room_id":"r","user_id":"u"}`,
	`{"kind":"join","kind":"data","body":"x","room_id":"r","user_id":"u"}`,
	`{"kind":"data","body":"x"} trailing`,
	`{"a":{"b":{"c":[1,2,{"kind":"data"}]}},"kind":"data","body":"\\"}`,
	"{\"kind\":\"data\",\"body\":\"\xff\xfe\"}",
}

var fuzzJSEPSeeds = []string{
	``,
	`{}`,
	`{"type":"offer","sdp":"v=0"}`,
	`{"type":"answer","sdp":"v=0"}`,
	`{"type":"offer","sdp":"bad"}`,
	`{"type":"answer","sdp":"bad"}`,
	`{"type":"pranswer","sdp":"x"}`,
	`{"type":"offer"}`,
	`{"type":null,"sdp":null}`,
	`[1]`,
}

// hostileMessageSeeds are the security review's inputs: each cap just
// exceeded, deep JSON, duplicate and odd keys.
func hostileMessageSeeds() []string {
	over := func(n int) string { return strings.Repeat("x", n+1) }
	return []string{
		`{"kind":"data","body":"` + over(MaxDataBytes) + `"}`,
		`{"kind":"data","body":"x","pad":"` + over(MaxMessageBytes) + `"}`,
		`{"kind":"join","room_id":"` + over(MaxIDBytes) + `","user_id":"a"}`,
		`{"kind":"join","room_id":"r","user_id":"` + over(MaxIDBytes) + `"}`,
		`{"kind":"kick","room_id":"r","user_id":"a","token":"` + over(MaxTokenBytes) + `"}`,
		`{"kind":"block","whom":"` + over(MaxIDBytes) + `"}`,
		`{"kind":"data","body":` + strings.Repeat("[", 100000) + `}`,
		`{"kind":"data","body":"x","x":` + strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat("}", 20000) + `}`,
		`{"kind":"join","room_id":"r","user_id":"a","subscribe":{"media":"` + over(MaxIDBytes) + `"}}`,
		`{"kind":"join","room_id":"r","user_id":"a","room_id":"s"}`,
		`{"kind":"data","body":"x","whom":null}`,
		"{\"kind\":\"data\",\"body\":\"\\u0000\"}\x00",
		`{"kind":"join","room_id":1e999,"user_id":"a"}`,
	}
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range append(fuzzMessageSeeds, hostileMessageSeeds()...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMessage(body)
		if err != nil {
			var ie *inputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an inputError", err)
			}
			if m != nil {
				t.Fatalf("message %+v with error %v", m, err)
			}
			if len(err.Error()) > 200 {
				t.Fatalf("error message of %d bytes", len(err.Error()))
			}
			return
		}
		if m == nil {
			// No message: an empty body or an empty object.
			v, err := decodeObject(body)
			if len(body) != 0 && (err != nil || len(v) != 0) {
				t.Fatalf("%q parsed as no message", body)
			}
			return
		}
		if _, err := decodeObject(body); err != nil {
			t.Fatalf("%q accepted but is not a JSON object: %v", body, err)
		}
		if len(body) > MaxMessageBytes {
			t.Fatalf("accepted %d bytes", len(body))
		}
		checkMessage(t, m)
	})
}

// decodeObject decodes one JSON object, keeping numbers as text: JSON
// numbers have no range (77222e22222222222222222 is one), and float64 is
// only encoding/json's default.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if v == nil || !json.Valid(b) {
		return nil, errors.New("not one JSON object")
	}
	return v, nil
}

func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	ids := map[string]string{"room_id": m.RoomID, "user_id": m.UserID, "whom": m.Whom}
	if m.Subscribe != nil {
		ids["subscribe.media"] = m.Subscribe.Media
	}
	for k, v := range ids {
		if len(v) > MaxIDBytes {
			t.Fatalf("%s of %d bytes accepted", k, len(v))
		}
	}
	if len(m.Token) > MaxTokenBytes || len(m.Body) > MaxDataBytes {
		t.Fatalf("token %d / body %d bytes accepted", len(m.Token), len(m.Body))
	}
	switch m.Kind {
	case KindJoin, KindKick:
		if m.RoomID == "" || m.UserID == "" {
			t.Fatalf("%s without room or user: %+v", m.Kind, m)
		}
		if m.Kind == KindKick && !m.HasToken {
			t.Fatalf("kick without token: %+v", m)
		}
		if m.Subscribe != nil && m.Subscribe.HasMedia && m.Subscribe.Media == "" {
			t.Fatalf("empty media accepted: %+v", m)
		}
	case KindBlock, KindUnblock:
		if m.Whom == "" || !m.HasWhom {
			t.Fatalf("%s without whom: %+v", m.Kind, m)
		}
	case KindData:
		if !m.HasWhom && m.Whom != "" {
			t.Fatalf("whom %q without HasWhom", m.Whom)
		}
	default:
		t.Fatalf("unknown kind %q accepted", m.Kind)
	}
}

func FuzzParseJSEP(f *testing.F) {
	hostile := []string{
		`{"type":"offer","sdp":"v=0\r\n` + strings.Repeat("a=x\r\n", MaxSDPBytes/5) + `"}`,
		`{"type":"offer","sdp":"v=0","sdp":"v=1"}`,
		`{"type":"offer","sdp":"v=0","x":` + strings.Repeat("[", 100000) + `}`,
		`{"type":"offer","sdp":"v=0\u0000"}`,
		`{"type":"OFFER","sdp":"v=0"}`,
		`{"type":"offer","sdp":7}`,
		`{"type":"offer","sdp":"v=0"}{"type":"answer","sdp":"v=0"}`,
	}
	for _, s := range append(fuzzJSEPSeeds, hostile...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseJSEP(b)
		if err != nil {
			var ie *inputError
			if !errors.As(err, &ie) || j != nil {
				t.Fatalf("ParseJSEP = %+v, %v", j, err)
			}
			return
		}
		if j == nil {
			if len(b) != 0 {
				t.Fatalf("%q parsed as no jsep", b)
			}
			return
		}
		if j.Type != "offer" && j.Type != "answer" {
			t.Fatalf("type %q accepted", j.Type)
		}
		if len(j.SDP) > MaxSDPBytes {
			t.Fatalf("sdp of %d bytes accepted", len(j.SDP))
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %q accepted", b)
		}
	})
}

// FuzzServerMessage sends an arbitrary body and jsep to one of several
// handles (unjoined, publisher, subscriber) and checks that exactly one
// well-formed response comes back, every push is well-formed, and a
// refused message changes no state.
func FuzzServerMessage(f *testing.F) {
	for i, s := range fuzzMessageSeeds {
		f.Add([]byte(s), []byte(fuzzJSEPSeeds[i%len(fuzzJSEPSeeds)]), uint8(i))
	}
	for i, s := range hostileMessageSeeds() {
		f.Add([]byte(s), []byte(`{"type":"offer","sdp":"v=0"}`), uint8(i))
	}
	f.Fuzz(serverMessage)
}

// fuzzServer is a server after FuzzServerMessage's setup: session 1
// unjoined, 2 and 3 publishers a and b, 4 a subscriber of a.
type fuzzServer struct {
	gw    *fakeGateway
	s     *Server
	state string // the admin summary after the setup
}

// fuzzServers holds one set-up server per option set. A refused message
// must change no state (which each input checks), so the next input can
// start from the same server; after any other outcome the server is
// thrown away. Setting one up is most of an input's cost.
var fuzzServers = map[uint8]*fuzzServer{}

func newFuzzServer(t *testing.T, options uint8) *fuzzServer {
	gw := newFakeGateway()
	opts := Options{Workers: 1, Negotiator: fakeNegotiator{}}
	if options&8 != 0 {
		opts.MaxRoomSize = 2
	}
	if options&16 != 0 {
		opts.Verify = testVerify
	}
	s := NewServer(gw, opts)
	for id := SessionID(1); id <= 4; id++ {
		if err := s.CreateSession(id); err != nil {
			t.Fatal(err)
		}
	}
	s.HandleMessage(2, "s1", nil, []byte(`{"type":"offer","sdp":"oa"}`))
	s.HandleMessage(2, "s2", []byte(`{"kind":"join","room_id":"r","user_id":"a","token":"join","subscribe":{"notifications":true,"data":true}}`), nil)
	s.HandleMessage(3, "s3", []byte(`{"kind":"join","room_id":"r","user_id":"b","token":"join","subscribe":{"notifications":true,"data":true}}`), nil)
	s.HandleMessage(4, "s4", []byte(`{"kind":"join","room_id":"r","user_id":"c","token":"join","subscribe":{"notifications":true,"media":"a"}}`), nil)
	gw.waitResponse(t, 4, "s4")
	s.settle()
	gw.clearPushes()
	return &fuzzServer{gw: gw, s: s, state: string(mustJSON(s.stateSummary()))}
}

// serverMessage is FuzzServerMessage's check of one input.
func serverMessage(t *testing.T, body, jsep []byte, which uint8) {
	options := which & 24
	fs := fuzzServers[options]
	if fs == nil {
		fs = newFuzzServer(t, options)
	}
	delete(fuzzServers, options) // back only if this input leaves it as it was
	gw, s := fs.gw, fs.s
	id := SessionID(which%4) + 1
	s.HandleMessage(id, "fuzz", body, jsep)
	gw.waitResponse(t, id, "fuzz")
	s.settle()
	rs := gw.findResponses(id, "fuzz")
	if len(rs) != 1 {
		t.Fatalf("%d responses, want 1: %+v", len(rs), rs)
	}
	r := rs[0]
	if _, ok := r.Body["success"].(bool); !ok {
		t.Fatalf("response without boolean success: %s", r.RawBody)
	}
	refused := r.Body["success"] == false
	if refused {
		e, _ := r.Body["error"].(map[string]any)
		if msg, _ := e["msg"].(string); msg == "" || len(r.Body) != 2 || r.RawJSEP != "" {
			t.Fatalf("bad error response: %s %s", r.RawBody, r.RawJSEP)
		}
	}
	pushes := gw.allPushes()
	for _, p := range pushes {
		if p.JSEP != nil {
			typ, _ := p.JSEP["type"].(string)
			_, hasSDP := p.JSEP["sdp"].(string)
			if typ != "offer" && typ != "answer" || !hasSDP || len(p.JSEP) != 2 {
				t.Fatalf("bad jsep pushed: %s", p.RawJSEP)
			}
		}
		if p.Txn != "" {
			if _, ok := p.Body["success"].(bool); !ok {
				t.Fatalf("response without boolean success: %s", p.RawBody)
			}
		} else if _, ok := p.Body["event"].(string); !ok && p.RawBody != `{}` {
			t.Fatalf("bad event: %s", p.RawBody)
		}
	}
	gw.checkInvariants(t)
	if refused {
		if got := string(mustJSON(s.stateSummary())); got != fs.state {
			t.Fatalf("refused %q changed the state: %s -> %s", body, fs.state, got)
		}
		if len(pushes) == 1 {
			gw.clearPushes()
			fuzzServers[options] = fs
			return
		}
	}
	s.Destroy() // queued messages are dropped, not handled
}
