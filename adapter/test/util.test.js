import assert from "node:assert/strict";
import { test } from "node:test";
import { ClockSync, loopIndex, mungeOpusFmtp } from "../src/util.js";

test("loopIndex: numeric ids modulo loops (as naf-janus-adapter), others hashed stably", () => {
  assert.equal(loopIndex("1234567", 4), 1234567 % 4);
  assert.equal(loopIndex("98765432109876543210", 7), Number(98765432109876543210n % 7n));
  assert.equal(loopIndex("alice", 4), loopIndex("alice", 4));
  assert.ok(loopIndex("alice", 4) >= 0 && loopIndex("alice", 4) < 4);
  assert.equal(loopIndex("1", 0), undefined);
  assert.equal(loopIndex(null, 4), undefined);
});

test("mungeOpusFmtp sets DTX and mono on Opus only", () => {
  const sdp = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 x=1\r\n";
  const out = mungeOpusFmtp(sdp);
  assert.match(out, /a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;stereo=0;sprop-stereo=0\r\n/);
  assert.match(out, /a=fmtp:96 x=1\r\n/);
});

test("ClockSync averages the last samples", () => {
  const c = new ClockSync(2);
  // Server 10 s ahead, zero round trip: offset = 10000 + 500 (Date's second precision).
  assert.equal(c.add(1000, 11000, 1000), 10500);
  c.add(2000, 12000, 2000);
  c.add(3000, 15000, 3000);
  assert.equal(c.offset, (10500 + 12500) / 2);
  assert.equal(c.settled(), true);
});
