#!/usr/bin/env node
// Bundles the demo into dist/ (index.html, app.js, app.css): A-Frame,
// networked-aframe and naf-janus-adapter from node_modules, nothing fetched
// at run time. Usage: node build.mjs [--dev]   (--dev: no minification)
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = path.join(HERE, "dist");
const dev = process.argv.includes("--dev");

fs.rmSync(DIST, { recursive: true, force: true });
fs.mkdirSync(DIST, { recursive: true });
await esbuild.build({
  entryPoints: [path.join(HERE, "src/main.js")],
  bundle: true,
  outfile: path.join(DIST, "app.js"),
  platform: "browser",
  format: "iife",
  target: "chrome100",
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "linked",
  logLevel: "warning",
});
for (const f of ["index.html", "app.css"]) fs.copyFileSync(path.join(HERE, "src", f), path.join(DIST, f));
const size = fs.statSync(path.join(DIST, "app.js")).size;
console.log(`demo: built ${path.relative(process.cwd(), DIST) || "."}/ (app.js ${(size / 1e6).toFixed(1)} MB)`);
