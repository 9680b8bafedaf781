package cjanus

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/janus-sfu-go/janus-plugin-sfu/cjanus/ctest"
	"github.com/janus-sfu-go/janus-plugin-sfu/sfu"
)

// dataCounts is how many data messages each handle has been relayed.
func dataCounts(hs []unsafe.Pointer) []int64 {
	out := make([]int64, len(hs))
	for i, h := range hs {
		out[i] = ctest.Count(h, ctest.Data)
	}
	return out
}

// TestDataGroup: a group's senders reach every member but themselves; a
// list of its own overrides the group; retiring drops a member's refs and
// the last sender's retirement frees the group.
func TestDataGroup(t *testing.T) {
	for _, abi := range []int{0, 1} {
		f := newFixture(t, abi)
		var ids []sfu.SessionID
		var hs []unsafe.Pointer
		for range 4 {
			id, h := f.session()
			ids, hs = append(ids, id), append(hs, h)
		}
		const grp = sfu.GroupID(7)
		var ups []sfu.RouteUpdate
		for _, id := range ids {
			ups = append(ups, sfu.RouteUpdate{Session: id, Routes: sfu.Routes{DataGroup: grp}})
		}
		// Session 3 has a list of its own (a block): only to session 0.
		ups[3].Routes = sfu.Routes{Data: ids[:1]}
		f.g.Publish(ups, []sfu.GroupUpdate{{Group: grp, Members: ids}}, nil)
		f.g.reclaimNow()

		ctest.DataFrom(hs[0])
		if got := dataCounts(hs); fmt.Sprint(got) != "[0 1 1 1]" {
			t.Fatalf("abi %d: data from 0 reached %v, want [0 1 1 1] (never the sender)", abi, got)
		}
		ctest.DataFrom(hs[3])
		if got := dataCounts(hs); fmt.Sprint(got) != "[1 1 1 1]" {
			t.Fatalf("abi %d: data from 3 (own list) reached %v, want [1 1 1 1]", abi, got)
		}
		if st, _ := f.g.Stats(ids[0]); st.DataIn != 1 || st.DataOut != 3 {
			t.Fatalf("abi %d: sender stats %+v, want 1 in, 3 out", abi, st)
		}

		// Session 1 leaves: out of the group first, then retired.
		f.g.Publish(nil, []sfu.GroupUpdate{{Group: grp, Members: []sfu.SessionID{ids[0], ids[2], ids[3]}}}, ids[1:2])
		f.g.reclaimNow()
		if got := ctest.Count(hs[1], ctest.RefCount); got != 1 {
			t.Fatalf("abi %d: retired group member still holds %d refs", abi, got)
		}
		ctest.DataFrom(hs[2])
		if got := dataCounts(hs); fmt.Sprint(got) != "[2 1 1 2]" {
			t.Fatalf("abi %d: data from 2 after 1 left reached %v, want [2 1 1 2]", abi, got)
		}

		// Everyone leaves: the group goes with its last sender.
		f.g.Publish(nil, []sfu.GroupUpdate{{Group: grp}}, []sfu.SessionID{ids[0], ids[2], ids[3]})
		f.g.reclaimNow()
		f.g.publishMu.Lock()
		left := len(f.g.groups)
		f.g.publishMu.Unlock()
		if left != 0 {
			t.Fatalf("abi %d: %d groups left after their last member and sender went", abi, left)
		}
	}
}

// TestDataThroughServer: the switchboard and the relay together. A
// sender never gets its own data, a block keeps data apart both ways,
// and unblocking restores it.
func TestDataThroughServer(t *testing.T) {
	ctest.Install(1)
	g := newGateway()
	t.Cleanup(g.close)
	sg := signalling{Gateway: g, responses: make(chan string, 1)}
	s := sfu.NewServer(sg, sfu.Options{Negotiator: noNegotiator{}, Workers: 1})
	t.Cleanup(s.Destroy)
	var hs []unsafe.Pointer
	var ids []sfu.SessionID
	send := func(i int, body string) {
		s.HandleMessage(ids[i], "t", []byte(body), nil)
		<-sg.responses
	}
	for i, u := range []string{"a", "b", "c", "d"} {
		h := ctest.NewHandle()
		id, err := g.attach(h)
		if err != nil {
			t.Fatal(err)
		}
		ctest.Init(h)
		ctest.ControlCall(h)
		if err := s.CreateSession(id); err != nil {
			t.Fatal(err)
		}
		hs, ids = append(hs, h), append(ids, id)
		send(i, `{"kind":"join","room_id":"r","user_id":"`+u+`","subscribe":{"notifications":true,"data":true}}`)
	}
	// each sends one message; want[i] is what each receiver gains.
	round := func(what string, want [][]int64) {
		t.Helper()
		for i := range hs {
			before := dataCounts(hs)
			ctest.DataFrom(hs[i])
			after := dataCounts(hs)
			got := make([]int64, len(hs))
			for j := range hs {
				got[j] = after[j] - before[j]
			}
			if fmt.Sprint(got) != fmt.Sprint(want[i]) {
				t.Errorf("%s: data from %d reached %v, want %v", what, i, got, want[i])
			}
		}
	}
	all := [][]int64{{0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, 0}}
	round("open room", all)
	send(2, `{"kind":"block","whom":"d"}`) // c blocks d
	round("c blocks d", [][]int64{{0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 0}, {1, 1, 0, 0}})
	send(2, `{"kind":"unblock","whom":"d"}`)
	round("unblocked", all)
	send(3, `{"kind":"block","whom":"a"}`) // d blocks a, then b leaves
	s.DestroySession(ids[1])
	for s.QuerySession(ids[1]) != nil && string(s.QuerySession(ids[1])) != "{}" {
	}
	g.reclaimNow()
	round("d blocks a, b gone", [][]int64{{0, 0, 1, 0}, {0, 0, 0, 0}, {1, 0, 0, 1}, {0, 0, 1, 0}})
}
