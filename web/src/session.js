// Who the page acts as: the token it sends (kept in sessionStorage), what the daemon says of it
// (GET /api/whoami), what its role may do, the sign-in panel that asks for a token and the
// header's "Signed in as" with Sign out. The rest of the page hears of it through callbacks.

import { ApiError, fetchWhoami } from "./api.js";
import { setAttr, setHidden, setText, setVariant } from "./dom.js";
import { forgetToken, readToken, writeToken } from "./settings.js";

const ROLE_BADGE = {
  viewer: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
  ci: "bg-sky-100 text-sky-900 dark:bg-sky-500/15 dark:text-sky-300",
  admin: "bg-violet-100 text-violet-900 dark:bg-violet-500/15 dark:text-violet-300",
  agent: "bg-slate-200 text-slate-700 dark:bg-slate-700 dark:text-slate-200",
};

// Whether a role may read the fleet, and whether it may drain nodes (as the daemon's routes say).
const canRead = (role) => role === "viewer" || role === "ci" || role === "admin";
const canAdminister = (role) => role === "admin";

export class Session {
  // signInRoot: the sign-in panel; accountRoot: the header's signed-in area. onAccess(access)
  // after what the daemon says of the token changed (undefined: not known); onSignedIn() once a
  // token was accepted; onSignedOut() once it is forgotten, before the sign-in panel shows.
  constructor({ signInRoot, accountRoot, onAccess, onSignedIn, onSignedOut }) {
    // `access` ({authRequired, name, role}) is undefined until the daemon said, and again after
    // it refused the token. `id` counts sign-ins and sign-outs: an answer to a request started
    // under an earlier id is dropped.
    this.token = readToken();
    this.access = undefined;
    this.id = 0;
    this.onAccess = onAccess;
    this.onSignedIn = onSignedIn;
    this.onSignedOut = onSignedOut;
    this.account = accountRoot;
    this.accountName = accountRoot.querySelector("#account-name");
    this.accountRole = accountRoot.querySelector("#account-role");
    this.signIn = new SignIn(signInRoot, { onToken: (token) => this.tryToken(token) });
    accountRoot.querySelector("#sign-out").addEventListener("click", () => this.signOut("Signed out. The token is forgotten in this tab."));
  }

  // Whether the sign-in panel is shown (the page's keyboard shortcuts stay off then).
  asksForToken() {
    return this.signIn.shown();
  }

  // Whether the daemon wants a token and has accepted this one.
  signedIn() {
    return Boolean(this.access?.authRequired);
  }

  // Whether the page offers Drain and Undrain.
  mayDrain() {
    return Boolean(this.access) && canAdminister(this.access.role);
  }

  // Asks the daemon who the token is, unless known. Rejects as fetchWhoami does, and with a 403
  // ApiError when the role may not read the fleet.
  async ensureAccess() {
    if (!this.access) {
      const id = this.id;
      const access = await fetchWhoami(this.token);
      if (id === this.id) this.setAccess(access);
    }
    if (!canRead(this.access.role)) throw refusedRole(this.access);
  }

  setAccess(access) {
    this.access = access;
    const signedIn = this.signedIn();
    setHidden(this.account, !signedIn);
    if (signedIn) {
      setText(this.accountName, access.name ?? "");
      setText(this.accountRole, access.role);
      setVariant(this.accountRole, ROLE_BADGE, access.role);
    }
    this.onAccess(access);
  }

  // The operator entered a token: resolves to a message when it is refused, else signs in.
  async tryToken(token) {
    let access;
    try {
      access = await fetchWhoami(token);
    } catch (error) {
      return refusalMessage(error, { entered: true });
    }
    if (access.authRequired && !canRead(access.role)) return refusedRole(access).detail;
    this.id++;
    this.token = access.authRequired ? token : "";
    if (this.token) writeToken(this.token);
    this.setAccess(access);
    this.signIn.hide();
    this.onSignedIn();
    return undefined;
  }

