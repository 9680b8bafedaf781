// Minimal stand-in for networked-aframe's NAF global. naf-janus-adapter only
// touches NAF.adapters.register (at module load) and
// NAF.adapters.IS_CONNECTED / NOT_CONNECTED (getConnectStatus).
// This module must be imported before naf-janus-adapter.
const registered = {};
globalThis.NAF = {
  adapters: {
    IS_CONNECTED: "IS_CONNECTED",
    CONNECTING: "CONNECTING",
    NOT_CONNECTED: "NOT_CONNECTED",
    register(name, adapter) {
      registered[name] = adapter;
    },
    make(name) {
      return new registered[name]();
    },
  },
  log: {
    write: (...a) => console.log(...a),
    warn: (...a) => console.warn(...a),
    error: (...a) => console.error(...a),
  },
};

// The adapter logs through the `debug` package; its browser build reads
// localStorage.debug when it loads, so turn the adapter's channels on here.
try {
  if (new URLSearchParams(location.search).get("debug") !== "0") {
    localStorage.debug = "naf-janus-adapter:*";
  }
} catch (e) {
  // no localStorage: fine
}
