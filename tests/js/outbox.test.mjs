// Unit tests for the outbox rules: node --test tests/js/
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  afterAnswer,
  ATTENTION,
  AUTH,
  backoff,
  classify,
  CSRF,
  DONE,
  dueEntries,
  formatDay,
  isoWithOffset,
  makeEntry,
  matchCustomers,
  parseAmount,
  RETRY,
  SERVER,
  SERVER_ERROR_LIMIT,
  searchKey,
  settledKey,
  settlesItem,
  visitPayloadFromForm,
} from "../../static/js/outbox-core.mjs";

test("only 2xx answers take an entry out of the outbox", () => {
  assert.equal(classify(201, {}), DONE);
  assert.equal(classify(200, {}), DONE);
  for (const status of [0, 409, 429]) assert.equal(classify(status, {}), RETRY);
  for (const status of [500, 502, 503, 504]) assert.equal(classify(status, {}), SERVER);
  assert.equal(classify(401, { error: "unauthorized" }), AUTH);
  assert.equal(classify(400, { error: "csrf_failed" }), CSRF);
  assert.equal(classify(422, { error: "invalid" }), ATTENTION);
  assert.equal(classify(422, { error: "client_id_reused" }), ATTENTION);
  assert.equal(classify(403, { error: "forbidden" }), ATTENTION);
});

test("backoff grows and is capped", () => {
  const fixed = { random: () => 1 };
  assert.equal(backoff(1, fixed), 2000);
  assert.equal(backoff(2, fixed), 4000);
  assert.equal(backoff(3, fixed), 8000);
  assert.equal(backoff(30, fixed), 300000);
  assert.equal(backoff(1, { random: () => 0 }), 1000);
});

test("amounts typed the Japanese way become whole yen", () => {
  assert.equal(parseAmount("12,000"), 12000);
  assert.equal(parseAmount("¥12000"), 12000);
  assert.equal(parseAmount("１２，０００円"), 12000);
  assert.equal(parseAmount(""), null);
  assert.equal(parseAmount("たくさん"), "たくさん");
});

function formOf(fields) {
  const map = new Map(Object.entries(fields));
  return {
    get: (k) => {
      const v = map.get(k);
      return Array.isArray(v) ? v[0] : (v ?? null);
    },
    getAll: (k) => {
      const v = map.get(k);
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    },
  };
}

test("the visit form becomes the API payload", () => {
  const payload = visitPayloadFromForm(
    formOf({
      client_id: "0b3c1b9e-3f7a-4a53-9a4c-5d1e2f3a4b5c",
      customer_code: "C-1",
      visited_at: "2026-11-23T10:05:00+09:00",
      purpose: "proposal",
      hearing_done: "yes",
      proposal_made: "yes",
      proposal_category: "OIL",
      proposal_kind: "",
      proposal_amount: "50,000",
      next_action: "見積提出",
      next_action_due_on: "2026-11-30",
      completes_follow_ups: ["3", "4"],
      note: "",
      late_reason: " 電波なし ",
    }),
    { now: new Date("2026-11-23T01:10:30Z") },
  );
  assert.deepEqual(payload, {
    client_id: "0b3c1b9e-3f7a-4a53-9a4c-5d1e2f3a4b5c",
    customer_code: "C-1",
    visited_at: "2026-11-23T10:05:00+09:00",
    purpose: "proposal",
    purpose_note: null,
    hearing_done: true,
    hearing_note: null,
    note: null,
    late_reason: "電波なし",
    saved_at: isoWithOffset(new Date("2026-11-23T01:10:30Z")),
    proposal: { category: "OIL", kind: null, amount: 50000, note: null },
    next_action: { action: "見積提出", due_on: "2026-11-30" },
    completes_follow_ups: [3, 4],
  });
});

test("no proposal and no next action leave those keys out", () => {
  const payload = visitPayloadFromForm(
    formOf({ customer_code: "C-1", purpose: "routine", hearing_done: "no" }),
    { clientId: "id-1", now: new Date("2026-11-23T01:00:00Z") },
  );
  assert.equal(payload.hearing_done, false);
  assert.equal("proposal" in payload, false);
  assert.equal("next_action" in payload, false);
  assert.match(payload.visited_at, /^2026-11-23T\d\d:00:00[+-]\d\d:\d\d$/);
});

