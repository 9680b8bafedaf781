// naf-janus-sfu-adapter: registers the adapter with networked-aframe when
// the NAF global is present (load this after networked-aframe).
//   <a-scene networked-scene="adapter: janus-ms; serverURL: wss://host/janus; room: r">
// "janus-sfu" is an alias. To use it where a scene says "adapter: janus",
// call registerAdapter(NAF, ["janus"]) after loading naf-janus-adapter (or
// instead of it).
import { JanusSfuAdapter } from "./adapter.js";

export { JanusSfuAdapter };
export { StreamTable } from "./streams.js";
export { SerialQueue } from "./queue.js";
export { Backoff } from "./backoff.js";
export { subscriptionMode } from "./mode.js";
export { Redirects, redirectUrl, wrongHostOwner } from "./redirect.js";

export const ADAPTER_NAMES = ["janus-ms", "janus-sfu"];

export function registerAdapter(naf = globalThis.NAF, names = ADAPTER_NAMES) {
  if (!naf || !naf.adapters || typeof naf.adapters.register !== "function") return false;
  for (const name of names) naf.adapters.register(name, JanusSfuAdapter);
  return true;
}

registerAdapter();

export default JanusSfuAdapter;
