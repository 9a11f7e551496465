// Offline-first saving for the visit form: the entry goes to the IndexedDB outbox before any
// network attempt, the form keeps a draft while it is filled, and a rejected entry comes back
// here to be fixed. Without JavaScript the form still posts to the server as a plain form.
import { currentUser, enqueue, sync, t, toast } from "./app.mjs";
import { afterSaveMessage, visitPayloadFromForm } from "./outbox-core.mjs";
import { outbox } from "./outbox-store.mjs";

const form = document.getElementById("visit-form");
const user = currentUser();
const DRAFT_KEY = `fieldlog-draft:${user}`;
const SKIP = new Set(["csrf_token", "client_id"]);
const params = new URLSearchParams(window.location.search);

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function formValues() {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (SKIP.has(name)) continue;
    (values[name] ||= []).push(value);
  }
  return values;
}

function setValues(values) {
  for (const element of form.elements) {
    if (!element.name || SKIP.has(element.name)) continue;
    const wanted = values[element.name];
    if (element.type === "radio" || element.type === "checkbox") {
      element.checked = Boolean(wanted && wanted.includes(element.value));
    } else if (wanted !== undefined) {
      if (element.tagName === "SELECT" && ![...element.options].some((o) => o.value === wanted[0])) {
        element.append(new Option(wanted[0], wanted[0]));
      }
      element.value = wanted[0];
    }
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }
}

function meaningful(values) {
  const ignore = new Set(["visited_at", "customer_code"]);
  return Object.entries(values).some(
    ([name, list]) => !ignore.has(name) && list.some((v) => String(v).trim() !== ""),
  );
}

function saveDraft() {
  const values = formValues();
  if (meaningful(values)) localStorage.setItem(DRAFT_KEY, JSON.stringify(values));
  else localStorage.removeItem(DRAFT_KEY);
}

/** A new client_id for the entry this form will save (a page kept offline is reused). */
function freshClientId() {
  if (form.elements.client_id) form.elements.client_id.value = newClientId();
}

/** The form as the server rendered it, with a new client_id: nothing of a saved visit left. */
function resetForm() {
  form.reset();
  freshClientId();
  saving = false;
  delete form.dataset.saved;
  form.querySelector("button[type=submit]").disabled = false;
  document.getElementById("draft-note")?.remove();
}

function announceDraft() {
  const note = document.createElement("p");
  note.id = "draft-note";
  note.className = "draft-note";
  note.setAttribute("role", "status");
  note.append(document.createTextNode(`${t("draft_restored")} `));
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link-button";
  discard.textContent = t("discard");
  discard.addEventListener("click", () => {
    localStorage.removeItem(DRAFT_KEY);
    resetForm();
  });
  note.append(discard);
  form.before(note);
}

function restoreDraft() {
  const raw = localStorage.getItem(DRAFT_KEY);
  if (!raw) return;
  const draft = JSON.parse(raw);
  const chosen = params.get("customer");
  if (chosen && draft.customer_code && draft.customer_code[0] !== chosen) return;
  setValues(draft);
  announceDraft();
}

/** The form fields for a payload (the reverse of visitPayloadFromForm), to fix an entry. */
function valuesFromPayload(body) {
  const values = {
    customer_code: [body.customer_code || ""],
    visited_at: [(body.visited_at || "").slice(0, 16)],
    purpose: [body.purpose || ""],
    purpose_note: [body.purpose_note || ""],
    // Unanswered stays unanswered: a fix must not record "no" the rep never chose.
    hearing_done: [body.hearing_done === true ? "yes" : body.hearing_done === false ? "no" : ""],
    hearing_note: [body.hearing_note || ""],
    note: [body.note || ""],
    late_reason: [body.late_reason || ""],
  };
  if (body.proposal) {
    values.proposal_made = ["1"];
    values.proposal_category = [body.proposal.category || ""];
    values.proposal_kind = [body.proposal.kind || ""];
    values.proposal_amount = [body.proposal.amount == null ? "" : String(body.proposal.amount)];
    values.proposal_note = [body.proposal.note || ""];
  }
  if (body.next_action) {
    values.next_action = [body.next_action.action || ""];
    values.next_action_due_on = [body.next_action.due_on || ""];
  }
  return values;
}

function showErrors(errors) {
  const names = {
    "proposal.category": "proposal_category",
    "proposal.kind": "proposal_kind",
    "proposal.amount": "proposal_amount",
    "proposal.note": "proposal_note",
    "next_action.action": "next_action",
    "next_action.due_on": "next_action_due_on",
  };
  document.getElementById("visit-errors")?.remove();
  const box = document.createElement("div");
  box.id = "visit-errors";
  box.className = "form-error";
  box.setAttribute("role", "alert");
  const list = typeof errors === "string" ? { form: [errors] } : errors || {};
  for (const [field, messages] of Object.entries(list)) {
    const line = document.createElement("p");
    // querySelector, not form.elements: a radio group (purpose, hearing_done) is a RadioNodeList.
    const input = form.querySelector(`[name="${names[field] || field}"]`);
    // A field the form has no legend for is named as the outbox names it, or not at all: never
    // by its API key ("client_id", or "form" for a message of the whole entry).
    const named = t(`field.${field}`) === `field.${field}` ? "" : t(`field.${field}`);
    const label = input?.closest("fieldset")?.querySelector("legend")?.textContent || named;
    const text = [].concat(messages).join(" ");
    line.textContent = label ? `${label}: ${text}` : text;
    box.append(line);
  }
  form.before(box);
  return box;
}

