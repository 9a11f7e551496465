// Pure outbox rules, shared by the page and the service worker and unit-tested with node --test.
// An entry leaves the outbox only on a 2xx answer; nothing expires silently.

export const DONE = "done";
export const RETRY = "retry";
export const AUTH = "auth";
export const CSRF = "csrf";
export const ATTENTION = "attention";
export const SERVER = "server";
// A server error (5xx) answered this many times in a row is not a passing outage: the entry
// needs the rep (fix or discard) instead of being retried, unseen, for ever.
export const SERVER_ERROR_LIMIT = 3;

/** What to do with an entry after the server answered `status` (0: no answer). */
export function classify(status, body) {
  if (status >= 200 && status < 300) return DONE;
  if (status === 401) return AUTH;
  if (status === 400 && body && body.error === "csrf_failed") return CSRF;
  if (status === 422 || status === 403 || status === 404 || status === 400 || status === 413) {
    return ATTENTION;
  }
  if (status >= 500) return SERVER;
  // 0 (network error, timeout), 409 (still in progress), 429 and anything unexpected.
  return RETRY;
}

/** Milliseconds to wait before attempt number `attempts` (1-based), with jitter. */
export function backoff(attempts, { base = 2000, max = 5 * 60 * 1000, random = Math.random } = {}) {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

function text(value) {
  const trimmed = (value ?? "").toString().trim();
  return trimmed === "" ? null : trimmed;
}

/** Whole yen from what a person types: "12,000", "¥12000", "１２０００円". */
export function parseAmount(raw) {
  const value = text(raw);
  if (value === null) return null;
  const ascii = value
    .normalize("NFKC")
    .replace(/[¥,円\s]/g, "")
    .replace(/^\\/, "");
  return /^-?\d+$/.test(ascii) ? Number(ascii) : value;
}

/**
 * A day as the pages print it (Babel's short Japanese date): 2026-12-06 → 2026/12/06.
 * Anything that does not start with an ISO day is returned as it is; a time after it is kept.
 */
export function formatDay(value) {
  const text = (value ?? "").toString();
  return text.replace(/^(\d{4})-(\d{2})-(\d{2})(?=$|[T ])/, "$1/$2/$3");
}

/** An ISO 8601 instant with the device's offset, e.g. 2026-11-23T10:05:00+09:00. */
export function isoWithOffset(date) {
  const pad = (n) => String(Math.abs(Math.trunc(n))).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

const HEARING = { yes: true, true: true, 1: true, on: true, no: false, false: false, 0: false };

/** The API payload (docs/contract.md) from the visit form's fields (a Map-like with get/getAll). */
export function visitPayloadFromForm(form, { clientId, now = new Date() } = {}) {
  const get = (name) => form.get(name);
  const visitedRaw = text(get("visited_at"));
  const visitedAt = visitedRaw
    ? (/[zZ]|[+-]\d\d:?\d\d$/.test(visitedRaw) ? visitedRaw : isoWithOffset(new Date(visitedRaw)))
    : isoWithOffset(now);
  const hearing = get("hearing_done");
  const payload = {
    client_id: clientId || text(get("client_id")),
    customer_code: text(get("customer_code")),
    visited_at: visitedAt,
    purpose: text(get("purpose")),
    purpose_note: text(get("purpose_note")),
    // Unanswered is null, as the plain form sends it: the server asks, the client never guesses "no".
    hearing_done: HEARING[String(hearing ?? "").trim().toLowerCase()] ?? null,
    hearing_note: text(get("hearing_note")),
    note: text(get("note")),
    late_reason: text(get("late_reason")),
    // The moment the rep saved on the phone: the entry time while the outbox waits for signal
    // (the server trusts it only between the visit and its own receipt).
    saved_at: isoWithOffset(now),
  };
  const proposalMade = get("proposal_made");
  if (proposalMade && proposalMade !== "no" && proposalMade !== "0") {
    payload.proposal = {
      category: text(get("proposal_category")),
      kind: text(get("proposal_kind")),
      amount: parseAmount(get("proposal_amount")),
      note: text(get("proposal_note")),
    };
  }
  const action = text(get("next_action"));
  const due = text(get("next_action_due_on"));
  if (action || due) payload.next_action = { action: action ?? "", due_on: due };
  const completes = (form.getAll ? form.getAll("completes_follow_ups") : [])
    .map((id) => Number(id))
    .filter((id) => Number.isInteger(id) && id > 0);
  if (completes.length) payload.completes_follow_ups = completes;
  return payload;
}

/** A new outbox entry; `user` is the email it belongs to (another user never sends it). */
export function makeEntry(kind, { id, url, body, user, label = "", now = Date.now() }) {
  return {
    id,
    kind,
    url,
    body,
    user,
    label,
    createdAt: now,
    attempts: 0,
    nextAttemptAt: now,
    state: "pending",
    lastStatus: null,
    serverErrors: 0,
    errors: null,
  };
}

/** What the server said when it failed (its message, else its error code, else the status). */
export function serverMessage(status, body) {
  const said = body && (body.message || body.error);
  return said ? `${said} (HTTP ${status})` : `HTTP ${status}`;
}

/** The entry after an answer: state, attempts and next attempt time updated. */
export function afterAnswer(entry, status, body, { now = Date.now(), random = Math.random } = {}) {
  const outcome = classify(status, body);
  const next = { ...entry, attempts: entry.attempts + 1, lastStatus: status };
  if (outcome === DONE) return { entry: { ...next, state: "sent" }, outcome };
  if (outcome === ATTENTION) {
    return {
      // The field errors, else the server's words: a bare code ("not_found") is for machines.
      entry: {
        ...next,
        state: "attention",
        errors: (body && (body.errors || body.message || body.error)) || null,
      },
      outcome,
    };
  }
  if (outcome === AUTH || outcome === CSRF) {
    return { entry: { ...next, state: "pending", nextAttemptAt: now }, outcome };
  }
  if (outcome === SERVER) {
    const serverErrors = (entry.serverErrors || 0) + 1;
    const errors = serverMessage(status, body);
    if (serverErrors >= SERVER_ERROR_LIMIT) {
      return { entry: { ...next, serverErrors, state: "attention", errors }, outcome: ATTENTION };
    }
    const wait = now + backoff(next.attempts, { random });
    return { entry: { ...next, serverErrors, state: "pending", nextAttemptAt: wait, errors }, outcome };
  }
  if (status !== 0) Object.assign(next, { serverErrors: 0, errors: null }); // the streak is over
  return {
    entry: { ...next, state: "pending", nextAttemptAt: now + backoff(next.attempts, { random }) },
    outcome,
  };
}

/**
 * What to tell the rep once the first send of a just-saved entry is over (a key of the page's
 * strings): sent, refused (fix it), a server error (it retries, then asks), or offline.
 * A 5xx is never reported as "will sync when online": the phone was online.
 */
export function afterSaveMessage(entry) {
  if (!entry || entry.state === "sent") return "saved_synced";
  if (entry.state === "attention") return "needs_fix";
  if (entry.lastStatus >= 500) return "server_retry";
  return "saved_offline";
}

/**
 * Whether a one-tap action settles its item, so that the row offers nothing more: a follow-up
 * done or cancelled, a proposal's result. A follow-up moved to another day is still open: it
 * may yet be marked done (never moved again from the same row, which shows one status).
 */
export function settlesItem(kind) {
  return kind !== "follow_up_reschedule";
}

/**
 * What a one-tap row says once its entry reached the server (a key of the page's strings):
 * what was recorded ("Marked done.", "Recorded as lost."), not only that it synced.
 * "moved_to" carries a {date} for the caller to fill in.
 */
export function settledKey(kind, body = {}) {
  if (kind === "follow_up_done") return "marked_done";
  if (kind === "follow_up_cancel") return "cancelled";
  if (kind === "follow_up_reschedule") return "moved_to";
  return body?.status === "lost" ? "recorded_lost" : "recorded_won";
}

/** The entry made ready to send again at once (the outbox's "Try again" after server errors). */
export function retryNow(entry, now = Date.now()) {
  return { ...entry, state: "pending", serverErrors: 0, nextAttemptAt: now };
}

/**
 * Entries of this user that are due for sending, oldest first. `force` (the "sync now" button,
 * the device coming back online) skips the backoff wait: the person asked for it now.
 */
export function dueEntries(entries, user, now = Date.now(), { force = false } = {}) {
  return entries
    .filter((e) => e.user === user && e.state === "pending" && (force || e.nextAttemptAt <= now))
    .sort((a, b) => a.createdAt - b.createdAt);
}

const KATAKANA = /[\u30a1-\u30f6]/g;
// Python's white space (str.isspace): JS's \s also holds U+FEFF and lacks U+001C-U+001F, U+0085.
const SPACES = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
// Where Python's casefold() and toLowerCase() part in Latin and Greek (full case folding).
const CASEFOLD = {
  "\u00df": "ss",
  "\u01f0": "j\u030c",
  "\u0345": "\u03b9",
  "\u0390": "\u03b9\u0308\u0301",
  "\u03b0": "\u03c5\u0308\u0301",
  "\u03c2": "\u03c3",
};
const FOLDED = new RegExp(`[${Object.keys(CASEFOLD).join("")}]`, "g");

/**
 * The server's search key (fieldlog/rules/text.py search_key): width, kana and case folded, spaces
 * dropped. tests/test_text.py checks the two agree on a shared table and whole Unicode blocks.
 */
export function searchKey(value) {
  return (value ?? "")
    .toString()
    .normalize("NFKC")
    .replace(KATAKANA, (ch) => String.fromCharCode(ch.charCodeAt(0) - 0x60))
    .toLowerCase()
    .replace(FOLDED, (ch) => CASEFOLD[ch])
    .replace(SPACES, "");
}

/** The picker's search on the offline copy: code, name or reading, in the copy's order. */
export function matchCustomers(customers, query, limit = 20) {
  const key = searchKey(query);
  const found = [];
  for (const customer of customers || []) {
    if (found.length >= limit) break;
    const text =
      customer.search ?? searchKey(`${customer.code} ${customer.name} ${customer.name_kana || ""}`);
    if (text.includes(key)) found.push(customer);
  }
  return found;
}
