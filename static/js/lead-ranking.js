// Polls the KPI ranking's background job and swaps in the finished panel (no page reload, so
// the KPI form keeps what was typed). Without JavaScript the page shows the ranking when opened
// again.
const panel = document.querySelector(".lead-ranking[data-status-url]");

async function poll() {
  try {
    const response = await fetch(panel.dataset.statusUrl, { credentials: "same-origin" });
    if (response.ok) {
      const status = await response.json();
      const bar = panel.querySelector(".lead-progress");
      if (bar && status.total) {
        bar.value = status.done / status.total;
      }
      if (status.state === "done" || status.state === "failed") {
        const fresh = await fetch(panel.dataset.panelUrl, { credentials: "same-origin" });
        if (fresh.ok) {
          panel.outerHTML = await fresh.text();
          return;
        }
      }
    }
  } catch (error) {
    // A dropped poll is retried.
  }
  setTimeout(poll, 1500);
}

if (panel && panel.dataset.state !== "done" && panel.dataset.state !== "failed") {
  setTimeout(poll, 1000);
}
