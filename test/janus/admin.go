package janus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// AdminSecret is the admin_secret of the Janus configs the tests write
// (scripts/janus-config.sh writes the same).
const AdminSecret = "janusoverlord"

// AdminPost sends one admin API request (path "" for the admin root, or
// "/SESSION/HANDLE") with the secret and a transaction filled in, and
// returns the raw answer. Requires Options.Admin.
func (s *Server) AdminPost(path string, req map[string]any) ([]byte, error) {
	if s.AdminURL == "" {
		return nil, fmt.Errorf("janus: admin API not enabled (Options.Admin)")
	}
	body := map[string]any{"admin_secret": AdminSecret, "transaction": "admin"}
	for k, v := range req {
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Post(s.AdminURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// MessagePlugin sends request to the plugin through the admin API's
// message_plugin and returns the plugin's "response" object.
func (s *Server) MessagePlugin(request any) (json.RawMessage, error) {
	raw, err := s.AdminPost("", map[string]any{"janus": "message_plugin", "plugin": PluginPackage, "request": request})
	if err != nil {
		return nil, err
	}
	var out struct {
		Janus    string          `json:"janus"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Janus != "success" {
		return nil, fmt.Errorf("janus: message_plugin: %v: %s", err, raw)
	}
	return out.Response, nil
}

// HandleInfo returns the plugin_specific part of handle_info (the plugin's
// query_session answer) for a handle.
func (s *Server) HandleInfo(session, handle uint64) (json.RawMessage, error) {
	raw, err := s.AdminPost(fmt.Sprintf("/%d/%d", session, handle), map[string]any{"janus": "handle_info"})
	if err != nil {
		return nil, err
	}
	var out struct {
		Info struct {
			PluginSpecific json.RawMessage `json:"plugin_specific"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Info.PluginSpecific == nil {
		return nil, fmt.Errorf("janus: handle_info: %v: %s", err, raw)
	}
	return out.Info.PluginSpecific, nil
}
