#!/usr/bin/env node
// Browser test of our NAF adapter (../../adapter) through real Janus and
// janus.plugin.sfu, in headless Chromium (see README.md):
//   mixed:       4 pages with our adapter + 1 with naf-janus-adapter in one
//                room; on a server without multistream our pages fall back
//                to classic subscriptions. Everyone sees, hears and gets
//                data from everyone.
//   multistream: 4 pages over ONE subscriber PeerConnection each; pause and
//                resume a stream (server relay counters show it); a page
//                leaves and a newcomer gets its recycled m-lines. SKIPPED
//                when the server does not support subscribe.streams.
// Run inside a scripts/netns.sh namespace (it re-executes itself inside
// SFU_NETNS when needed). Environment: SFU_NETNS (sfutest), SFU_PLUGIN,
// CHROMIUM, JANUS, JANUS_DEBUG, SFU_SCENARIOS (comma list), SFU_KEEP_LOGS,
// SFU_MEDIA_TIMEOUT_MS (180000).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HERE, NETNS_IP, ROOT, buildPage, ensureNamespace, freePort, launchPage, serveDir, sleep, startJanus, stopJanus, tap, waitFor } from "./harness.mjs";

const NETNS = process.env.SFU_NETNS || "sfutest";
ensureNamespace(NETNS, fileURLToPath(import.meta.url));

const PLUGIN = process.env.SFU_PLUGIN || path.join(ROOT, "libjanus_plugin_sfu.so");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const MEDIA_TIMEOUT = Number(process.env.SFU_MEDIA_TIMEOUT_MS || 180000);
const CRASH_MARKERS = ["SIGSEGV", "Segmentation", "panic:", "fatal error:"];
const { ok, skip, diag } = Object.fromEntries(["ok", "skip", "diag"].map((k) => [k, tap[k].bind(tap)]));

// ---------------------------------------------------------------- page helpers

async function openClient(ctx, room, clientId, adapter = "janus-ms", extra = {}) {
  const q = new URLSearchParams({ server: ctx.wsUrl, room, clientId, adapter, ...extra });
  const p = await launchPage(ctx.chromium, { executablePath: CHROMIUM, logDir: ctx.logDir, tag: `${room}-${clientId}`, url: `http://127.0.0.1:${ctx.webPort}/index.html?${q}` });
  p.id = clientId;
  p.ours = adapter === "janus-ms";
  p.speaking = extra.tone === "1";
  p.connected = await waitFor(() => p.eval(() => window.sfuTest.state !== "init" && window.sfuTest.state !== "connecting" && window.sfuTest.state), 60000);
  return p;
}

const occupants = (p) => p.eval(() => window.sfuTest.occupants().sort());
const stats = (p) => p.eval(() => window.sfuTest.stats());
const streams = (p) => p.eval(() => window.sfuTest.streams());

async function dump(ctx, pages) {
  for (const p of pages) {
    try {
      const s = await p.eval(async () => ({ ...window.sfuTest, adapter: undefined, elements: undefined, stats: await window.sfuTest.stats(), streams: window.sfuTest.streams(), ids: window.sfuTest.ids() }));
      fs.writeFileSync(path.join(ctx.logDir, `${p.tag}.state.json`), JSON.stringify(s, null, 2));
    } catch (e) {
      diag(`dump ${p.tag}: ${e.message}`);
    }
  }
}

// Every page sees every other one as an occupant.
async function checkOccupants(pages, label) {
  for (const p of pages) {
    const want = pages.filter((o) => o !== p).map((o) => o.id).sort();
    const got = await waitFor(async () => {
      const o = await occupants(p);
      return JSON.stringify(o) === JSON.stringify(want) ? o : null;
    }, MEDIA_TIMEOUT);
    ok(!!got, `${label}: ${p.id} sees exactly ${want.join(",")}`, got || (await occupants(p).catch(String)));
  }
}

