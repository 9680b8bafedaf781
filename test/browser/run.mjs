#!/usr/bin/env node
// Browser end-to-end test: two headless Chromium pages using naf-janus-adapter
// (from npm, bundled with esbuild, no A-Frame) join one room through Janus's
// WebSocket transport and janus.plugin.sfu (../../libjanus_plugin_sfu.so).
//
// Run inside the scripts/netns.sh namespace (Janus skips loopback for ICE):
//   scripts/netns.sh up sfutest && ip netns exec sfutest node run.mjs
// When started outside a namespace that has 198.18.0.1 (e.g. `npm test`), it
// brings the namespace up and re-executes itself inside it (needs root).
//
// Environment:
//   SFU_NETNS        namespace name (default sfutest)
//   SFU_PLUGIN       plugin .so (default <repo>/libjanus_plugin_sfu.so)
//   CHROMIUM         browser binary (default /usr/bin/chromium)
//   JANUS            janus binary (default janus)
//   JANUS_DEBUG      Janus debug_level (default 4)
//   SFU_TIMEOUT_MS   occupant wait timeout (default 60000)
//   SFU_KEEP_LOGS    keep the log dir even when everything passes
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM_BASE_ARGS, FAKE_DEVICES, RAW_HOST_CANDIDATES } from "../chromium-flags.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const NETNS = process.env.SFU_NETNS || "sfutest";
const NETNS_IP = "198.18.0.1";
const PLUGIN = process.env.SFU_PLUGIN || path.join(ROOT, "libjanus_plugin_sfu.so");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const JANUS = process.env.JANUS || "janus";
const JANUS_DEBUG = process.env.JANUS_DEBUG || "4";
const OCCUPANT_TIMEOUT = Number(process.env.SFU_TIMEOUT_MS || 60000);
const CRASH_MARKERS = ["SIGSEGV", "Segmentation", "panic:", "fatal error:"];
const OUT = path.join(HERE, "out");

// ---------------------------------------------------------------- netns

function inNamespace() {
  return Object.values(os.networkInterfaces())
    .flat()
    .some((a) => a && a.address === NETNS_IP);
}

