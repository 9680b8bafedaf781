// A serial task queue: one task runs at a time (one SDP offer/answer in
// flight per PeerConnection, as Janus requires), and a task pushed with the
// key of a task still waiting is folded into it instead of queued behind it.
// Pure: no DOM, no WebRTC.
export class SerialQueue {
  constructor() {
    this.pending = []; // {key, arg, run, resolve, reject, promise}
    this.running = null;
    this.closed = false;
  }

  // push queues run(arg). When a task with the same (non-null) key is still
  // waiting, its arg becomes fold(itsArg, arg), it will call the newer run,
  // and both callers get its result.
  push(key, arg, run, fold = (_old, newer) => newer) {
    if (this.closed) return Promise.reject(new Error("queue closed"));
    if (key !== null && key !== undefined) {
      const waiting = this.pending.find((t) => t.key === key);
      if (waiting) {
        waiting.arg = fold(waiting.arg, arg);
        waiting.run = run;
        waiting.folded++;
        return waiting.promise;
      }
    }
    const t = { key, arg, run, folded: 0 };
    t.promise = new Promise((resolve, reject) => {
      t.resolve = resolve;
      t.reject = reject;
    });
    this.pending.push(t);
    this.kick();
    return t.promise;
  }

  async kick() {
    if (this.running) return;
    while (this.pending.length > 0 && !this.closed) {
      const t = this.pending.shift();
      this.running = t;
      try {
        t.resolve(await t.run(t.arg));
      } catch (e) {
        t.reject(e);
      }
      this.running = null;
    }
  }

  // idle resolves when nothing runs or waits.
  async idle() {
    while (this.running || this.pending.length > 0) {
      await (this.running ? this.running.promise.catch(() => {}) : Promise.resolve());
      await null;
    }
  }

  // close rejects what is still waiting; the running task finishes.
  close() {
    this.closed = true;
    for (const t of this.pending.splice(0)) t.reject(new Error("queue closed"));
  }
}
