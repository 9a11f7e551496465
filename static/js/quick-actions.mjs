// One-tap "done", "won/lost", a follow-up's new date or cancel (the customer page) and Today's
// bulk reschedule / cancel go through the outbox too, so they work without signal.
// The row shows the result at once; the last tap on the same item wins.
import { enqueue, sync, t } from "./app.mjs";
import { afterSaveMessage, formatDay, settledKey, settlesItem } from "./outbox-core.mjs";
import { outbox } from "./outbox-store.mjs";

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function requestFor(form, submitter) {
  const id = form.dataset.id;
  if (form.dataset.outbox === "follow_up_done") {
    return { url: `/api/v1/follow-ups/${id}/done`, body: { done_on: today() } };
  }
  if (form.dataset.outbox === "follow_up_reschedule") {
    return { url: `/api/v1/follow-ups/${id}/reschedule`, body: { due_on: form.elements.due_on.value } };
  }
  if (form.dataset.outbox === "follow_up_cancel") {
    return { url: `/api/v1/follow-ups/${id}/cancel`, body: {} };
  }
  const status = submitter?.value || "won";
  // A correction keeps the day the proposal closed; a first result closes it today.
  const closedOn = form.dataset.closedOn || today();
  return { url: `/api/v1/proposals/${id}/close`, body: { status, closed_on: closedOn } };
}

// The same follow-up moved and then cancelled (or the other way round): only the last tap is sent.
const OVERRULES = { follow_up_cancel: "follow_up_reschedule", follow_up_reschedule: "follow_up_cancel" };

async function overrule(kind, id) {
  if (OVERRULES[kind]) await outbox.remove(`${OVERRULES[kind]}:${id}`);
}

// The same item's other one-tap forms in its row (Today: Move beside Done; the customer page:
// Done beside Cancel). A follow-up's forms never share a row with a proposal's.
function sameItemForms(row, form) {
  const family = (kind) => kind.startsWith("follow_up_");
  const kind = form.dataset.outbox;
  return [...(row?.querySelectorAll("form[data-outbox]") || [])].filter(
    (other) =>
      other !== form &&
      other.dataset.id === form.dataset.id &&
      family(other.dataset.outbox) === family(kind),
  );
}

function disable(forms) {
  for (const form of forms) {
    for (const control of form.querySelectorAll("button, input:not([type=hidden])")) {
      control.disabled = true;
    }
  }
}

for (const form of document.querySelectorAll("form[data-outbox]")) {
  form.addEventListener("submit", async (event) => {
    if (event.defaultPrevented) return; // the rep said no to "Cancel this follow-up?"
    event.preventDefault();
    const kind = form.dataset.outbox;
    const cancel = kind === "follow_up_cancel";
    const { url, body } = requestFor(form, event.submitter);
    // The outbox shows the button the rep tapped ("受注", "取り消す"), not the API's "won".
    const outcome =
      body.status || cancel
        ? event.submitter?.textContent.trim() || body.status || ""
        : formatDay(body.due_on || "");
    const label = [form.dataset.label, outcome].filter(Boolean).join(" · ");
    const row = form.closest("li") || form.parentElement;
    // Done, cancelled or a result: the item is settled, and none of its row's controls may be
    // tapped again (a move of a done follow-up is refused, and would wait in the outbox for
    // ever). Moved: Done stays, the row's other controls go with the form.
    const settles = settlesItem(kind);
    const others = settles ? sameItemForms(row, form) : [];
    disable([form, ...others]);
    row?.classList.add("is-settled");
    const note = document.createElement("span");
    note.className = "settled-note";
    note.setAttribute("role", "status");
    note.textContent = t("saved_sending");
    const id = `${kind}:${form.dataset.id}`;
    // Online it is sent at once: then the note says what was recorded, rather than leave
    // "will sync when online" standing ("Marked done.", "Due date moved to 2026/12/06.").
    const settled = t(settledKey(kind, body)).replace("{date}", formatDay(body.due_on || ""));
    const onSent = (sent) => {
      if (sent.detail?.entry?.id !== id) return;
      note.textContent = settled;
      window.removeEventListener("fieldlog:sent", onSent);
    };
    window.addEventListener("fieldlog:sent", onSent);
    await overrule(kind, form.dataset.id);
    await enqueue(kind, id, url, body, label);
    // "Saved" only once the entry is in the outbox: leaving the page earlier could lose it.
    // The row shows one status: its badge ("overdue since …", "won") and an earlier note (the
    // move before Done) give way to this note, which replaces the item's buttons.
    for (const stale of row?.querySelectorAll("[data-row-status], .settled-note") || []) {
      stale.remove();
    }
    for (const other of others) other.remove();
    // Done next to Cancel (a customer's follow-ups): the note replaces both buttons.
    const holder = form.parentElement?.classList.contains("two-buttons") ? form.parentElement : form;
    holder.replaceChildren(note);
    await sync(); // joins the send enqueue started: then say how it went
    const entry = await outbox.get(id);
    note.textContent = entry ? t(afterSaveMessage(entry)) : settled;
  });
}

// Today's long-overdue group: one outbox entry per ticked follow-up (the same calls as one
// row's Move, and the API's cancel), so the bulk actions wait for signal like the rest.
// Each entry is sent on its own: one refused (done meanwhile) leaves the others to go.
for (const form of document.querySelectorAll("form[data-outbox-bulk]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter?.value;
    const boxes = [...form.querySelectorAll("input[name=ids]:checked")];
    if (!boxes.length || (action !== "reschedule" && action !== "cancel")) return;
    const dueOn = form.elements.due_on?.value;
    if (action === "reschedule" && !dueOn) {
      form.elements.due_on.reportValidity?.();
      return;
    }
    const kind = action === "cancel" ? "follow_up_cancel" : "follow_up_reschedule";
    const outcome = action === "cancel" ? event.submitter.textContent.trim() : formatDay(dueOn);
    const settled = action === "cancel" ? t("cancelled") : t("moved_to").replace("{date}", formatDay(dueOn));
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    const ids = [];
    for (const box of boxes) {
      const id = box.value;
      const entryId = `${kind}:${id}`;
      ids.push(entryId);
      const url = `/api/v1/follow-ups/${id}/${action}`;
      const body = action === "cancel" ? {} : { due_on: dueOn };
      const label = [box.dataset.label, outcome].filter(Boolean).join(" · ");
      const row = box.closest("li");
      row?.classList.add("is-settled");
      const note = document.createElement("span");
      note.className = "settled-note";
      note.setAttribute("role", "status");
      note.textContent = t("saved_sending");
      note.dataset.entryId = entryId;
      box.disabled = true;
      await overrule(kind, id);
      await enqueue(kind, entryId, url, body, label);
      box.closest("label")?.append(note); // "saved" once it is: see the one-tap forms above
    }
    // Kept for the page's life: offline, the entries go when the signal comes back.
    const onSent = (sent) => {
      const note = form.querySelector(`.settled-note[data-entry-id="${sent.detail?.entry?.id}"]`);
      if (note) note.textContent = settled;
    };
    window.addEventListener("fieldlog:sent", onSent);
    await sync();
    for (const entryId of ids) {
      const note = form.querySelector(`.settled-note[data-entry-id="${entryId}"]`);
      const entry = await outbox.get(entryId);
      if (note) note.textContent = entry ? t(afterSaveMessage(entry)) : settled;
    }
  });
}
