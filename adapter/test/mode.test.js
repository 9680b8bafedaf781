import assert from "node:assert/strict";
import { test } from "node:test";
import { subscriptionMode } from "../src/mode.js";

test("a join response with a streams list: multistream", () => {
  assert.equal(subscriptionMode({ success: true, response: { users: { r: [] }, streams: [] } }).mode, "multistream");
});

test("a join response without streams (a server that ignores the field): classic", () => {
  const d = subscriptionMode({ success: true, response: { users: { r: ["a"] } } });
  assert.equal(d.mode, "classic");
  assert.match(d.reason, /ignored/);
});

test("Janus 0.x's refusal, malformed or unknown-field errors: classic", () => {
  for (const msg of ["Multistream subscriptions need Janus 1.x.", 'Malformed join: unknown field "subscribe.streams".', "Unknown message kind \"x\".", "something else"]) {
    assert.equal(subscriptionMode({ success: false, error: { msg } }).mode, "classic", msg);
  }
  assert.equal(subscriptionMode(null).mode, "classic");
  assert.equal(subscriptionMode({ success: false }).mode, "classic");
});

test("refusals classic subscriptions would get too (token, full): error", () => {
  for (const msg of ["Rejecting join with invalid token!", "Rejecting anonymous join!", "Room is full.", "Server is full."]) {
    assert.equal(subscriptionMode({ success: false, error: { msg } }).mode, "error", msg);
  }
});

test("the cluster's wrong_host: error, with the owner to follow", () => {
  const d = subscriptionMode({ success: false, error: { msg: "Room is served by another host.", code: "wrong_host", owner: "ws://h2/janus" } });
  assert.deepEqual(d, { mode: "error", reason: "Room is served by another host.", code: "wrong_host", owner: "ws://h2/janus" });
});
