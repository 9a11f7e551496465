// Enhances the visit form: customer search, follow-ups of the chosen customer, quick chips.
// The form works without this file; every chip is a real radio input the server understands.
// Without signal the search and the follow-ups come from the rep's offline copy (app.mjs keeps it).
import { currentUser } from "./app.mjs";
import { matchCustomers } from "./outbox-core.mjs";
import { kv } from "./outbox-store.mjs";

const form = document.getElementById("visit-form");
// Strings come from the page's one translation block (fieldlog-i18n), as for every script.
const strings = JSON.parse(document.getElementById("fieldlog-i18n").textContent);

const select = form.querySelector("#customer_code");
const search = form.querySelector("#customer-search");
const results = form.querySelector("#customer-results");
const followUps = form.querySelector("#follow-ups");
const actionInput = form.querySelector("#next_action");
const dueInput = form.querySelector("#next_action_due_on");
const visitedAt = form.querySelector("#visited_at");

function pad(n) {
  return String(n).padStart(2, "0");
}

function isoDate(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function visitDay() {
  const value = (visitedAt.value || "").slice(0, 10);
  const [y, m, d] = value.split("-").map(Number);
  return y ? new Date(y, m - 1, d) : new Date();
}

function presetDate(preset) {
  const day = visitDay();
  if (preset === "1m") {
    const target = new Date(day.getFullYear(), day.getMonth() + 1, 1);
    const last = new Date(target.getFullYear(), target.getMonth() + 1, 0).getDate();
    target.setDate(Math.min(day.getDate(), last));
    return target;
  }
  const days = { "1d": 1, "1w": 7, "2w": 14 }[preset] || 0;
  day.setDate(day.getDate() + days);
  return day;
}

// The optional reason for a late entry: asked for only when the visit time is older than the
// company's late-entry days (counted in company dates, as the server counts them).
const lateBox = form.querySelector("#late-reason");

function companyToday() {
  const offset = form.dataset.utcOffset || "+00:00";
  const sign = offset.startsWith("-") ? -1 : 1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  return new Date(Date.now() + minutes * 60000).toISOString().slice(0, 10);
}

function showLateReason() {
  if (!lateBox) return;
  const day = (visitedAt.value || "").slice(0, 10);
  const reason = form.querySelector("#late_reason");
  if (!/^\d{4}-\d\d-\d\d$/.test(day)) {
    lateBox.classList.toggle("is-idle", !reason?.value);
    return;
  }
  const days = (Date.parse(companyToday()) - Date.parse(day)) / 86400000;
  lateBox.classList.toggle("is-idle", !(days > Number(lateBox.dataset.lateDays)) && !reason?.value);
}

// Time chips (now, 30 min ago, 1 h ago, yesterday): the visit time in company time, as the
// datetime-local field holds it.
function companyLocalTime(minutesAgo) {
  const offset = form.dataset.utcOffset || "+00:00";
  const sign = offset.startsWith("-") ? -1 : 1;
  const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  return new Date(Date.now() + (minutes - minutesAgo) * 60000).toISOString().slice(0, 16);
}

for (const chip of form.querySelectorAll("[data-minutes-ago]")) {
  chip.addEventListener("click", () => {
    visitedAt.value = companyLocalTime(Number(chip.dataset.minutesAgo));
    visitedAt.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

visitedAt.addEventListener("input", showLateReason);
visitedAt.addEventListener("change", showLateReason);
showLateReason();

form.addEventListener("change", (event) => {
  const input = event.target;
  if (input.name === "due_preset") {
    dueInput.value = isoDate(presetDate(input.value));
  } else if (input.name === "next_action_preset") {
    actionInput.value = input.dataset.text;
  } else if (input === dueInput) {
    form.querySelectorAll("input[name=due_preset]").forEach((r) => { r.checked = false; });
  }
});

function option(tag, className, label) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  el.textContent = label;
  return el;
}

/** JSON from the server, or what `offline(copy)` finds in the offline copy when that fails. */
async function lookUp(url, offline) {
  if (navigator.onLine) {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) return await response.json();
    } catch {
      // No signal, or the server is unreachable: fall back to the copy.
    }
  }
  const user = currentUser();
  const copy = user ? await kv.get(`offline-data:${user}`).catch(() => null) : null;
  return offline(copy?.customers || []);
}

async function loadFollowUps(code) {
  followUps.replaceChildren();
  if (!code) return;
  const url = form.dataset.followUpsUrl.replace("__code__", encodeURIComponent(code));
  const items = await lookUp(
    url,
    (customers) => customers.find((c) => c.code === code)?.open_follow_ups || [],
  );
  if (!items.length || select.value !== code) return;
  followUps.append(option("p", "hint", strings.open_follow_ups));
  for (const item of items) {
    const label = option("label", "check check-big", "");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "completes_follow_ups";
    box.value = item.id;
    const span = option("span", "", `${item.action} `);
    span.append(option("small", "muted", item.due_on));
    label.append(box, span);
    followUps.append(label);
  }
}

// The customer whose follow-ups are listed: the server lists the chosen one's, ticked as the
// Today link asked. A restored draft announces the same customer again; rebuilding the list then
// would drop those ticks and the saved visit would leave the follow-up open.
let listedFor = select.value;

select.addEventListener("change", () => {
  if (select.value === listedFor) return;
  listedFor = select.value;
  const chosen = document.getElementById("chosen-customer");
  if (chosen) chosen.remove();
  loadFollowUps(select.value);
});

let timer;
async function runSearch() {
  const q = search.value.trim();
  results.replaceChildren();
  if (!q) {
    results.hidden = true;
    return;
  }
  const found = await lookUp(`${form.dataset.searchUrl}?q=${encodeURIComponent(q)}`, (customers) =>
    matchCustomers(customers, q),
  );
  if (search.value.trim() !== q) return; // a newer search is on its way
  results.replaceChildren();
  results.hidden = false;
  if (!found.length) {
    results.append(option("li", "empty", strings.no_results));
    return;
  }
  for (const customer of found) {
    const li = document.createElement("li");
    const button = option("button", "result", "");
    button.type = "button";
    button.append(option("strong", "", customer.name), option("span", "muted", ` ${customer.code}`));
    button.addEventListener("click", () => {
      if (![...select.options].some((o) => o.value === customer.code)) {
        select.append(new Option(`${customer.name} (${customer.code})`, customer.code));
      }
      select.value = customer.code;
      select.dispatchEvent(new Event("change", { bubbles: true }));
      search.value = "";
      results.hidden = true;
    });
    li.append(button);
    results.append(li);
  }
}

search.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(runSearch, 200);
});

// The phone keyboard's Enter (検索, Go, 改行 after a kana conversion) must not save half a
// visit: in the search box it searches, and picks the customer when only one matches; in the
// other one-line fields it does nothing. Only the Save button saves.
form.addEventListener("keydown", async (event) => {
  const input = event.target;
  if (event.key !== "Enter" || event.isComposing || input.tagName !== "INPUT") return;
  if (["checkbox", "radio", "submit", "button"].includes(input.type)) return;
  event.preventDefault();
  if (input !== search) return;
  clearTimeout(timer);
  await runSearch();
  const found = results.querySelectorAll("button.result");
  if (found.length === 1) found[0].click();
});
