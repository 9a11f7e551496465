// The outbox page: what is waiting, what needs attention, fix or discard.
import { currentUser, sync, t } from "./app.mjs";
import { formatDay, retryNow, SERVER_ERROR_LIMIT } from "./outbox-core.mjs";
import { outbox } from "./outbox-store.mjs";

const list = document.getElementById("outbox-list");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describe(entry) {
  const body = entry.body || {};
  if (entry.kind === "visit") {
    // The label is the customer as the form showed it ("name (code)"); older entries have none.
    const who = entry.label || body.customer_code;
    const when = formatDay((body.visited_at || "").slice(0, 16).replace("T", " "));
    return [t("kind_visit"), who, when].filter(Boolean).join(" · ");
  }
  return `${t(`kind_${entry.kind}`)} · ${entry.label || ""}`;
}

function errorsOf(entry) {
  if (!entry.errors) return [];
  if (typeof entry.errors === "string") return [entry.errors];
  // A field the page has no name for ("_", client_id) gets no prefix rather than its API key.
  return Object.entries(entry.errors).map(([field, messages]) => {
    const key = `field.${field}`;
    const text = [].concat(messages).join(" ");
    return t(key) === key ? text : `${t(key)}: ${text}`;
  });
}

async function render() {
  const entries = (await outbox.forUser(currentUser())).sort((a, b) => a.createdAt - b.createdAt);
  list.replaceChildren();
  if (!entries.length) {
    list.append(element("p", "empty", t("empty")));
    return;
  }
  for (const entry of entries) {
    const card = element("article", `card outbox-entry is-${entry.state}`);
    card.dataset.entryId = entry.id;
    card.append(element("p", "outbox-state", entry.state === "attention" ? t("attention") : t("waiting")));
    card.append(element("p", "outbox-what", describe(entry)));
    if (entry.attempts) card.append(element("p", "muted", `${t("attempts")}: ${entry.attempts}`));
    for (const message of errorsOf(entry)) card.append(element("p", "field-error", message));
    const actions = element("p", "outbox-actions");
    if (entry.state === "attention" && entry.kind === "visit") {
      const fix = element("a", "button", t("fix"));
      fix.href = `/visits/new?outbox=${encodeURIComponent(entry.id)}`;
      actions.append(fix);
    }
    if (entry.state === "attention" && (entry.serverErrors || 0) >= SERVER_ERROR_LIMIT) {
      // The server failed, the entry itself may be fine: sending it again is worth a tap.
      const retry = element("button", "button", t("retry"));
      retry.type = "button";
      retry.addEventListener("click", async () => {
        await outbox.put(retryNow(entry));
        await sync({ force: true });
        render();
      });
      actions.append(retry);
    }
    const discard = element("button", "button", t("discard"));
    discard.type = "button";
    discard.addEventListener("click", async () => {
      if (window.confirm(t("discard_confirm"))) {
        await outbox.remove(entry.id);
        window.dispatchEvent(new CustomEvent("fieldlog:outbox-changed"));
      }
    });
    actions.append(discard);
    card.append(actions);
    list.append(card);
  }
}

window.addEventListener("fieldlog:badges", render);
render();
sync();