if (!inNamespace()) {
  if (process.env.SFU_BROWSER_REEXEC) {
    console.error(`run.mjs: still no ${NETNS_IP} after ip netns exec ${NETNS}; giving up`);
    process.exit(2);
  }
  console.log(`# not in a namespace with ${NETNS_IP}: scripts/netns.sh up ${NETNS}, then re-exec inside it`);
  const up = spawnSync(path.join(ROOT, "scripts/netns.sh"), ["up", NETNS], { stdio: "inherit" });
  if (up.status !== 0) process.exit(up.status ?? 2);
  const r = spawnSync("ip", ["netns", "exec", NETNS, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, SFU_BROWSER_REEXEC: "1" },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------- TAP-ish reporting

let passed = 0;
let failed = 0;
let n = 0;
function okRaw(cond, name, detail) {
  n++;
  if (cond) {
    passed++;
    console.log(`ok ${n} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    if (detail !== undefined) {
      const s = typeof detail === "string" ? detail : JSON.stringify(detail, null, 2);
      for (const line of s.split("\n")) console.log(`  # ${line}`);
    }
  }
  return cond;
}
function diag(s) {
  for (const line of String(s).split("\n")) console.log(`# ${line}`);
}

const ok = okRaw;

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitTcp(host, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise((resolve) => {
      const s = net.connect({ host, port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (up) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

function httpGetJson(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("error", reject);
    req.setTimeout(3000, () => req.destroy(new Error("timeout")));
  });
}

function tail(file, lines) {
  try {
    const all = fs.readFileSync(file, "utf8").trimEnd().split("\n");
    return all.slice(-lines).join("\n");
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
}

// ---------------------------------------------------------------- page bundle + static server

async function buildPage() {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [path.join(HERE, "page/src/main.js")],
    bundle: true,
    outfile: path.join(HERE, "page/dist/bundle.js"),
    platform: "browser",
    format: "iife",
    target: "chrome100",
    sourcemap: "inline",
    logLevel: "warning",
  });
}

const MIME = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json" };

function startStaticServer(port) {
  const root = path.join(HERE, "page");
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let p = decodeURIComponent(url.pathname);
    if (p === "/") p = "/index.html";
    const file = path.normalize(path.join(root, p));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, data) => {
      if (err) {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found");
        return;
      }
      // node adds a Date header; the adapter's updateTimeOffset() HEADs the page for it.
      res.writeHead(200, {
        "content-type": MIME[path.extname(file)] || "application/octet-stream",
        "cache-control": "no-cache",
        "content-length": data.length,
      });
      res.end(req.method === "HEAD" ? undefined : data);
    });
  });
  return new Promise((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

// ---------------------------------------------------------------- Janus

async function startJanus(logDir) {
  const cfg = path.join(logDir, "cfg");
  const plugins = path.join(logDir, "plugins");
  const wsPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === wsPort) httpPort = await freePort();
  execFileSync(
    path.join(ROOT, "scripts/janus-config.sh"),
    [cfg, plugins, "--netns", "--ws-port", String(wsPort), "--http-port", String(httpPort), "--debug-level", JANUS_DEBUG],
    { stdio: ["ignore", "ignore", "inherit"] }
  );
  fs.copyFileSync(PLUGIN, path.join(plugins, "libjanus_plugin_sfu.so"));
  fs.writeFileSync(path.join(cfg, "janus.plugin.sfu.cfg"), "[general]\n");
  const logPath = path.join(logDir, "janus.log");
  const logFd = fs.openSync(logPath, "w");
  const proc = spawn(JANUS, ["-F", cfg, "-P", plugins], {
    cwd: logDir,
    stdio: ["ignore", logFd, logFd],
    detached: true, // own process group: a ^C must reach us first, not Janus
  });
  fs.closeSync(logFd);
  const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  let exitStatus = null;
  exited.then((s) => (exitStatus = s));
  return {
    proc,
    wsPort,
    httpPort,
    logPath,
    exited,
    running: () => exitStatus === null,
    exitStatus: () => exitStatus,
  };
}

async function waitJanus(j, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!j.running()) return { error: `janus exited during startup: ${JSON.stringify(j.exitStatus())}` };
    try {
      const info = await httpGetJson(`http://127.0.0.1:${j.httpPort}/janus/info`);
      if (await waitTcp(NETNS_IP, j.wsPort, 1000)) return { info };
    } catch (e) {
      // not up yet
    }
    if (Date.now() > deadline) return { error: `janus not ready after ${timeoutMs} ms` };
    await sleep(100);
  }
}

async function stopJanus(j) {
  if (!j.running()) return { diedEarly: true, status: j.exitStatus() };
  try {
    process.kill(j.proc.pid, "SIGINT");
  } catch (e) {
    // already gone
  }
  const res = await Promise.race([j.exited, sleep(15000).then(() => null)]);
  if (res) return { diedEarly: false, status: res };
  try {
    process.kill(j.proc.pid, "SIGABRT");
  } catch (e) {}
  const res2 = await Promise.race([j.exited, sleep(3000).then(() => null)]);
  if (!res2) {
    try {
      process.kill(j.proc.pid, "SIGKILL");
    } catch (e) {}
    await j.exited;
  }
  return { diedEarly: false, status: j.exitStatus(), timedOut: true };
}

// ---------------------------------------------------------------- browsers

const CHROMIUM_ARGS = [...CHROMIUM_BASE_ARGS, FAKE_DEVICES, RAW_HOST_CANDIDATES];

