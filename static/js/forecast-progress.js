// The 予実 card's forecast is computed in the background: show its progress, and when it is
// done put the finished card in place of this one (the rest of the page, and where the reader
// has scrolled to, stay as they are). If the card cannot be swapped, the page is reloaded.

const POLL_MS = 700;

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

function watch(root) {
  const bar = root.querySelector(".forecast-progress[data-status-url]");
  if (!bar) return;
  const section = bar.closest("section[aria-labelledby]");

  async function poll() {
    try {
      const response = await fetch(bar.dataset.statusUrl, { credentials: "same-origin" });
      if (response.ok) {
        const status = await response.json();
        bar.value = status.progress;
        if (status.done) {
          try {
            if (!section) throw new Error("no card");
            await swapCard(section);
          } catch (error) {
            window.location.reload();
          }
          return;
        }
      }
    } catch (error) {
      // A dropped poll is retried.
    }
    setTimeout(poll, POLL_MS);
  }
  setTimeout(poll, 300);
}

watch(document);