test("an unanswered hearing question is sent as null, for the server to ask", () => {
  const base = { customer_code: "C-1", purpose: "routine" };
  const payload = (extra) => visitPayloadFromForm(formOf({ ...base, ...extra }), { clientId: "id" });
  assert.equal(payload({}).hearing_done, null);
  assert.equal(payload({ hearing_done: "" }).hearing_done, null);
  assert.equal(payload({ hearing_done: "yes" }).hearing_done, true);
  assert.equal(payload({ hearing_done: "no" }).hearing_done, false);
});

test("an answer moves the entry: sent, attention, or retry later", () => {
  const entry = makeEntry("visit", { id: "a", url: "/api/v1/visits", body: {}, user: "r@x", now: 0 });
  assert.equal(afterAnswer(entry, 201, {}, { now: 10 }).entry.state, "sent");
  const bad = afterAnswer(entry, 422, { error: "invalid", errors: { purpose: ["x"] } }, { now: 10 });
  assert.equal(bad.entry.state, "attention");
  assert.deepEqual(bad.entry.errors, { purpose: ["x"] });
  const later = afterAnswer(entry, 503, {}, { now: 10, random: () => 1 });
  assert.equal(later.entry.state, "pending");
  assert.equal(later.entry.nextAttemptAt, 10 + 2000);
  const auth = afterAnswer(entry, 401, {}, { now: 10 });
  assert.equal(auth.outcome, AUTH);
  assert.equal(auth.entry.state, "pending");
});

test("a refusal without field errors keeps the server's words, not its error code", () => {
  const entry = makeEntry("follow_up_done", { id: "a", url: "/", body: {}, user: "r@x", now: 0 });
  const gone = afterAnswer(entry, 404, { error: "not_found", message: "No such follow-up." });
  assert.equal(gone.entry.state, "attention");
  assert.equal(gone.entry.errors, "No such follow-up.");
  assert.equal(afterAnswer(entry, 403, { error: "forbidden" }).entry.errors, "forbidden");
  assert.equal(afterAnswer(entry, 404, null).entry.errors, null);
});

test("done, cancelled and a result settle the item; a move leaves Done to tap", () => {
  assert.equal(settlesItem("follow_up_done"), true);
  assert.equal(settlesItem("follow_up_cancel"), true);
  assert.equal(settlesItem("proposal_close"), true);
  assert.equal(settlesItem("follow_up_reschedule"), false);
});

test("a saved one-tap row says what was recorded", () => {
  assert.equal(settledKey("follow_up_done", { done_on: "2026-12-06" }), "marked_done");
  assert.equal(settledKey("follow_up_cancel", {}), "cancelled");
  assert.equal(settledKey("follow_up_reschedule", { due_on: "2026-12-06" }), "moved_to");
  assert.equal(settledKey("proposal_close", { status: "won" }), "recorded_won");
  assert.equal(settledKey("proposal_close", { status: "lost" }), "recorded_lost");
});

test("a server error repeated a few times needs attention, with the server's message", () => {
  let entry = makeEntry("visit", { id: "a", url: "/api/v1/visits", body: {}, user: "r@x", now: 0 });
  const failure = { error: "server_error", message: "Something went wrong on our side." };
  for (let n = 1; n < SERVER_ERROR_LIMIT; n += 1) {
    const answer = afterAnswer(entry, 500, failure, { now: n, random: () => 1 });
    assert.equal(answer.entry.state, "pending", `try ${n} is retried`);
    assert.equal(answer.outcome, SERVER);
    entry = answer.entry;
  }
  const last = afterAnswer(entry, 500, failure, { now: 99 });
  assert.equal(last.outcome, ATTENTION);
  assert.equal(last.entry.state, "attention");
  assert.equal(last.entry.errors, "Something went wrong on our side. (HTTP 500)");
  assert.equal(last.entry.attempts, SERVER_ERROR_LIMIT);
});

