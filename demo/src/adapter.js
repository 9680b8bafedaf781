// After vendor.js (see there): registers the adapters with NAF.
//   "janus-ms" (alias "janus-sfu"): this repository's adapter (adapter/):
//       one subscriber PeerConnection for everyone on a server with
//       multistream subscriptions, one per user (classic) on any other.
//   "janus": naf-janus-adapter from npm, the drop-in the plugin promises.
import "./vendor.js";
import "naf-janus-adapter";
import "../../adapter/src/index.js";
