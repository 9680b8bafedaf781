#!/usr/bin/env node
// The demo (demo/, networked-aframe) in two headless Chromium pages, through
// what `make run` starts: scripts/run-demo.sh with Janus, the plugin and
// cmd/sfu-demo. Alice uses the demo's default adapter (ours, adapter/: one
// subscriber connection on a multistream server) and has Chromium's fake
// camera and microphone; Bob uses naf-janus-adapter (?adapter=naf, the
// drop-in) and has no devices, so the demo publishes its generated test
// pattern and tone for him. Each page must say which adapter and mode it
// used, see the other's avatar (and its movement), receive its audio and
// video, and get its chat line.
//
// Run inside a scripts/netns.sh namespace (Janus skips loopback for ICE):
//   make demo-test NETNS=name   (builds the plugin and demo/dist first)
// Outside one it brings SFU_NETNS (default sfutest) up and re-runs itself there.
//
// Environment: SFU_NETNS, CHROMIUM (default /usr/bin/chromium),
// SFU_KEEP_LOGS (keep the log dir when everything passes), SFU_DEMO_BUDGET_S
// (time for the whole run, default 200; every wait scales with it),
// SFU_DEMO_FPS (frames a second the pages render, default 5),
// SFU_DEMO_ADAPTERS (alice's and bob's ?adapter=, default "ours,naf").
// Output: TAP-like lines; screenshots in test/demo/out/{alice,bob}.png.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM_BASE_ARGS, FAKE_DEVICES } from "../chromium-flags.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const NETNS = process.env.SFU_NETNS || "sfutest";
const NETNS_IP = "198.18.0.1";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = path.join(HERE, "out");
const CRASH_MARKERS = ["SIGSEGV", "Segmentation", "panic:", "fatal error:"];
// The whole run stays under 2 min on an idle machine; SFU_DEMO_BUDGET_S
// stretches every wait on a loaded one.
const BUDGET_S = Number(process.env.SFU_DEMO_BUDGET_S || 200);
const DEADLINE = Date.now() + BUDGET_S * 1000;

const inNamespace = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .some((a) => a && a.address === NETNS_IP);
if (!inNamespace()) {
  if (process.env.SFU_DEMO_REEXEC) {
    console.error(`run.mjs: no ${NETNS_IP} after ip netns exec ${NETNS}`);
    process.exit(2);
  }
  const up = spawnSync(path.join(ROOT, "scripts/netns.sh"), ["up", NETNS], { stdio: "inherit" });
  if (up.status !== 0) process.exit(up.status ?? 2);
  const r = spawnSync("ip", ["netns", "exec", NETNS, process.execPath, fileURLToPath(import.meta.url)], {
    stdio: "inherit",
    env: { ...process.env, SFU_DEMO_REEXEC: "1" },
  });
  process.exit(r.status ?? 1);
}