/**
 * What the rep can fix before the visit is queued: the required answers and a next action
 * due before the visit. Offline, a visit missing them would wait and be refused hours later,
 * when the visit is no longer fresh in mind. The server still checks everything.
 */
function missingAnswers(payload) {
  const problems = {};
  if (!payload.customer_code) problems.customer_code = [t("need.customer_code")];
  if (!payload.purpose) problems.purpose = [t("need.purpose")];
  if (payload.hearing_done === null) problems.hearing_done = [t("need.hearing_done")];
  // A date chip without an action, or an action without a date: half a next action.
  if (payload.next_action && !payload.next_action.action) {
    problems["next_action.action"] = [t("need.action")];
  }
  const due = payload.next_action?.due_on;
  if (payload.next_action && !due) problems["next_action.due_on"] = [t("need.due_date")];
  if (due && payload.visited_at && due < payload.visited_at.slice(0, 10)) {
    problems["next_action.due_on"] = [t("need.due_on")];
  }
  return problems;
}

function withOffset(value) {
  // datetime-local has no offset: it is in the company timezone, whose offset the form carries.
  if (!value || /[zZ]|[+-]\d\d:\d\d$/.test(value)) return value;
  const seconds = value.length === 16 ? ":00" : "";
  return `${value}${seconds}${form.dataset.utcOffset || ""}`;
}

// One save per form: a second tap while the first is queued, or Save again on a page the
// browser restored after the save (Back), never makes a second visit.
let saving = false;

async function save(event) {
  event.preventDefault();
  if (saving || form.dataset.saved) return;
  saving = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const data = new FormData(form);
  data.set("visited_at", withOffset(data.get("visited_at")));
  const fixing = params.get("outbox");
  // The form's own client_id: the same entry however often Save is tapped. A fix replaces
  // the refused entry with a new one.
  const clientId = fixing || !form.elements.client_id?.value ? newClientId() : form.elements.client_id.value;
  const payload = visitPayloadFromForm(data, { clientId });
  const fixed = fixing ? await outbox.get(fixing) : null;
  // A fixed entry keeps the moment it was first saved on the phone: fixing is not entering.
  if (fixed?.body?.saved_at) payload.saved_at = fixed.body.saved_at;
  const missing = missingAnswers(payload);
  if (Object.keys(missing).length) {
    saving = false;
    button.disabled = false;
    showErrors(missing).scrollIntoView({ block: "center" });
    return;
  }
  const customer = form.elements.customer_code;
  // No customer chosen: no label, not the placeholder option's "Choose a customer".
  const label = (customer?.value && customer.selectedOptions?.[0]?.textContent) || "";
  await enqueue("visit", clientId, "/api/v1/visits", payload, label);
  form.dataset.saved = clientId;
  localStorage.removeItem(DRAFT_KEY);
  if (fixing) await outbox.remove(fixing);
  toast(t("saved_sending"));
  // Give the sync a moment: online, the visit is on the server before Today loads.
  await Promise.race([sync(), new Promise((resolve) => setTimeout(resolve, 4000))]);
  const entry = await outbox.get(clientId);
  if (entry && entry.state === "attention") {
    window.location.assign(`${form.action}?outbox=${encodeURIComponent(clientId)}`);
    return;
  }
  sessionStorage.setItem("fieldlog-toast", t(afterSaveMessage(entry)));
  window.location.assign(form.dataset.doneUrl || "/");
}

async function start() {
  if (!form || !user) return;
  // Back after saving: the browser may bring this page back as it was left, filled in (from
  // its back-forward cache, or by restoring the fields of a reloaded page). Either way it
  // starts over from the server's form with a new client_id: what was not saved comes back
  // from the draft below, what was saved can neither be sent again nor pass for a new visit.
  const [navigation] = performance.getEntriesByType?.("navigation") || [];
  if (navigation?.type === "back_forward") form.reset();
  freshClientId();
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && form.dataset.saved) resetForm();
  });
  const fixing = params.get("outbox");
  if (fixing) {
    const entry = await outbox.get(fixing);
    if (entry && entry.user === user) {
      setValues(valuesFromPayload(entry.body));
      if (entry.errors) showErrors(entry.errors);
    }
  } else {
    restoreDraft();
  }
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", saveDraft);
  form.addEventListener("submit", save);
}

start();
