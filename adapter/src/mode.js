// Which subscription mode the server supports, from its reply to a join
// with subscribe: {"streams": true} (docs/protocol.md). Pure.
//
//   multistream: success with a "streams" list.
//   classic:     success without "streams" (a server that ignores unknown
//                fields, i.e. every server before the extension), or a
//                refusal that is not about the user's rights (Janus 0.x's
//                "Multistream subscriptions need Janus 1.x.", "Malformed
//                join", an unknown field...). Classic subscriptions may
//                still work there.
//   error:       a refusal that classic subscriptions would get too
//                (token, room or server full), or the cluster's wrong_host
//                (then the decision carries code and owner: the adapter
//                connects to the owner, redirect.js).
import { CODE_WRONG_HOST, wrongHostOwner } from "./redirect.js";

const FATAL = /^(Rejecting |Room is full|Server is full)/;

export function subscriptionMode(reply) {
  if (!reply || typeof reply !== "object") return { mode: "classic", reason: "no plugin reply" };
  if (reply.success === true) {
    const r = reply.response;
    if (r && Array.isArray(r.streams)) return { mode: "multistream", reason: "server listed streams" };
    return { mode: "classic", reason: "server ignored subscribe.streams (no streams in the join response)" };
  }
  const msg = (reply.error && typeof reply.error.msg === "string" && reply.error.msg) || "join refused";
  const owner = wrongHostOwner(reply);
  if (owner) return { mode: "error", reason: msg, code: CODE_WRONG_HOST, owner };
  if (FATAL.test(msg)) return { mode: "error", reason: msg };
  return { mode: "classic", reason: `server refused subscribe.streams: ${msg}` };
}