// Every page gets a message from every other on both data channels.
async function checkData(pages, label) {
  const missing = async (p) =>
    p.eval(
      (peers) =>
        peers.flatMap((from) =>
          ["reliable", "unreliable"].filter((ch) => !window.sfuTest.received.some((m) => m.dataType === "t" && m.data.from === from && m.data.channel === ch)).map((ch) => `${from}/${ch}`)
        ),
      pages.filter((o) => o !== p).map((o) => o.id)
    );
  let left = {};
  for (let seq = 0; seq < 20; seq++) {
    for (const p of pages) for (const o of pages) if (o !== p) await p.eval(([to, seq]) => window.sfuTest.send(to, seq), [o.id, seq]).catch(() => {});
    await sleep(700);
    left = {};
    for (const p of pages) left[p.id] = await missing(p).catch((e) => [String(e)]);
    if (Object.values(left).every((l) => l.length === 0)) break;
  }
  for (const p of pages) ok(left[p.id].length === 0, `${label}: ${p.id} got reliable and unreliable data from every other page`, left[p.id]);
}

// mediaFlowing: for page p, every peer's audio bytes and video frames are
// above 0 and grow over 3 s; our adapter's getMediaStream streams hold one
// track of each kind.
async function checkMedia(p, peers, label) {
  const ready = (s) => peers.every((id) => s[id] && s[id].audio && s[id].audio.bytesReceived > 0 && s[id].video && s[id].video.framesDecoded > 0);
  const first = (await waitFor(async () => {
    const s = await stats(p);
    return ready(s) ? s : null;
  }, MEDIA_TIMEOUT)) || (await stats(p).catch(() => ({})));
  await sleep(3000);
  const second = await stats(p).catch(() => ({}));
  for (const id of peers) {
    const a1 = first[id]?.audio, a2 = second[id]?.audio, v1 = first[id]?.video, v2 = second[id]?.video;
    const good = a1 && a2 && v1 && v2 && a1.bytesReceived > 0 && a2.bytesReceived > a1.bytesReceived && v1.framesDecoded > 0 && v2.framesDecoded > v1.framesDecoded;
    ok(!!good, `${label}: ${p.id} decodes ${id}'s video (${v1?.framesDecoded}→${v2?.framesDecoded} frames) and receives its audio (${a1?.bytesReceived}→${a2?.bytesReceived} B)`, good ? undefined : { first: first[id], second: second[id] });
    if (p.ours) {
      const t = second[id]?.streamTracks;
      ok(!!t && t.audio === 1 && t.video === 1, `${label}: ${p.id}: getMediaStream(${id}, audio|video) hold one track each`, t);
    }
  }
}

// checkTalking: every speaking page (a steady tone, page ?tone=1) sent the
// RFC 6464 audio-level extension and the plugin's answer kept it, and
// every page on our adapter gets talking events for it (the speaker's own
// included, docs/protocol.md 11.4). The plugin sends changes only, and the
// speakers started before the last page joined: they fall silent for a few
// windows (audio_active_ms, 1 s) and speak again; every page must see
// them start. Silent pages (Chromium's fake microphone: a 20 ms beep now
// and then) are only reported.
async function checkTalking(pages, label) {
  const ours = pages.filter((p) => p.ours);
  const speakers = pages.filter((p) => p.speaking);
  for (const p of pages) {
    const x = await p.eval(() => window.sfuTest.extmaps()).catch(String);
    ok(!!x && x.offer === true && x.answer === true, `${label}: ${p.id}'s publisher offer carries ssrc-audio-level and the plugin's answer keeps it`, x);
  }
  for (const o of pages.filter((p) => !p.speaking)) {
    const level = await o.eval(() => window.sfuTest.sentAudioLevel()).catch(() => null);
    const saw = [];
    for (const p of ours) if (await p.eval((id) => window.sfuTest.talking.some((e) => e.id === id && e.talking), o.id)) saw.push(p.id);
    diag(`${label}: ${o.id} sends the fake microphone (audioLevel ${level}); seen talking by ${saw.join(",") || "nobody"}`);
  }
  if (speakers.length === 0) return;
  for (const o of speakers) await o.eval(() => window.sfuTest.speak(false));
  await sleep(4000);
  const mark = {};
  for (const p of ours) mark[p.id] = await p.eval(() => window.sfuTest.talking.length);
  for (const o of speakers) await o.eval(() => window.sfuTest.speak(true));
  for (const o of speakers) {
    const level = await o.eval(() => window.sfuTest.sentAudioLevel()).catch(() => null);
    for (const p of ours) {
      const seen = await waitFor(() => p.eval(([id, from]) => window.sfuTest.talking.slice(from).find((e) => e.id === id && e.talking), [o.id, mark[p.id]]), 30000);
      ok(!!seen, `${label}: ${p.id} got a talking event for ${o.id} (a tone, sent audioLevel ${level?.toFixed(2)})`, await p.eval(() => window.sfuTest.talking).catch(String));
    }
  }
}