async function launchPage(chromium, tag, name, url, logDir) {
  const userDataDir = fs.mkdtempSync(path.join(logDir, `chromium-${tag}-`));
  // launchPersistentContext gives each client its own browser process and a
  // fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 720, height: 640 },
    permissions: ["camera", "microphone"],
    timeout: 30000,
  });
  const page = context.pages()[0] || (await context.newPage());
  const consolePath = path.join(logDir, `${tag}.console.log`);
  const consoleLog = fs.createWriteStream(consolePath);
  const stamp = () => new Date().toISOString();
  page.on("console", (m) => consoleLog.write(`${stamp()} [${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => consoleLog.write(`${stamp()} [pageerror] ${e.stack || e}\n`));
  page.on("crash", () => consoleLog.write(`${stamp()} [crash] page crashed\n`));
  await page.goto(url, { waitUntil: "load", timeout: 30000 });
  return { name, context, page, consoleLog, consolePath };
}

async function pageState(p) {
  try {
    return await p.page.evaluate(() => ({
      state: window.sfuTest.state,
      error: window.sfuTest.error,
      occupants: window.sfuTest.occupants(),
      available: window.sfuTest.available(),
      channels: window.sfuTest.channelStates(),
      log: window.sfuTest.log.slice(-20),
    }));
  } catch (e) {
    return { evaluateError: String(e) };
  }
}


// Each scenario: fresh browsers for alice and bob in a new room.
//   join-with-media: both set their media before connecting (NAF with
//     audio:true); bob starts once alice is connected, so alice subscribes
//     to bob while bob's track renegotiation may or may not have happened.
//   late-media: bob sets his media only after alice has subscribed to him,
//     so the plugin must push a renegotiated subscriber offer to alice.
const SCENARIOS = [
  { name: "join-with-media", sequential: true },
  { name: "late-media", sequential: true, lateMedia: ["bob"] },
].filter((sc) => !process.env.SFU_SCENARIOS || process.env.SFU_SCENARIOS.split(",").includes(sc.name));

async function runScenario(sc, { chromium, wsUrl, webPort, logDir }) {
  const room = `${sc.name}-${process.pid}-${Date.now() % 100000}`;
  const pages = [];
  let scFailed = 0;
  const ok = (cond, name, detail) => {
    if (!cond) scFailed++;
    return okRaw(cond, `[${sc.name}] ${name}`, detail);
  };
  diag(`scenario ${sc.name}`);
  try {
    const names = ["alice", "bob"];
    for (const name of names) {
      // The page comes from http://127.0.0.1 (a secure context, so
      // getUserMedia works); its WebSocket and ICE go to 198.18.0.1.
      const q = { server: wsUrl, room, clientId: name };
      if (sc.lateMedia && sc.lateMedia.includes(name)) q.media = "late";
      const url = `http://127.0.0.1:${webPort}/index.html?` + new URLSearchParams(q);
      pages.push(await launchPage(chromium, `${sc.name}-${name}`, name, url, logDir));
      if (sc.sequential) {
        // Wait until this client has joined (and, unless late, published)
        // before starting the next one.
        await pages.at(-1).page.waitForFunction(() => window.sfuTest.state === "connected", null, { timeout: 30000 }).catch(() => {});
      }
    }
    const [alice, bob] = pages;
    diag(`room ${room}; pages ${pages.map((p) => p.page.url()).join(" ")}`);

    // 1. occupants
    const other = { alice: "bob", bob: "alice" };
    const occ = await Promise.all(
      pages.map((p) =>
        p.page
          .waitForFunction((o) => window.sfuTest.occupants().includes(o), other[p.name], { timeout: OCCUPANT_TIMEOUT, polling: 250 })
          .then(() => true)
          .catch(() => false)
      )
    );
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      ok(occ[i], `${p.name} sees ${other[p.name]} as an occupant (subscribed)`, occ[i] ? undefined : await pageState(p));
    }
    const lists = await Promise.all(pages.map((p) => p.page.evaluate(() => window.sfuTest.occupants()).catch((e) => String(e))));
    pages.forEach((p, i) =>
      ok(JSON.stringify(lists[i]) === JSON.stringify([other[p.name]]), `${p.name}'s occupants are exactly [${other[p.name]}] (not itself)`, lists[i])
    );
    // Late media: the occupant has been subscribed to without tracks; add
    // them now (a publisher renegotiation pushed to existing subscribers).
    for (const p of pages) {
      if (sc.lateMedia && sc.lateMedia.includes(p.name)) {
        await p.page.evaluate(() => window.sfuTest.startMedia());
        diag(`${p.name}: setLocalMediaStream after being subscribed to`);
      }
    }
    const flat = await Promise.all(pages.map((p) => p.page.evaluate(() => window.sfuTest.state)));
    pages.forEach((p, i) => ok(flat[i] === "connected", `${p.name} adapter.connect() resolved`, flat[i]));

    // 2. data channels: each page sends one message per channel to the other.
    //    The unreliable channel is unordered with maxRetransmits 0, so resend
    //    it (and the reliable one, harmlessly) a few times until seen.
    const gotAll = async (p, from) =>
      p.page.evaluate(
        (from) => ({
          reliable: window.sfuTest.received.reliable.some((m) => m.dataType === "sfutest" && m.data.from === from && m.data.channel === "reliable"),
          unreliable: window.sfuTest.received.unreliable.some((m) => m.dataType === "sfutest" && m.data.from === from && m.data.channel === "unreliable"),
        }),
        from
      );
    let recv = {};
    const deadline = Date.now() + 15000;
    for (let seq = 0; ; seq++) {
      for (const p of pages) {
        await p.page.evaluate(([to, seq]) => window.sfuTest.send(to, `hello ${to}, #${seq}`, seq), [other[p.name], seq]).catch(() => {});
      }
      await sleep(500);
      for (const p of pages) recv[p.name] = await gotAll(p, other[p.name]).catch((e) => ({ error: String(e) }));
      const done = pages.every((p) => recv[p.name].reliable && recv[p.name].unreliable);
      if (done || Date.now() > deadline) break;
      if (seq >= 4) await sleep(1000);
    }
    for (const p of pages) {
      const r = recv[p.name];
      const ctx = r.reliable && r.unreliable ? undefined : await p.page.evaluate(() => ({ received: window.sfuTest.received, channels: window.sfuTest.channelStates() })).catch((e) => String(e));
      ok(!!r.reliable, `${p.name} received ${other[p.name]}'s message on the "reliable" channel (sendDataGuaranteed)`, r.reliable ? undefined : ctx);
      ok(!!r.unreliable, `${p.name} received ${other[p.name]}'s message on the "unreliable" channel (sendData)`, r.unreliable ? undefined : ctx);
    }

    // 3. media: subscriber inbound-rtp grows over 2 s.
    //    Allow some time for the publisher's renegotiation (tracks are added
    //    after the join) and the first key frame.
    const media = {};
    for (const p of pages) {
      const peer = other[p.name];
      const read = async () => {
        const s = await p.page.evaluate(() => window.sfuTest.stats());
        return { s, sub: s.subscribers[peer] };
      };
      let first = null;
      let second = null;
      const until = Date.now() + 20000;
      for (;;) {
        first = await read().catch((e) => ({ error: String(e) }));
        const a = first.sub && first.sub.inbound.audio;
        const v = first.sub && first.sub.inbound.video;
        if ((a && a.bytesReceived > 0 && v && v.framesDecoded > 0) || Date.now() > until) break;
        await sleep(500);
      }
      await sleep(2000);
      second = await read().catch((e) => ({ error: String(e) }));
      media[p.name] = { first, second };
    }
    for (const p of pages) {
      const peer = other[p.name];
      const { first, second } = media[p.name];
      const a1 = first.sub?.inbound.audio, a2 = second.sub?.inbound.audio;
      const v1 = first.sub?.inbound.video, v2 = second.sub?.inbound.video;
      const detail = { subscriber: second.sub || first.sub || null, publisher: second.s?.publisher || null, error: first.error || second.error };
      ok(!!(a1 && a1.bytesReceived > 0), `${p.name}: audio from ${peer}: inbound-rtp bytesReceived > 0 (${a1?.bytesReceived})`, a1 && a1.bytesReceived > 0 ? undefined : detail);
      ok(!!(a1 && a2 && a2.bytesReceived > a1.bytesReceived), `${p.name}: audio from ${peer}: bytesReceived grows over 2 s (${a1?.bytesReceived} → ${a2?.bytesReceived})`, a1 && a2 && a2.bytesReceived > a1.bytesReceived ? undefined : detail);
      ok(!!(v1 && v1.framesDecoded > 0), `${p.name}: video from ${peer}: framesDecoded > 0 (${v1?.framesDecoded}, ${v1?.codec || "?"})`, v1 && v1.framesDecoded > 0 ? undefined : detail);
      ok(!!(v1 && v2 && v2.framesDecoded > v1.framesDecoded), `${p.name}: video from ${peer}: framesDecoded grows over 2 s (${v1?.framesDecoded} → ${v2?.framesDecoded}, ${v2?.frameWidth}x${v2?.frameHeight})`, v1 && v2 && v2.framesDecoded > v1.framesDecoded ? undefined : detail);
    }
  } catch (e) {
    ok(false, `harness: ${e.message}`, e.stack);
  } finally {
    // Evidence: screenshots, SDP, signalling, stats.
    for (const p of pages) {
      try {
        await p.page.screenshot({ path: path.join(OUT, `${sc.name}-${p.name}.png`), timeout: 10000 });
      } catch (e) {
        diag(`screenshot ${p.name}: ${e.message}`);
      }
      try {
        const dump = await p.page.evaluate(async () => ({
          state: window.sfuTest.state,
          error: window.sfuTest.error,
          log: window.sfuTest.log,
          received: window.sfuTest.received,
          sdp: window.sfuTest.sdp(),
          stats: await window.sfuTest.stats(),
          signalling: window.sfuTest.signalling,
          userAgent: navigator.userAgent,
          h264Playable: document.createElement("video").canPlayType('video/mp4; codecs="avc1.42E01E, mp4a.40.2"'),
        }));
        fs.writeFileSync(path.join(logDir, `${sc.name}-${p.name}.state.json`), JSON.stringify(dump, null, 2));
        for (const [k, v] of Object.entries(dump.sdp.subscriberOffers || {})) {
          fs.writeFileSync(path.join(logDir, `${sc.name}-${p.name}.sub-${k}.original.sdp`), v.original);
          fs.writeFileSync(path.join(logDir, `${sc.name}-${p.name}.sub-${k}.munged.sdp`), v.munged);
        }
        if (dump.sdp.publisher?.local) fs.writeFileSync(path.join(logDir, `${sc.name}-${p.name}.pub.local.sdp`), dump.sdp.publisher.local.sdp);
        if (dump.sdp.publisher?.remote) fs.writeFileSync(path.join(logDir, `${sc.name}-${p.name}.pub.remote.sdp`), dump.sdp.publisher.remote.sdp);
        if (scFailed > 0) {
          // Evidence for the report: the subscriber offers' m-lines as the
          // server sent them, and the adapter's own error lines.
          for (const [k, v] of Object.entries(dump.sdp.subscriberOffers || {})) {
            const mlines = v.original.split(/\r?\n/).filter((l) => /^m=|^a=rtpmap:|^a=fmtp:/.test(l));
            diag(`${p.name} subscriber ${k} from Janus: ${mlines.join(" | ")}`);
          }
          const errs = fs
            .readFileSync(p.consolePath, "utf8")
            .split("\n")
            .filter((l) => /naf-janus-adapter:error|\[pageerror\]|\[error\](?!.*Failed to load resource)/.test(l));
          for (const l of errs.slice(0, 10)) diag(`${p.name} console: ${l.replace(/%c|color: #\w+|color: inherit/g, "").replace(/\s+/g, " ")}`);
        }
        if (p.name === "alice" && sc === SCENARIOS[0]) diag(`browser: ${dump.userAgent}; canPlayType(avc1.42E01E)=${JSON.stringify(dump.h264Playable)}`);
      } catch (e) {
        diag(`dump ${p.name}: ${e.message}`);
      }
    }
    for (const p of pages) {
      await p.context.close().catch((e) => diag(`close ${p.name}: ${e.message}`));
      p.consoleLog.end();
    }
  }
}