test("only server errors in a row count: another answer ends the streak", () => {
  let entry = makeEntry("visit", { id: "a", url: "/", body: {}, user: "r@x", now: 0 });
  entry = afterAnswer(entry, 503, null, { now: 1 }).entry;
  entry = afterAnswer(entry, 502, null, { now: 2 }).entry;
  assert.equal(entry.serverErrors, 2);
  assert.equal(entry.errors, "HTTP 502");
  entry = afterAnswer(entry, 0, null, { now: 3 }).entry; // offline: neither a failure nor a reset
  assert.equal(entry.serverErrors, 2);
  entry = afterAnswer(entry, 409, { error: "in_progress" }, { now: 4 }).entry;
  assert.equal(entry.serverErrors, 0);
  assert.equal(afterAnswer(entry, 500, null, { now: 5 }).entry.state, "pending");
});

test("only the current user's due entries are sent, oldest first", () => {
  const mk = (id, user, createdAt, extra = {}) => ({
    ...makeEntry("visit", { id, url: "/", body: {}, user, now: createdAt }),
    ...extra,
  });
  const entries = [
    mk("b", "me", 2),
    mk("a", "me", 1),
    mk("c", "other", 0),
    mk("d", "me", 0, { state: "attention" }),
    mk("e", "me", 0, { nextAttemptAt: 100 }),
  ];
  assert.deepEqual(
    dueEntries(entries, "me", 50).map((e) => e.id),
    ["a", "b"],
  );
});

test("'sync now' and coming back online skip the backoff wait, never another user's entries", () => {
  const mk = (id, user, extra = {}) => ({
    ...makeEntry("visit", { id, url: "/", body: {}, user, now: 0 }),
    ...extra,
  });
  const entries = [
    mk("waiting", "me", { nextAttemptAt: 300000, attempts: 6 }),
    mk("due", "me", { createdAt: 1 }),
    mk("fix-me", "me", { state: "attention" }),
    mk("theirs", "other", { nextAttemptAt: 300000 }),
  ];
  assert.deepEqual(
    dueEntries(entries, "me", 50).map((e) => e.id),
    ["due"],
  );
  assert.deepEqual(
    dueEntries(entries, "me", 50, { force: true }).map((e) => e.id),
    ["waiting", "due"],
  );
});

test("the offline search key folds width, kana and case like the server's", () => {
  // The same table tests/test_text.py checks fieldlog.rules.text.search_key against.
  const cases = JSON.parse(readFileSync(new URL("./search_key_cases.json", import.meta.url)));
  assert.ok(cases.length > 20);
  for (const [input, key] of cases) assert.equal(searchKey(input), key, JSON.stringify(input));
  assert.equal(searchKey(null), "");
});

test("the offline picker matches code, name or reading, in the copy's order", () => {
  const customers = [
    { code: "C1", name: "青空商店", name_kana: "アオゾラショウテン" },
    { code: "C2", name: "緑川工業", name_kana: "ミドリカワコウギョウ", search: "c2緑川工業みどりかわこうぎょう" },
    { code: "X3", name: "青山電機", name_kana: null },
  ];
  const codes = (found) => found.map((c) => c.code);
  assert.deepEqual(codes(matchCustomers(customers, "あおぞら")), ["C1"]);
  assert.deepEqual(codes(matchCustomers(customers, "ミドリ")), ["C2"]);
  assert.deepEqual(codes(matchCustomers(customers, "青")), ["C1", "X3"]);
  assert.deepEqual(codes(matchCustomers(customers, "x3")), ["X3"]);
  assert.deepEqual(codes(matchCustomers(customers, "青", 1)), ["C1"]);
  assert.deepEqual(matchCustomers(customers, "該当なし"), []);
});

test("days read as the pages print them: 2026/12/06", () => {
  assert.equal(formatDay("2026-12-06"), "2026/12/06");
  assert.equal(formatDay("2026-12-06 10:05"), "2026/12/06 10:05");
  assert.equal(formatDay("2026-12-06T10:05"), "2026/12/06T10:05");
  for (const other of ["", "tomorrow", "12-06", "x2026-12-06"]) assert.equal(formatDay(other), other);
  assert.equal(formatDay(undefined), "");
});