// ---------------------------------------------------------------- scenarios

// mixed: 4 of ours + 1 naf-janus-adapter page. Our pages use whatever the
// server offers: today classic (the fallback), multistream once supported.
async function scenarioMixed(ctx) {
  const room = `mixed-${process.pid}`;
  const pages = [];
  const label = "mixed";
  try {
    // naf-janus-adapter first: its 15 s webrtcup wait is the most fragile
    // on a loaded machine, and this way it subscribes to one newcomer at a time.
    pages.push(await openClient(ctx, room, "naf5", "janus"));
    for (const id of ["ours1", "ours2", "ours3", "ours4"]) pages.push(await openClient(ctx, room, id, "janus-ms", { tone: "1" }));
    for (const p of pages) ok(p.connected === "connected", `${label}: ${p.id} connected`, await p.eval(() => window.sfuTest.error).catch(String));
    const modes = await Promise.all(pages.filter((p) => p.ours).map((p) => p.eval(() => ({ mode: window.sfuTest.mode, reason: window.sfuTest.modeReason }))));
    ctx.serverMode = modes[0].mode;
    diag(`our pages' subscription mode: ${modes[0].mode} (${modes[0].reason})`);
    ok(modes.every((m) => m.mode === modes[0].mode && (m.mode === "classic" || m.mode === "multistream")), `${label}: our pages agree on the subscription mode`, modes);
    if (ctx.serverMode === "classic") {
      ok(modes.every((m) => /ignored subscribe\.streams|refused subscribe\.streams/.test(m.reason)), `${label}: our pages fell back to classic because the server does not do multistream`, modes);
    }
    await checkOccupants(pages, label);
    for (const p of pages) {
      const want = p.ours && ctx.serverMode === "multistream" ? 1 : pages.length - 1;
      const n = await p.eval(() => window.sfuTest.subscriberPeerConnections());
      ok(n === want, `${label}: ${p.id} has ${want} subscriber PeerConnection(s)`, n);
    }
    await checkData(pages, label);
    for (const p of pages) await checkMedia(p, pages.filter((o) => o !== p).map((o) => o.id), label);
    await checkTalking(pages, label);
  } finally {
    await dump(ctx, pages);
    for (const p of pages) await p.close();
  }
}

// relayRates samples a handle's relay counters over ms.
async function relayRates(janus, ids, ms) {
  const a = (await janus.handleInfo(ids.session, ids.publisher)).relay || {};
  await sleep(ms);
  const b = (await janus.handleInfo(ids.session, ids.publisher)).relay || {};
  return { rtpIn: (b.rtp_in || 0) - (a.rtp_in || 0), rtpOut: (b.rtp_out || 0) - (a.rtp_out || 0), raw: b };
}

async function videoFrames(p, of) {
  const s = await stats(p);
  return s[of]?.video?.framesDecoded ?? null;
}