// ---------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "sfu-browser-"));
  console.log("TAP version 13");
  diag(`logs: ${logDir}`);

  let janus = null;
  let server = null;
  let fatal = null;

  try {
    if (!ok(fs.existsSync(PLUGIN), `plugin present (${PLUGIN})`, "run `make build` at the repo root")) throw new Error("no plugin");
    if (!ok(fs.existsSync(CHROMIUM), `chromium present (${CHROMIUM})`, "apt-get install chromium")) throw new Error("no chromium");

    await buildPage();
    ok(true, "page bundled (naf-janus-adapter + NAF shim, esbuild)");

    janus = await startJanus(logDir);
    janusForExit = janus;
    const ready = await waitJanus(janus, 20000);
    if (!ok(!ready.error, `janus up (ws ${NETNS_IP}:${janus.wsPort}, http :${janus.httpPort})`, ready.error && `${ready.error}\n${tail(janus.logPath, 40)}`))
      throw new Error("janus not up");
    const plug = ready.info.plugins && ready.info.plugins["janus.plugin.sfu"];
    if (!ok(!!plug, "janus loaded janus.plugin.sfu", Object.keys(ready.info.plugins || {}))) throw new Error("plugin not loaded");
    diag(`janus ${ready.info.version_string}, plugin ${plug.name} ${plug.version_string}`);

    const webPort = await freePort();
    server = await startStaticServer(webPort);

    const { chromium } = await import("playwright-core");
    const wsUrl = `ws://${NETNS_IP}:${janus.wsPort}/`;
    for (const sc of SCENARIOS) {
      await runScenario(sc, { chromium, wsUrl, webPort, logDir });
    }
  } catch (e) {
    fatal = e;
    ok(false, `harness: ${e.message}`, e.stack);
  } finally {
    if (server) await new Promise((r) => server.close(r));
    if (janus) {
      const st = await stopJanus(janus);
      ok(!st.diedEarly, "janus was still running at the end", st.status);
      ok(!st.timedOut && st.status && st.status.code === 0, `janus exited cleanly after SIGINT (${JSON.stringify(st.status)})`, tail(janus.logPath, 30));
      const log = fs.readFileSync(janus.logPath, "utf8");
      const found = CRASH_MARKERS.filter((m) => log.includes(m));
      ok(found.length === 0, "janus log has no crash markers (SIGSEGV/Segmentation/panic:/fatal error:)", found);
    }
  }

  console.log(`1..${n}`);
  console.log(`${passed} passed, ${failed} failed`);
  if (failed > 0 || process.env.SFU_KEEP_LOGS) {
    diag(`logs kept in ${logDir}: janus.log, <name>.console.log, <name>.state.json (signalling, SDP, stats), *.sdp`);
    if (failed > 0 && janus) {
      const warns = fs
        .readFileSync(janus.logPath, "utf8")
        .split("\n")
        .filter((l) => /\[(WARN|ERR)\]/.test(l) && !/has been disabled, skipping/.test(l));
      diag(`--- janus log WARN/ERR lines (${warns.length}) ---\n${warns.slice(0, 40).join("\n")}`);
    }
  } else {
    await fsp.rm(logDir, { recursive: true, force: true });
  }
  process.exitCode = failed > 0 || fatal ? 1 : 0;
}

// Last resort if we exit without the finally block (second ^C, crash).
let janusForExit = null;
process.on("exit", () => {
  if (janusForExit && janusForExit.running()) {
    try {
      process.kill(janusForExit.proc.pid, "SIGKILL");
    } catch (e) {}
  }
});

// Don't leave Janus or browsers behind on ^C / SIGTERM: the finally block
// above does the cleanup, so turn the first signal into a failure timeout.
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.log(`# ${sig}: cleaning up (send again to exit immediately)`);
  });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
