// A card whose figures are computed in the background (the 予実 card's forecast, the branch
// dashboard's lead analyses) shows its job's progress; when the job is done the finished card
// replaces this one (the rest of the page, and where the reader has scrolled to, stay as they
// are). If the card cannot be swapped, the page is reloaded.

import { pollStatus } from "./poll-status.js";

async function swapCard(section) {
  const heading = section.getAttribute("aria-labelledby");
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`page answered ${response.status}`);
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.querySelector(`section[aria-labelledby="${CSS.escape(heading)}"]`);
  if (!fresh) throw new Error("card not found");
  const card = document.importNode(fresh, true);
  section.replaceWith(card);
  watch(card);
}

function watchBar(bar) {
  const section = bar.closest("section[aria-labelledby]");
  pollStatus(
    bar.dataset.statusUrl,
    async (status) => {
      bar.value = status.progress;
      if (!status.done) return false;
      try {
        if (!section) throw new Error("no card");
        await swapCard(section);
      } catch (error) {
        window.location.reload();
      }
      return true;
    },
    { first: 300, every: 700 },
  );
}

function watch(root) {
  root.querySelectorAll("progress.card-progress[data-status-url]").forEach(watchBar);
}

watch(document);
