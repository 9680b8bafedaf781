// Plumbing of the adapter browser test (run.mjs): TAP output, Janus with
// our plugin in a temp dir, a static server for the page, Chromium pages.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM_BASE_ARGS, FAKE_DEVICES, RAW_HOST_CANDIDATES } from "../chromium-flags.mjs";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, "../..");
export const NETNS_IP = "198.18.0.1";
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- TAP

export const tap = {
  n: 0,
  passed: 0,
  failed: 0,
  skipped: 0,
  ok(cond, name, detail) {
    this.n++;
    if (cond) this.passed++;
    else this.failed++;
    console.log(`${cond ? "ok" : "not ok"} ${this.n} - ${name}`);
    if (!cond && detail !== undefined) this.diag(typeof detail === "string" ? detail : JSON.stringify(detail, null, 2));
    return cond;
  },
  skip(name, reason) {
    this.n++;
    this.skipped++;
    console.log(`ok ${this.n} - ${name} # SKIP ${reason}`);
  },
  diag(s) {
    for (const line of String(s).split("\n")) console.log(`# ${line}`);
  },
  end() {
    console.log(`1..${this.n}`);
    console.log(`${this.passed} passed, ${this.failed} failed, ${this.skipped} skipped`);
  },
};

// ---------------------------------------------------------------- netns

// ensureNamespace re-runs this script inside the namespace when 198.18.0.1
// is not on an interface here (Janus skips loopback for ICE). Returns only
// when already inside.
export function ensureNamespace(netns, script) {
  const inside = Object.values(os.networkInterfaces()).flat().some((a) => a && a.address === NETNS_IP);
  if (inside) return;
  if (process.env.SFU_ADAPTER_REEXEC) {
    console.error(`still no ${NETNS_IP} inside netns ${netns}`);
    process.exit(2);
  }
  const up = spawnSync(path.join(ROOT, "scripts/netns.sh"), ["up", netns], { stdio: "inherit" });
  if (up.status !== 0) process.exit(up.status ?? 2);
  const r = spawnSync("ip", ["netns", "exec", netns, process.execPath, script, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, SFU_ADAPTER_REEXEC: "1" },
  });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------- net

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tcpOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

