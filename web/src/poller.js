// When the page asks the daemon for fresh data. One refresh at a time; the next one is due
// `interval` seconds after the previous one ended, so a slow daemon is never flooded. With
// interval 0 (manual) nothing is sent unless the operator asks. After a failure the next try
// comes sooner (at most 5 s later), so the page recovers by itself once the daemon is back.
// While paused (the daemon wants a token the page does not have) nothing is sent at all.

const RETRY_AFTER_FAILURE_MS = 5_000;

export class Poller {
  // load(): Promise of a snapshot; onData(snapshot); onError(error); onBusy(bool).
  constructor({ load, onData, onError, onBusy }) {
    this.load = load;
    this.onData = onData;
    this.onError = onError;
    this.onBusy = onBusy ?? (() => {});
    this.intervalSeconds = 0;
    this.timer = undefined;
    this.inFlight = undefined;
    this.lastFailed = false;
    this.paused = false;
  }

  setInterval(seconds) {
    this.intervalSeconds = seconds;
    this.schedule();
  }

  pause() {
    this.paused = true;
    this.schedule();
  }

  resume() {
    this.paused = false;
    return this.refreshAfterChange();
  }

  // Refreshes now (joining a refresh already under way) and restarts the interval.
  refreshNow() {
    if (this.paused) return Promise.resolve();
    if (this.inFlight) return this.inFlight;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.onBusy(true);
    this.inFlight = this.load()
      .then(
        (snapshot) => {
          this.lastFailed = false;
          this.onData(snapshot);
        },
        (error) => {
          this.lastFailed = true;
          this.onError(error);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        this.onBusy(false);
        this.schedule();
      });
    return this.inFlight;
  }

  // Refreshes with data read after this call, as after a change the operator made: a refresh
  // already under way may have read the fleet before it, so this one starts once that ends.
  async refreshAfterChange() {
    if (this.inFlight) await this.inFlight;
    return this.refreshNow();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.paused || this.inFlight || this.intervalSeconds <= 0) return;
    let delay = this.intervalSeconds * 1000;
    if (this.lastFailed) delay = Math.min(delay, RETRY_AFTER_FAILURE_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshNow();
    }, delay);
  }
}
