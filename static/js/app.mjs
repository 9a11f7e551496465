// Page bootstrap: service worker, sync triggers, pending count, update prompt, install hints.
import { makeEntry } from "./outbox-core.mjs";
import { kv, outbox } from "./outbox-store.mjs";
import { syncNow } from "./sync.mjs";

const user = document.querySelector('meta[name="fieldlog-user"]')?.content || "";
const strings = JSON.parse(document.getElementById("fieldlog-i18n")?.textContent || "{}");
export const t = (key) => strings[key] || key;
export const currentUser = () => user;

const AUTH_NEEDED_KEY = "fieldlog-auth-needed";
let waitingWorker = null;
// The person asked for the update while entries waited: it is applied once they are sent.
let updateAsked = false;

async function pendingCount() {
  if (!user) return 0;
  return (await outbox.forUser(user)).length;
}

async function refreshBadges() {
  if (!user) return;
  const entries = await outbox.forUser(user);
  const attention = entries.filter((e) => e.state === "attention").length;
  for (const badge of document.querySelectorAll("[data-outbox-count]")) {
    badge.textContent = String(entries.length);
    badge.hidden = entries.length === 0;
    badge.classList.toggle("has-attention", attention > 0);
  }
  const banner = document.getElementById("outbox-banner");
  if (banner) {
    banner.hidden = entries.length === 0;
    const label = banner.querySelector("[data-outbox-label]");
    if (label) {
      label.textContent = attention
        ? t("needs_attention").replace("{n}", attention)
        : t("pending").replace("{n}", entries.length);
    }
  }
  window.dispatchEvent(new CustomEvent("fieldlog:badges", { detail: { entries } }));
  if (updateAsked && entries.length === 0) applyUpdate();
}

function hasDraft() {
  return Boolean(user && localStorage.getItem(`fieldlog-draft:${user}`));
}

async function offerUpdate(worker) {
  waitingWorker = worker;
  const banner = document.getElementById("update-banner");
  if (!banner) return;
  banner.hidden = false;
}

async function applyUpdate() {
  if (!waitingWorker) return;
  updateAsked = true;
  const busy = (await outbox.all()).length > 0 || hasDraft();
  if (busy) {
    const note = document.getElementById("update-busy");
    if (note) note.hidden = false;
    return;
  }
  waitingWorker.postMessage({ type: "skip-waiting" });
}

async function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker?.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
      });
    });
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (waitingWorker && !reloading) {
        reloading = true;
        window.location.reload();
      }
    });
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data?.type === "sync") sync();
    });
    const ready = await navigator.serviceWorker.ready;
    // A page that started loading while the worker was still activating is left out of its
    // clients.claim(): ask again, so this page works offline without another navigation.
    if (!navigator.serviceWorker.controller) ready.active?.postMessage({ type: "claim" });
    if (user && navigator.onLine) ready.active?.postMessage({ type: "keep-pages", user });
    if (user && "sync" in registration) {
      registration.sync.register("fieldlog-outbox").catch(() => {});
    }
  } catch {
    // No service worker (private mode, http on a LAN address): the outbox still works.
  }
}

export async function sync({ force = false } = {}) {
  if (!user) return undefined;
  const result = await syncNow(user, { force });
  await refreshBadges();
  return result;
}

/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(message, ms = 4000) {
  let node = document.getElementById("toast");
  if (!node) {
    node = document.createElement("p");
    node.id = "toast";
    node.className = "toast";
    node.setAttribute("role", "status");
    document.body.append(node);
  }
  node.textContent = message;
  node.hidden = false;
  clearTimeout(node.hideTimer);
  node.hideTimer = setTimeout(() => {
    node.hidden = true;
  }, ms);
}

/** Queue an API call through the outbox and try to send it right away. */
export async function enqueue(kind, id, url, body, label = "") {
  await outbox.put(makeEntry(kind, { id, url, body, user, label }));
  await refreshBadges();
  sync();
}

function showInstallHint() {
  const ua = navigator.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (ua.includes("Mac") && "ontouchend" in document);
  const standalone = window.matchMedia("(display-mode: standalone)").matches || navigator.standalone;
  const hint = document.getElementById("install-hint");
  if (hint && ios && !standalone && !localStorage.getItem("fieldlog-install-hint-closed")) {
    hint.hidden = false;
    hint.querySelector("button")?.addEventListener("click", () => {
      hint.hidden = true;
      localStorage.setItem("fieldlog-install-hint-closed", "1");
    });
  }
}

// The offline copy (customers, follow-ups, purposes) is refreshed at most this often on page
// loads; coming back online or sending something refreshes it at once.
const OFFLINE_DATA_MAX_AGE_MS = 10 * 60 * 1000;

async function refreshOfflineData({ force = false } = {}) {
  if (!user || !navigator.onLine) return;
  const stamp = `fieldlog-offline-data-at:${user}`;
  if (!force && Date.now() - Number(localStorage.getItem(stamp) || 0) < OFFLINE_DATA_MAX_AGE_MS) {
    return;
  }
  try {
    const response = await fetch("/api/v1/offline-data", { credentials: "same-origin" });
    if (response.ok) {
      await kv.set(`offline-data:${user}`, await response.json());
      localStorage.setItem(stamp, String(Date.now()));
    }
  } catch {
    // Offline: keep the last copy.
  }
}

function showPendingToast() {
  const message = sessionStorage.getItem("fieldlog-toast");
  if (!message) return;
  sessionStorage.removeItem("fieldlog-toast");
  toast(message);
}

function start() {
  document.documentElement.classList.add("js");
  showPendingToast();
  if (document.getElementById("visit-form")) import("./visit-offline.mjs");
  if (document.querySelector("form[data-outbox], form[data-outbox-bulk]")) import("./quick-actions.mjs");
  registerWorker();
  refreshBadges();
  showInstallHint();
  if (user) {
    if (navigator.storage?.persist) navigator.storage.persist().catch(() => {});
    // Back from logging in after the session ended: what waited goes at once, backoff or not.
    const relogged = localStorage.getItem(AUTH_NEEDED_KEY) !== null;
    localStorage.removeItem(AUTH_NEEDED_KEY);
    sync({ force: relogged });
    refreshOfflineData({ force: relogged });
  }
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sync();
  });
  window.addEventListener("online", () => {
    sync({ force: true });
    refreshOfflineData({ force: true });
  });
  // What was just sent (a visit with a next action, a follow-up done) changes the copy.
  let refreshSoon = null;
  window.addEventListener("fieldlog:sent", () => {
    clearTimeout(refreshSoon);
    refreshSoon = setTimeout(() => refreshOfflineData({ force: true }), 1000);
  });
  window.addEventListener("fieldlog:outbox-changed", refreshBadges);
  window.addEventListener("fieldlog:auth-needed", () => {
    localStorage.setItem(AUTH_NEEDED_KEY, "1");
    const banner = document.getElementById("auth-banner");
    if (banner) banner.hidden = false;
  });
  for (const button of document.querySelectorAll("[data-sync-now]")) {
    button.addEventListener("click", async () => {
      const result = await sync({ force: true });
      if (result?.stopped === "offline") toast(t("still_offline"), 6000);
    });
  }
  // A step that cannot be undone (cancelling a follow-up) asks first; a mis-tap costs nothing.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // The same for one button of a form with several (Today's bulk cancel beside its reschedule).
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }
  document.getElementById("update-apply")?.addEventListener("click", applyUpdate);
  setInterval(() => {
    if (document.visibilityState === "visible") sync();
  }, 30000);
}

start();
