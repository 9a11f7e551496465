// Sends the outbox, one sync at a time, with a CSRF token fetched fresh for each run.
import { afterAnswer, AUTH, CSRF, DONE, dueEntries } from "./outbox-core.mjs";
import { outbox } from "./outbox-store.mjs";

const TIMEOUT_MS = 15000;
let running = null;
let forced = false;

function emit(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

async function fetchWithTimeout(url, options) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  try {
    return await fetch(url, { ...options, signal: controller.signal, credentials: "same-origin" });
  } finally {
    clearTimeout(timer);
  }
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** A fresh CSRF token from /api/v1/session; null when logged out, undefined when offline. */
export async function fetchToken() {
  try {
    const response = await fetchWithTimeout("/api/v1/session", { cache: "no-store" });
    if (response.status === 401) return null;
    if (!response.ok) return undefined;
    const body = await readJson(response);
    return body ? body.csrf_token : undefined;
  } catch {
    return undefined;
  }
}

async function send(entry, token) {
  try {
    const response = await fetchWithTimeout(entry.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(entry.body),
    });
    return { status: response.status, body: await readJson(response) };
  } catch {
    return { status: 0, body: null };
  }
}

async function runSync(user, force) {
  let sent = 0;
  let stopped;
  const due = dueEntries(await outbox.all(), user, Date.now(), { force });
  if (!due.length) return { sent }; // nothing to send: no token, no request on every page load
  let token = await fetchToken();
  if (token === null) {
    emit("fieldlog:auth-needed", {});
    return { sent, stopped: "auth" };
  }
  if (token === undefined) return { sent, stopped: "offline" };
  for (const entry of due) {
    let answer = await send(entry, token);
    if (answer.status === 400 && answer.body && answer.body.error === "csrf_failed") {
      token = await fetchToken();
      if (token === null) emit("fieldlog:auth-needed", {});
      if (!token) break;
      answer = await send(entry, token);
    }
    const { entry: updated, outcome } = afterAnswer(entry, answer.status, answer.body);
    if (outcome === DONE) {
      await outbox.remove(entry.id);
      sent += 1;
      emit("fieldlog:sent", { entry, body: answer.body });
    } else {
      await outbox.put(updated);
      if (outcome === AUTH || outcome === CSRF) {
        emit("fieldlog:auth-needed", {});
        break;
      }
      if (answer.status === 0) {
        stopped = "offline"; // no point trying the rest now
        break;
      }
    }
  }
  emit("fieldlog:outbox-changed", {});
  return { sent, stopped };
}

/**
 * Sync this user's due entries; a call while one runs joins the running one. `force` sends
 * entries still waiting out their backoff; asked for during a run, it makes one more pass.
 */
export function syncNow(user, { force = false } = {}) {
  if (!user) return Promise.resolve({ sent: 0 });
  forced ||= force;
  if (running) return running;
  const passes = async () => {
    let result;
    do {
      const now = forced;
      forced = false;
      result = await runSync(user, now);
    } while (forced);
    return result;
  };
  const work = navigator.locks ? navigator.locks.request("fieldlog-sync", passes) : passes();
  running = work.finally(() => {
    running = null;
  });
  return running;
}