let n = 0;
let failed = 0;
function ok(cond, name, detail) {
  n++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (detail !== undefined) {
      const s = typeof detail === "string" ? detail : JSON.stringify(detail, null, 2);
      for (const line of s.split("\n")) console.log(`  # ${line}`);
    }
  }
  return cond;
}
const diag = (s) => console.log(`# ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const left = () => Math.max(1000, DEADLINE - Date.now());

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

async function tcpOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

// Polls fn in the page until it returns a truthy value or the time is up.
async function until(page, fn, arg, ms) {
  ms = (ms * BUDGET_S) / 110;
  return page
    .waitForFunction(fn, arg, { timeout: Math.min(ms, left()), polling: 250 })
    .then((h) => h.jsonValue())
    .catch(() => null);
}

// ------------------------------------------------------------- the stack

async function startStack(logDir) {
  const [web, ws, httpPort] = [await freePort(), await freePort(), await freePort()];
  // run-demo.sh --no-build expects the demo server binary in its run folder.
  execFileSync("go", ["build", "-o", path.join(logDir, "sfu-demo"), "./cmd/sfu-demo"], { cwd: ROOT, stdio: "inherit" });
  const out = fs.openSync(path.join(logDir, "run-demo.out"), "w");
  const proc = spawn(
    path.join(ROOT, "scripts/run-demo.sh"),
    ["--no-deps", "--no-build", "--web", `127.0.0.1:${web}`, "--ws-port", String(ws), "--http-port", String(httpPort)],
    { env: { ...process.env, SFU_RUN_DIR: logDir }, stdio: ["ignore", out, out], detached: true }
  );
  fs.closeSync(out);
  let status = null;
  const exited = new Promise((r) => proc.once("exit", (code, signal) => r((status = { code, signal }))));
  const t0 = Date.now();
  while (Date.now() - t0 < 30000 && status === null) {
    if (fs.readFileSync(path.join(logDir, "run-demo.out"), "utf8").includes("Open  http://")) break;
    await sleep(200);
  }
  return { proc, exited, running: () => status === null, web, ws, httpPort };
}

async function stopStack(stack) {
  if (!stack.running()) return { diedEarly: true };
  process.kill(stack.proc.pid, "SIGINT");
  const st = await Promise.race([stack.exited, sleep(15000).then(() => null)]);
  if (!st) {
    try {
      process.kill(-stack.proc.pid, "SIGKILL");
    } catch (e) {}
    return { timedOut: true };
  }
  return { status: st };
}

// ------------------------------------------------------------- browsers

const CHROMIUM_ARGS = [
  "--headless",
  ...CHROMIUM_BASE_ARGS,
  // WebGL for A-Frame without a GPU: SwiftShader.
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
];

async function launch(chromium, name, url, { fakeDevices }, logDir) {
  const userDataDir = fs.mkdtempSync(path.join(logDir, `chromium-${name}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: fakeDevices ? [...CHROMIUM_ARGS, FAKE_DEVICES] : CHROMIUM_ARGS,
    viewport: { width: 1024, height: 576 },
    permissions: ["camera", "microphone"],
    timeout: (30000 * BUDGET_S) / 110,
  });
  const external = [];
  // "No CDN at run time": everything must come from the demo server.
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === "127.0.0.1" || u.protocol === "data:" || u.protocol === "blob:") return route.continue();
    external.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  const log = fs.createWriteStream(path.join(logDir, `${name}.console.log`));
  page.on("console", (m) => log.write(`[${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => log.write(`[pageerror] ${e.stack || e}\n`));
  await page.goto(url, { waitUntil: "commit", timeout: (30000 * BUDGET_S) / 110 });
  return { name, context, page, external, log };
}

// ------------------------------------------------------------- main

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "sfu-demo-"));
  console.log("TAP version 13");
  diag(`logs: ${logDir}`);
  const pages = [];
  let stack = null;
  try {
    if (!ok(fs.existsSync(path.join(ROOT, "demo/dist/app.js")), "demo/dist is built", "run `make demo`")) return;
    if (!ok(fs.existsSync(path.join(ROOT, "libjanus_plugin_sfu.so")), "plugin is built", "run `make build`")) return;
    stack = stackForExit = await startStack(logDir);
    const up = stack.running() && (await tcpOpen(stack.web));
    if (!ok(up, `run-demo.sh serves the demo on 127.0.0.1:${stack.web} (Janus ws :${stack.ws})`, fs.readFileSync(path.join(logDir, "run-demo.out"), "utf8"))) return;

    const { chromium } = await import("playwright-core");
    const room = `demo-test-${process.pid}`;
    // quality=low&fps=5: software WebGL on a shared CI machine; the test is about media and data.
    const base = `http://127.0.0.1:${stack.web}/?room=${room}&autojoin=1&quality=low&fps=${process.env.SFU_DEMO_FPS || 5}`;
    const [aliceAdapter, bobAdapter] = (process.env.SFU_DEMO_ADAPTERS || "ours,naf").split(",");
    const cast = [
      { name: "alice", display: "Alice", fakeDevices: true, audio: "microphone", video: "camera", adapter: aliceAdapter },
      { name: "bob", display: "Bob", fakeDevices: false, audio: "tone", video: "test pattern", adapter: bobAdapter },
    ];
    // Janus 1.x has multistream subscriptions; our adapter must use them there.
    const info = await fetch(`http://127.0.0.1:${stack.httpPort}/janus/info`).then((r) => r.json()).catch(() => ({}));
    const multistreamServer = (info.version || 0) >= 1000;
    diag(`Janus ${info.version_string || "?"}: ${multistreamServer ? "multistream" : "classic"} server`);
    for (const c of cast) {
      const p = await launch(chromium, c.name, `${base}&name=${c.display}&adapter=${c.adapter}`, c, logDir);
      Object.assign(p, c);
      pages.push(p);
    }
    for (const p of pages) {
      const st = await until(p.page, () => window.demo && ["connected", "failed"].includes(window.demo.state) && window.demo.state, null, 45000);
      const info = await p.page.evaluate(() => ({ id: window.demo.clientId, media: window.demo.media && { audio: window.demo.media.audio, video: window.demo.media.video }, error: window.demo.error }));
      p.id = info.id;
      ok(st === "connected", `${p.name} joined room ${room} through /janus (proxied to Janus)`, info);
      ok(info.media && info.media.audio === p.audio && info.media.video === p.video, `${p.name} publishes ${p.audio} + ${p.video}`, info.media);
      // Which adapter and subscription mode the page used.
      const wantAdapter = p.adapter === "naf" ? "janus" : "janus-ms";
      const wantMode = wantAdapter === "janus" ? "naf-janus-adapter" : multistreamServer ? "multistream" : "classic";
      const mode = await until(p.page, () => window.demo.mode && { adapter: window.demo.adapterName, mode: window.demo.mode, reason: window.demo.modeReason }, null, 20000);
      ok(!!mode && mode.adapter === wantAdapter && mode.mode === wantMode, `${p.name} (?adapter=${p.adapter}) uses ${wantAdapter}, ${wantMode} (${mode && mode.reason})`, mode);
    }
    const [alice, bob] = pages;
    const other = new Map([[alice, bob], [bob, alice]]);

    // 1. the other's avatar entity, with positional audio and a video texture
    for (const p of pages) {
      const peer = other.get(p);
      const seen = await until(p.page, (id) => window.demo.avatars().includes(id), peer.id, 30000);
      ok(!!seen, `${p.name} sees ${peer.name}'s avatar entity`, await p.page.evaluate(() => ({ avatars: window.demo.avatars(), log: window.demo.log.slice(-8) })));
      const av = await until(p.page, (id) => { const s = window.demo.avatarState(id); return s && s.name && s.positionalAudio && s.videoTexture && s.videoSize[0] > 0 && s; }, peer.id, 30000);
      const last = await p.page.evaluate((id) => window.demo.avatarState(id), peer.id);
      ok(!!av && av.name === peer.display, `${p.name}: avatar named ${peer.display} (${last && last.name})`, last);
      ok(!!av, `${p.name}: ${peer.name}'s voice on a positional audio source and camera on the avatar (${last && last.videoSize})`, last);
    }

    // 2. position syncs: alice steps forward; bob sees her avatar move
    await alice.page.evaluate(() => document.getElementById("player").setAttribute("position", "0.4 1.6 -0.9"));
    const moved = await until(bob.page, (id) => { const s = window.demo.avatarState(id); return s && Math.abs(s.position[0] - 0.4) < 0.05 && Math.abs(s.position[2] + 0.9) < 0.05 && s.position; }, alice.id, 10000);
    ok(!!moved, `bob sees alice's avatar move to (0.4, 1.6, -0.9)`, await bob.page.evaluate((id) => window.demo.avatarState(id), alice.id));

    // 3. chat over the data channel (NAF broadcastDataGuaranteed)
    for (const p of pages) await p.page.evaluate((t) => window.demo.sendChat(t), `Hello from ${p.display}!`);
    for (const p of pages) {
      const peer = other.get(p);
      const got = await until(p.page, (t) => window.demo.chat.some((c) => !c.self && !c.system && c.text === t), `Hello from ${peer.display}!`, 10000);
      ok(!!got, `${p.name} got ${peer.name}'s chat line`, await p.page.evaluate(() => window.demo.chat));
    }

    // 4. media: audio bytes and decoded video frames grow over 2 s
    const read = (p) => p.page.evaluate((id) => window.demo.stats().then((s) => s[id]), other.get(p).id);
    const first = {};
    for (const p of pages) {
      first[p.name] = await until(p.page, (id) => window.demo.stats().then((s) => { const i = s[id] && s[id].inbound; return i && i.audio && i.audio.bytesReceived > 0 && i.video && i.video.framesDecoded > 0 && s[id]; }), other.get(p).id, 20000);
    }
    await sleep(2000);
    for (const p of pages) {
      const peer = other.get(p);
      const a = first[p.name];
      const b = await read(p).catch((e) => ({ error: String(e) }));
      const a1 = a && a.inbound.audio, a2 = b && b.inbound && b.inbound.audio;
      const v1 = a && a.inbound.video, v2 = b && b.inbound && b.inbound.video;
      ok(!!(a1 && a2 && a2.bytesReceived > a1.bytesReceived), `${p.name}: audio from ${peer.name} grows (${a1 && a1.bytesReceived} → ${a2 && a2.bytesReceived} bytes)`, { first: a, second: b });
      ok(!!(v1 && v2 && v2.framesDecoded > v1.framesDecoded), `${p.name}: video from ${peer.name} decodes (${v1 && v1.framesDecoded} → ${v2 && v2.framesDecoded} frames, ${v2 && v2.frameWidth}x${v2 && v2.frameHeight})`, { first: a, second: b });
    }
    for (const p of pages) {
      const pcs = await p.page.evaluate(() => window.demo.peerConnections());
      ok(!!pcs && pcs.publisher === 1 && pcs.subscribers === 1, `${p.name}: one publisher and one subscriber PeerConnection`, pcs);
    }
    const talking = await alice.page.evaluate(() => window.demo.talking);
    diag(`alice's talking events: ${JSON.stringify(talking)} (bob ${bob.id} sends the generated chime)`);
    for (const p of pages) ok(p.external.length === 0, `${p.name}: nothing fetched from outside the demo server`, p.external);
  } catch (e) {
    ok(false, `harness: ${e.message}`, e.stack);
  } finally {
    for (const p of pages) {
      await p.page.screenshot({ path: path.join(OUT, `${p.name}.png`), timeout: 10000 }).catch((e) => diag(`screenshot ${p.name}: ${e.message}`));
      await p.context.close().catch(() => {});
      p.log.end();
    }
    if (pages.length) diag(`screenshots: ${pages.map((p) => path.join(OUT, `${p.name}.png`)).join(" ")}`);
    if (stack) {
      const st = await stopStack(stack);
      ok(st.status && !st.diedEarly, `Ctrl-C stops run-demo.sh (${JSON.stringify(st.status || st)})`);
      const janusLog = path.join(logDir, "janus.log");
      const log = fs.existsSync(janusLog) ? fs.readFileSync(janusLog, "utf8") : "";
      ok(/janus\.plugin\.sfu/.test(log) && !CRASH_MARKERS.some((m) => log.includes(m)), "janus.log: plugin loaded, no crash markers");
      ok(!(await tcpOpen(stack.ws)) && !(await tcpOpen(stack.web)), "Janus and the demo server are gone after Ctrl-C");
    }
    console.log(`1..${n}`);
    console.log(`${n - failed} passed, ${failed} failed`);
    if (failed || process.env.SFU_KEEP_LOGS) diag(`logs kept in ${logDir}`);
    else fs.rmSync(logDir, { recursive: true, force: true });
    process.exitCode = failed ? 1 : 0;
  }
}

// Never leave Janus, the demo server or browsers behind: on a timeout, a
// signal or an early exit, kill run-demo.sh's process group.
let stackForExit = null;
const killStack = () => {
  if (stackForExit && stackForExit.running()) {
    try {
      process.kill(-stackForExit.proc.pid, "SIGKILL");
    } catch (e) {}
  }
};
process.on("exit", killStack);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
setTimeout(() => {
  console.log(`not ok ${++n} - whole run finished within ${BUDGET_S + 40} s`);
  process.exit(1);
}, (BUDGET_S + 40) * 1000).unref();

main();