export function httpJson(url, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? null : JSON.stringify(body);
    const req = http.request(url, { method: data ? "POST" : "GET", headers: data ? { "content-type": "application/json" } : {} }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`${url}: not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error(`${url}: timeout`)));
    req.end(data);
  });
}

// ---------------------------------------------------------------- page

export async function buildPage() {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [path.join(HERE, "page/src/main.js")],
    bundle: true,
    outfile: path.join(HERE, "page/dist/bundle.js"),
    format: "iife",
    target: "chrome100",
    sourcemap: "inline",
    logLevel: "warning",
  });
}

// serveDir serves dir on 127.0.0.1 (a secure context for getUserMedia);
// node's Date header serves the adapters' clock sync.
export function serveDir(dir, port) {
  const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };
  const srv = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = path.normalize(path.join(dir, p === "/" ? "index.html" : p));
    if (!file.startsWith(dir + path.sep)) return res.writeHead(403).end();
    fs.readFile(file, (err, data) => {
      if (err) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream", "cache-control": "no-cache", "content-length": data.length });
      res.end(req.method === "HEAD" ? undefined : data);
    });
  });
  return new Promise((resolve, reject) => srv.once("error", reject).listen(port, "127.0.0.1", () => resolve(srv)));
}

// ---------------------------------------------------------------- Janus

export const ADMIN_SECRET = "janusoverlord"; // scripts/janus-config.sh --admin

export async function startJanus({ logDir, plugin, janus = "janus", debugLevel = "4" }) {
  const cfg = path.join(logDir, "cfg");
  const plugins = path.join(logDir, "plugins");
  const ports = new Set();
  while (ports.size < 3) ports.add(await freePort());
  const [wsPort, httpPort, adminPort] = [...ports];
  execFileSync(
    path.join(ROOT, "scripts/janus-config.sh"),
    [cfg, plugins, "--netns", "--ws-port", wsPort, "--http-port", httpPort, "--admin-port", adminPort, "--debug-level", debugLevel].map(String),
    { stdio: ["ignore", "ignore", "inherit"] }
  );
  fs.copyFileSync(plugin, path.join(plugins, "libjanus_plugin_sfu.so"));
  fs.writeFileSync(path.join(cfg, "janus.plugin.sfu.cfg"), "[general]\n");
  const logPath = path.join(logDir, "janus.log");
  const fd = fs.openSync(logPath, "w");
  const proc = spawn(janus, ["-F", cfg, "-P", plugins], { cwd: logDir, stdio: ["ignore", fd, fd], detached: true });
  fs.closeSync(fd);
  const j = { proc, wsPort, httpPort, adminPort, logPath, status: null };
  j.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve((j.status = { code, signal }))));
  j.adminUrl = `http://127.0.0.1:${adminPort}/admin`;
  j.admin = (pathPart, req) => httpJson(j.adminUrl + pathPart, { admin_secret: ADMIN_SECRET, transaction: String(Math.random()), ...req });
  // handleInfo returns plugin_specific of a handle (the plugin's query_session).
  j.handleInfo = async (session, handle) => {
    const r = await j.admin(`/${session}/${handle}`, { janus: "handle_info" });
    return r.info ? r.info.plugin_specific : { error: r };
  };
  j.listHandles = async (session) => (await j.admin(`/${session}`, { janus: "list_handles" })).handles || [];
  const deadline = Date.now() + 20000;
  for (;;) {
    if (j.status) throw new Error(`janus exited during startup ${JSON.stringify(j.status)}`);
    try {
      j.info = await httpJson(`http://127.0.0.1:${httpPort}/janus/info`);
      if (await tcpOpen(NETNS_IP, wsPort)) return j;
    } catch (e) {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("janus not ready after 20 s");
    await sleep(200);
  }
}

// stopJanus: SIGINT, then SIGABRT/SIGKILL if it hangs. Returns {status, hung}.
export async function stopJanus(j) {
  if (j.status) return { status: j.status, diedEarly: true };
  const wait = (ms) => Promise.race([j.exited, sleep(ms).then(() => null)]);
  process.kill(j.proc.pid, "SIGINT");
  if (await wait(15000)) return { status: j.status };
  for (const sig of ["SIGABRT", "SIGKILL"]) {
    try {
      process.kill(j.proc.pid, sig);
    } catch (e) {}
    if (await wait(3000)) break;
  }
  return { status: j.status, hung: true };
}

// ---------------------------------------------------------------- Chromium

const CHROMIUM_ARGS = ["--headless", ...CHROMIUM_BASE_ARGS, FAKE_DEVICES, RAW_HOST_CANDIDATES];

// launchPage starts one Chromium process (fresh user-data-dir) on url and
// logs its console to <logDir>/<tag>.console.log.
export async function launchPage(chromium, { executablePath, logDir, tag, url }) {
  const userDataDir = fs.mkdtempSync(path.join(logDir, `chromium-${tag}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 800, height: 500 },
    permissions: ["camera", "microphone"],
    timeout: 60000,
  });
  const page = context.pages()[0] || (await context.newPage());
  const log = fs.createWriteStream(path.join(logDir, `${tag}.console.log`));
  const stamp = () => new Date().toISOString();
  page.on("console", (m) => log.write(`${stamp()} [${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => log.write(`${stamp()} [pageerror] ${e.stack || e}\n`));
  page.on("crash", () => log.write(`${stamp()} [crash]\n`));
  await page.goto(url, { waitUntil: "load", timeout: 60000 });
  return {
    tag,
    context,
    page,
    eval: (fn, arg) => page.evaluate(fn, arg),
    async close() {
      await context.close().catch(() => {});
      log.end();
    },
  };
}

// waitFor polls fn() (async) until it returns a truthy value or timeoutMs
// passes; returns the last value.
export async function waitFor(fn, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v;
    try {
      v = await fn();
    } catch (e) {
      v = null;
    }
    if (v || Date.now() > deadline) return v;
    await sleep(everyMs);
  }
}
