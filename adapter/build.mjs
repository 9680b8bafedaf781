// npm run build:
//   dist/naf-janus-sfu-adapter.mjs     ES module (import { JanusSfuAdapter })
//   dist/naf-janus-sfu-adapter.js      browser bundle: a <script> after
//   dist/naf-janus-sfu-adapter.min.js  networked-aframe registers the adapter
//                                      and sets window.JanusSfuAdapter
import * as esbuild from "esbuild";

const common = { entryPoints: ["src/index.js"], bundle: true, target: "es2020", sourcemap: true, logLevel: "warning" };
const script = {
  format: "iife",
  globalName: "JanusSfuAdapterModule",
  footer: { js: "window.JanusSfuAdapter = JanusSfuAdapterModule.JanusSfuAdapter;" },
};
await Promise.all([
  esbuild.build({ ...common, format: "esm", outfile: "dist/naf-janus-sfu-adapter.mjs" }),
  esbuild.build({ ...common, ...script, outfile: "dist/naf-janus-sfu-adapter.js" }),
  esbuild.build({ ...common, ...script, minify: true, outfile: "dist/naf-janus-sfu-adapter.min.js" }),
]);
