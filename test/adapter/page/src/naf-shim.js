// The part of networked-aframe's NAF global that adapters touch:
// NAF.adapters.register / make and the connection status constants.
// Imported first, before any adapter registers itself.
const classes = {};
globalThis.NAF = {
  adapters: {
    IS_CONNECTED: "IS_CONNECTED",
    CONNECTING: "CONNECTING",
    NOT_CONNECTED: "NOT_CONNECTED",
    register: (name, cls) => (classes[name] = cls),
    make: (name) => new classes[name.toLowerCase()](),
  },
  log: { write: console.log, warn: console.warn, error: console.error },
};