async function scenarioMultistream(ctx) {
  const room = `ms-${process.pid}`;
  const label = "multistream";
  const pages = [];
  try {
    pages.push(await openClient(ctx, room, "ms1", "janus-ms", { tone: "1" }));
    const mode = await pages[0].eval(() => ({ mode: window.sfuTest.mode, reason: window.sfuTest.modeReason }));
    if (mode.mode !== "multistream") {
      skip(`${label}: 4 pages over one subscriber PeerConnection each, pause/resume, m-line recycling`, `the server does not support multistream subscriptions (${mode.reason})`);
      return;
    }
    for (const id of ["ms2", "ms3", "ms4"]) pages.push(await openClient(ctx, room, id, "janus-ms", { tone: "1" }));
    const [p1, p2, p3] = pages;
    for (const p of pages) ok(p.connected === "connected", `${label}: ${p.id} connected`, await p.eval(() => window.sfuTest.error).catch(String));
    await checkOccupants(pages, label);
    for (const p of pages) {
      const n = await p.eval(() => window.sfuTest.subscriberPeerConnections());
      ok(n === 1, `${label}: ${p.id} has one subscriber PeerConnection`, n);
      const ids = await p.eval(() => window.sfuTest.ids());
      const handles = await ctx.janus.listHandles(ids.session);
      ok(handles.length === 2, `${label}: ${p.id}'s Janus session has 2 handles (publisher + subscriber)`, handles);
    }
    for (const p of pages) await checkMedia(p, pages.filter((o) => o !== p).map((o) => o.id), label);
    await checkTalking(pages, label);

    // Pause ms2's video on ms1: ms1's frames from ms2 stop, ms3's do not,
    // and ms2's publisher relays fewer copies per packet in.
    const ids2 = await p2.eval(() => window.sfuTest.ids());
    const before = await relayRates(ctx.janus, ids2, 3000);
    const r = await p1.eval(() => window.sfuTest.pause("ms2", "video", true));
    ok(r.serverSide === true, `${label}: setStreamPaused is done by the server`, r);
    await sleep(1500);
    const f1 = await videoFrames(p1, "ms2");
    const g1 = await videoFrames(p3, "ms2");
    const during = await relayRates(ctx.janus, ids2, 3000);
    const f2 = await videoFrames(p1, "ms2");
    const g2 = await videoFrames(p3, "ms2");
    ok(f2 !== null && f2 - f1 <= 2, `${label}: ms1 decodes no more of ms2's video while paused (${f1}→${f2})`);
    ok(g2 > g1, `${label}: ms3 still decodes ms2's video (${g1}→${g2})`);
    const k1 = before.rtpOut / Math.max(before.rtpIn, 1);
    const k2 = during.rtpOut / Math.max(during.rtpIn, 1);
    diag(`ms2 publisher relay: ${before.rtpOut}/${before.rtpIn} copies/packets in 3 s before the pause (${k1.toFixed(2)} per packet), ${during.rtpOut}/${during.rtpIn} during it (${k2.toFixed(2)})`);
    ok(before.rtpIn > 0 && k2 < k1 - 0.1, `${label}: the server relays fewer copies of ms2's packets while ms1 pauses its video (handle_info relay: ${k1.toFixed(2)} → ${k2.toFixed(2)} per packet in)`, { before, during });
    await p1.eval(() => window.sfuTest.pause("ms2", "video", false));
    const resumed = await waitFor(async () => {
      const f = await videoFrames(p1, "ms2");
      return f !== null && f > f2 + 5 ? f : null;
    }, 15000);
    ok(!!resumed, `${label}: ms1 decodes ms2's video again after resuming (${f2}→${resumed})`);

    // ms2 leaves: its m-lines stay, inactive; a newcomer gets them.
    const table1 = await streams(p1);
    const mids2 = Object.fromEntries(table1.filter((e) => e.active && e.userId === "ms2").map((e) => [e.kind, e.mid]));
    ok(mids2.audio && mids2.video, `${label}: ms1's stream table maps ms2's audio and video`, table1);
    await p2.eval(() => window.sfuTest.leave());
    await p2.close();
    pages.splice(pages.indexOf(p2), 1);
    const gone = await waitFor(async () => {
      const t = await streams(p1);
      return t.some((e) => e.active && e.userId === "ms2") ? null : t;
    }, 30000);
    ok(!!gone && gone.length === table1.length && [mids2.audio, mids2.video].every((m) => gone.find((e) => e.mid === m && !e.active)), `${label}: after ms2 leaves, ms1's m-lines ${mids2.audio},${mids2.video} stay, inactive (${table1.length} m-lines)`, gone);
    pages.push(await openClient(ctx, room, "ms5"));
    const recycled = await waitFor(async () => {
      const t = await streams(p1);
      return t.some((e) => e.active && e.userId === "ms5" && e.kind === "video") && t.some((e) => e.active && e.userId === "ms5" && e.kind === "audio") ? t : null;
    }, 60000);
    const mids5 = recycled ? Object.fromEntries(recycled.filter((e) => e.active && e.userId === "ms5").map((e) => [e.kind, e.mid])) : {};
    ok(!!recycled && mids5.audio === mids2.audio && mids5.video === mids2.video && recycled.length === table1.length, `${label}: newcomer ms5 gets ms2's recycled m-lines on ms1 (audio ${mids5.audio}, video ${mids5.video}; ${recycled?.length} m-lines)`, recycled);
    await checkMedia(p1, ["ms5"], label);
  } finally {
    await dump(ctx, pages);
    for (const p of pages) await p.close();
  }
}

