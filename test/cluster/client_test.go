package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/janus-sfu-go/janus-plugin-sfu/test/janus"
)

// user is one signalling client in a room: one Janus session over its own
// websocket, one plugin handle joined as a publisher with notifications
// and data (what naf-janus-adapter's publisher handle asks for).
type user struct {
	room, id string
	c        *janus.Client
	h        *janus.Handle
	url      string   // where it is connected
	met      []string // the users the join reported
	redirs   int      // wrong_host refusals followed to get there

	mu     sync.Mutex
	events []string // asynchronous plugin events since joining
}

// joinReply is the plugin's answer to a join.
type joinReply struct {
	Success  bool `json:"success"`
	Response struct {
		Users map[string][]string `json:"users"`
	} `json:"response"`
	Error *struct {
		Msg   string `json:"msg"`
		Code  string `json:"code"`
		Owner string `json:"owner"`
	} `json:"error"`
}

// errWrongHost carries a wrong_host refusal.
type errWrongHost struct{ owner string }

func (e *errWrongHost) Error() string { return "wrong_host: " + e.owner }

// joinAt connects to url and joins room as id once.
func joinAt(url, room, id string) (*user, error) {
	c, err := janus.DialWith(url, dialer)
	if err != nil {
		return nil, err
	}
	c.Timeout = 3 * time.Second
	fail := func(err error) (*user, error) { c.Close(); return nil, err }
	if err := c.CreateSession(); err != nil {
		return fail(err)
	}
	h, err := c.Attach(janus.PluginPackage)
	if err != nil {
		return fail(err)
	}
	ev, err := h.Message(map[string]any{"kind": "join", "room_id": room, "user_id": id,
		"subscribe": map[string]any{"notifications": true, "data": true}}, nil)
	if err != nil {
		return fail(err)
	}
	var r joinReply
	if err := ev.Decode(&r); err != nil {
		return fail(err)
	}
	if !r.Success {
		if r.Error != nil && r.Error.Code == "wrong_host" {
			return fail(&errWrongHost{r.Error.Owner})
		}
		return fail(fmt.Errorf("join refused: %s", ev.Data))
	}
	u := &user{room: room, id: id, c: c, h: h, url: url, met: r.Response.Users[room]}
	go u.collect()
	return u, nil
}

// collect keeps the handle's asynchronous events (join, leave, ...).
func (u *user) collect() {
	for ev := range u.h.Events() {
		var e struct {
			Event  string `json:"event"`
			UserID string `json:"user_id"`
		}
		_ = ev.Decode(&e)
		u.mu.Lock()
		u.events = append(u.events, e.Event+":"+e.UserID)
		u.mu.Unlock()
	}
}

func (u *user) takeEvents() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	ev := u.events
	u.events = nil
	return ev
}

func (u *user) alive() bool {
	select {
	case <-u.c.Done():
		return false
	default:
		return true
	}
}

// join joins room through the load balancer as a client that follows
// wrong_host refusals does: to the owner's URL (with the room appended),
// and back to the load balancer after a failure, until deadline.
func join(ctx context.Context, lbURL func(room string) string, room, id string) (*user, error) {
	redirs := 0
	var last error
	for attempt := 0; ; attempt++ {
		url := lbURL(room)
		for hop := 0; hop < 3; hop++ {
			u, err := joinAt(url, room, id)
			if err == nil {
				u.redirs = redirs
				return u, nil
			}
			last = err
			var wh *errWrongHost
			if !errors.As(err, &wh) {
				break
			}
			redirs++
			url = wh.owner + "&room=" + room
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("room %s user %s: %d attempts: %w (last: %v)", room, id, attempt+1, ctx.Err(), last)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// placementOf reads, through each host's admin API, which host serves the
// joined handles of each room: room -> host names.
func placementOf(hs []*host) (map[string][]string, error) {
	out := map[string][]string{}
	for _, h := range hs {
		if !h.srv.Running() {
			continue
		}
		rooms, err := h.rooms()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.name, err)
		}
		for r := range rooms {
			out[r] = append(out[r], h.name)
		}
	}
	return out, nil
}

// rooms lists the rooms this host serves and their users, from
// list_sessions, list_handles and each handle's handle_info.
func (h *host) rooms() (map[string][]string, error) {
	var sessions struct {
		Sessions []uint64 `json:"sessions"`
	}
	if err := h.admin("", "list_sessions", &sessions); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, s := range sessions.Sessions {
		var handles struct {
			Handles []uint64 `json:"handles"`
		}
		if err := h.admin(fmt.Sprintf("/%d", s), "list_handles", &handles); err != nil {
			continue // the session went meanwhile
		}
		for _, hd := range handles.Handles {
			raw, err := h.srv.HandleInfo(s, hd)
			if err != nil {
				continue
			}
			var info struct {
				Joined bool   `json:"joined"`
				Room   string `json:"room_id"`
				User   string `json:"user_id"`
			}
			if json.Unmarshal(raw, &info) == nil && info.Joined {
				out[info.Room] = append(out[info.Room], info.User)
			}
		}
	}
	for r := range out {
		// A user's subscriber handles are joined under its id too.
		slices.Sort(out[r])
		out[r] = slices.Compact(out[r])
	}
	return out, nil
}

func (h *host) admin(path, req string, v any) error {
	raw, err := h.srv.AdminPost(path, map[string]any{"janus": req})
	if err != nil {
		return err
	}
	if !strings.Contains(string(raw), `"success"`) {
		return fmt.Errorf("%s: %s", req, raw)
	}
	return json.Unmarshal(raw, v)
}
