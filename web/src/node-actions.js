// What a node's Drain and Undrain buttons do: the request, with the session's token, and the
// banner that says why one failed. A refused token signs the page out instead.

import { ApiError, setNodeDrained } from "./api.js";
import { setHidden, setText } from "./dom.js";

export class NodeActions {
  // banner: the action banner (with its message and Dismiss button); afterChange(): a Promise
  // that refreshes the page with data read after the change.
  constructor(banner, { session, afterChange }) {
    this.banner = banner;
    this.message = banner.querySelector("#action-message");
    this.session = session;
    this.afterChange = afterChange;
    banner.querySelector("#action-dismiss").addEventListener("click", () => this.hideError());
  }

  // Drains or undrains a node, then refreshes.
  async drain(nodeId, drained) {
    const id = this.session.id;
    const verb = drained ? "drain" : "undrain";
    try {
      await setNodeDrained(nodeId, drained, this.session.token);
      if (id === this.session.id) this.hideError();
    } catch (error) {
      if (id !== this.session.id) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 429)) {
        this.session.signOutRefused(error);
        return;
      }
      const reason = error instanceof TypeError ? "the daemon cannot be reached" : error.detail || error.message;
      setText(this.message, `Could not ${verb} ${nodeId}: ${reason}.`);
      setHidden(this.banner, false);
    }
    await this.afterChange();
  }

  hideError() {
    setHidden(this.banner, true);
  }
}
