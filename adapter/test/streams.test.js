import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamTable, configureBody, foldConfigure, normalizeEntry } from "../src/streams.js";

const s = (mid, user_id, kind, active = true, extra = {}) => ({ mid, user_id, kind, active, ...extra });
const ids = (list) => list.map((e) => `${e.mid}:${e.userId}/${e.kind}`).sort();

test("a streams list maps mids to users and kinds", () => {
  const t = new StreamTable();
  const d = t.apply([s("0", "alice", "audio"), s("1", "alice", "video"), s("2", "bob", "audio")]);
  assert.deepEqual(ids(d.added), ["0:alice/audio", "1:alice/video", "2:bob/audio"]);
  assert.deepEqual(d.removed, []);
  assert.equal(t.midFor("alice", "video"), "1");
  assert.equal(t.midFor("bob", "video"), null);
  assert.deepEqual(t.midsOf("alice"), { audio: ["0"], video: ["1"] });
  assert.deepEqual([...t.users()].sort(), ["alice", "bob"]);
});

test("the same list again changes nothing", () => {
  const t = new StreamTable();
  const list = [s("0", "alice", "audio"), s("1", "alice", "video")];
  t.apply(list);
  const d = t.apply(structuredClone(list));
  assert.deepEqual(d, { added: [], removed: [], repause: [] });
  assert.deepEqual(t.anomalies, []);
});

test("a user leaving: inactive m-lines stay listed, their streams are removed", () => {
  const t = new StreamTable();
  t.apply([s("0", "alice", "audio"), s("1", "alice", "video"), s("2", "bob", "audio"), s("3", "bob", "video")]);
  const d = t.apply([s("0", "", "audio", false), s("1", "", "video", false), s("2", "bob", "audio"), s("3", "bob", "video")]);
  assert.deepEqual(ids(d.removed), ["0:alice/audio", "1:alice/video"]);
  assert.deepEqual(d.added, []);
  assert.equal(t.midFor("alice", "audio"), null);
  assert.equal(t.size(), 4);
  assert.deepEqual([...t.users()], ["bob"]);
});

test("a recycled inactive mid moves to the newcomer", () => {
  const t = new StreamTable();
  t.apply([s("0", "alice", "audio"), s("1", "alice", "video")]);
  t.apply([s("0", "", "audio", false), s("1", "", "video", false)]);
  const d = t.apply([s("0", "carol", "audio"), s("1", "carol", "video")]);
  assert.deepEqual(ids(d.added), ["0:carol/audio", "1:carol/video"]);
  assert.deepEqual(d.removed, []);
  assert.equal(t.midFor("carol", "video"), "1");
});

test("a mid handed straight from one user to another is a remove and an add", () => {
  const t = new StreamTable();
  t.apply([s("0", "alice", "audio")]);
  const d = t.apply([s("0", "carol", "audio")]);
  assert.deepEqual(ids(d.removed), ["0:alice/audio"]);
  assert.deepEqual(ids(d.added), ["0:carol/audio"]);
});

test("entries with user_id empty count as inactive; junk entries are skipped", () => {
  assert.equal(normalizeEntry(s("0", "", "audio", true)).active, false);
  assert.equal(normalizeEntry({ mid: 3, user_id: "a", kind: "video" }).mid, "3");
  assert.equal(normalizeEntry({ mid: "4", user_id: "a", kind: "application" }), null);
  assert.equal(normalizeEntry(null), null);
  assert.equal(normalizeEntry({ user_id: "a", kind: "audio" }), null);
  const t = new StreamTable();
  t.apply("not a list");
  assert.equal(t.size(), 0);
});

test("protocol breaks (a mid vanishing or changing kind) are recorded", () => {
  const t = new StreamTable();
  t.apply([s("0", "alice", "audio"), s("1", "alice", "video")]);
  t.apply([s("0", "alice", "video")]);
  assert.equal(t.anomalies.length, 2);
  assert.match(t.anomalies.join(";"), /mid 1 disappeared/);
  assert.match(t.anomalies.join(";"), /mid 0 changed kind audio -> video/);
});

test("a pause wish sticks to the user: re-sent when the stream moves to another mid", () => {
  const t = new StreamTable();
  assert.equal(t.setWanted("bob", "video", true), null, "no stream yet: nothing to send");
  let d = t.apply([s("0", "bob", "audio"), s("1", "bob", "video")]);
  assert.deepEqual(d.repause, [{ mid: "1", send: false }]);
  // The server reports it paused: no repeat.
  d = t.apply([s("0", "bob", "audio"), s("1", "bob", "video", true, { paused: true })]);
  assert.deepEqual(d.repause, []);
  // Bob reconnects and gets new mids: the wish follows him.
  d = t.apply([s("0", "", "audio", false), s("1", "", "video", false), s("2", "bob", "audio"), s("3", "bob", "video")]);
  assert.deepEqual(d.repause, [{ mid: "3", send: false }]);
  assert.deepEqual(t.setWanted("bob", "video", false), { mid: "3", send: true });
  assert.equal(t.isWantedPaused("bob", "video"), false);
  t.setWanted("bob", "audio", true);
  t.forgetUser("bob");
  assert.equal(t.isWantedPaused("bob", "audio"), false);
});

test("applyPaused takes the paused flags of a configure response", () => {
  const t = new StreamTable();
  t.apply([s("0", "bob", "audio"), s("1", "bob", "video")]);
  t.applyPaused([s("1", "bob", "video", true, { paused: true }), s("9", "x", "audio")]);
  assert.deepEqual(t.entries().map((e) => e.paused), [false, true]);
  assert.equal(t.size(), 2);
});

test("configure requests fold: the later wish per mid wins", () => {
  const m = foldConfigure(foldConfigure({ 1: false }, { 3: true }), { 1: true });
  assert.deepEqual(configureBody(m), { kind: "configure", streams: [{ mid: "1", send: true }, { mid: "3", send: true }] });
});