  // Forgets the token, and asks for one (saying why, if `message`).
  signOut(message) {
    this.id++;
    this.token = "";
    forgetToken();
    this.setAccess(undefined);
    this.onSignedOut();
    this.signIn.show(message);
  }

  // Signs out when `error` is the daemon refusing the token (401, 403, 429) during a refresh, and
  // says whether it did. `hadFleet`: the page has shown the fleet since it was opened.
  signOutIfRefused(error, { hadFleet }) {
    if (!(error instanceof ApiError && [401, 403, 429].includes(error.status))) return false;
    let message = refusalMessage(error, { entered: false });
    if (error.status === 401 && !this.token) {
      // On a first visit the prompt needs to say no more than how to sign in.
      message = hadFleet ? "The daemon now requires a token to show the fleet." : undefined;
    }
    this.signOut(message);
    return true;
  }

  // Signs out after the daemon refused the token of an action (401, or 429: too many wrong tokens).
  signOutRefused(error) {
    this.signOut(refusalMessage(error, { entered: false }));
  }
}

// The panel that asks for a token: a password input and a button (no <form>: the page's policy
// allows no form submission). `onToken(token)` resolves to a message when the token is refused.
class SignIn {
  constructor(root, { onToken }) {
    this.root = root;
    this.input = root.querySelector("#token-input");
    this.submit = root.querySelector("#sign-in-submit");
    this.message = root.querySelector("#sign-in-message");
    this.onToken = onToken;
    this.submit.addEventListener("click", () => this.send());
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.send();
      }
    });
  }

  shown() {
    return !this.root.hidden;
  }

  show(message) {
    setHidden(this.root, false);
    this.say(message);
    this.input.value = "";
    this.input.focus();
  }

  hide() {
    setHidden(this.root, true);
    this.input.value = "";
    this.say(undefined);
  }

  say(message) {
    setText(this.message, message ?? "");
    setHidden(this.message, !message);
  }

  async send() {
    if (this.submit.disabled) return;
    const token = this.input.value.trim();
    if (!token) return this.refuse("Enter a token.");
    // A header value carries no spaces or other characters than printable ASCII.
    if (!/^[\x21-\x7e]+$/.test(token)) return this.refuse("That is not a token: a token has no spaces and no accented letters.");
    this.submit.disabled = true;
    setAttr(this.submit, "aria-busy", "true");
    setText(this.submit, "Signing in…");
    try {
      const refused = await this.onToken(token);
      if (refused) this.refuse(refused);
    } finally {
      this.submit.disabled = false;
      setAttr(this.submit, "aria-busy", false);
      setText(this.submit, "Sign in");
    }
  }

  refuse(message) {
    this.say(message);
    this.input.select();
    this.input.focus();
  }
}

// Why the daemon refused a token, for the sign-in panel. `entered`: the operator just typed it
// (else the page had kept it, or had none).
function refusalMessage(error, { entered }) {
  if (error instanceof ApiError) {
    if (error.status === 429) {
      const wait = Number.isFinite(error.retryAfter) ? `${error.retryAfter} s` : "a minute";
      return `Too many wrong tokens came from this address: the daemon refuses every token for now. Wait ${wait}, then sign in again.`;
    }
    if (error.status === 401) {
      return entered
        ? "The daemon does not accept that token: check that it was copied whole, or ask for a new one."
        : "The daemon no longer accepts the token (it was removed from the tokens file, or the daemon restarted with other tokens). Sign in again.";
    }
    if (error.status === 403) return error.detail || "This token may not read the fleet.";
    return `The daemon answered ${error.status}${error.detail ? `: ${error.detail}` : ""}. Try again.`;
  }
  return error instanceof TypeError ? "The daemon cannot be reached. Try again." : `${error.message}. Try again.`;
}

// The 403 of a token that may not read the fleet (an agent's), without asking the daemon.
function refusedRole(access) {
  const detail = `The token "${access.name}" has the role ${access.role}, which may not read the fleet: sign in with a viewer, ci or admin token.`;
  return new ApiError("/api/whoami", 403, { error: "forbidden", detail });
}