const SCENARIOS = { mixed: scenarioMixed, multistream: scenarioMultistream };

// ---------------------------------------------------------------- main

async function main() {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "sfu-adapter-"));
  console.log("TAP version 13");
  diag(`logs: ${logDir}`);
  let janus = null;
  let server = null;
  process.on("exit", () => janus && !janus.status && process.kill(janus.proc.pid, "SIGKILL"));
  try {
    if (!ok(fs.existsSync(PLUGIN), `plugin present (${PLUGIN})`, "run `make build`")) return;
    if (!ok(fs.existsSync(CHROMIUM), `chromium present (${CHROMIUM})`)) return;
    await buildPage();
    ok(true, "page bundled (our adapter from ../../adapter/src + naf-janus-adapter)");
    janus = await startJanus({ logDir, plugin: PLUGIN, janus: process.env.JANUS || "janus", debugLevel: process.env.JANUS_DEBUG || "4" });
    const plug = janus.info.plugins && janus.info.plugins["janus.plugin.sfu"];
    if (!ok(!!plug, `janus ${janus.info.version_string} up with janus.plugin.sfu`, Object.keys(janus.info.plugins || {}))) return;
    const webPort = await freePort();
    server = await serveDir(path.join(HERE, "page"), webPort);
    const { chromium } = await import("playwright-core");
    const ctx = { chromium, janus, logDir, webPort, wsUrl: `ws://${NETNS_IP}:${janus.wsPort}/` };
    const only = process.env.SFU_SCENARIOS ? process.env.SFU_SCENARIOS.split(",") : Object.keys(SCENARIOS);
    for (const name of only) {
      diag(`scenario ${name}`);
      try {
        await SCENARIOS[name](ctx);
      } catch (e) {
        ok(false, `${name}: harness: ${e.message}`, e.stack);
      }
    }
  } catch (e) {
    ok(false, `harness: ${e.message}`, e.stack);
  } finally {
    if (server) await new Promise((r) => server.close(r));
    if (janus) {
      const st = await stopJanus(janus);
      ok(!st.diedEarly, "janus was still running at the end", st.status);
      ok(!st.hung && st.status && st.status.code === 0, `janus exited cleanly after SIGINT (${JSON.stringify(st.status)})`);
      const log = fs.readFileSync(janus.logPath, "utf8");
      const found = CRASH_MARKERS.filter((m) => log.includes(m));
      ok(found.length === 0, "janus log has no crash markers", found);
    }
    tap.end();
    if (tap.failed > 0 || process.env.SFU_KEEP_LOGS) diag(`logs kept in ${logDir}`);
    else fs.rmSync(logDir, { recursive: true, force: true });
    process.exitCode = tap.failed > 0 ? 1 : 0;
  }
}

// ^C / SIGTERM: exit now; the exit hook kills Janus, and the browsers go
// with playwright's pipe.
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
main();
