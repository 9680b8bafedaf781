// Reconnection delays, as naf-janus-adapter: the first attempt after a lost
// connection waits initialDelay (random below 1 s by default, so a restarted
// server is not hit by every client at once), each failed attempt adds step,
// capped at maxDelay; after maxAttempts attempts the adapter gives up.
export class Backoff {
  constructor({ initialDelay = 1000 * Math.random(), step = 1000, maxDelay = 30000, maxAttempts = 10 } = {}) {
    this.initialDelay = initialDelay;
    this.step = step;
    this.maxDelay = maxDelay;
    this.maxAttempts = maxAttempts;
    this.attempts = 0;
    this.delay = initialDelay;
  }

  // next returns the delay before the next attempt and counts it, or null
  // when maxAttempts attempts have been made.
  next() {
    if (this.attempts >= this.maxAttempts) return null;
    this.delay = Math.min(this.initialDelay + this.attempts * this.step, this.maxDelay);
    this.attempts++;
    return this.delay;
  }

  reset() {
    this.attempts = 0;
    this.delay = this.initialDelay;
  }
}
