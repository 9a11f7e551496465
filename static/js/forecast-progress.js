// The 予実 card's forecast is computed in the background: show its progress, reload when done.
const bar = document.querySelector(".forecast-progress[data-status-url]");

async function poll() {
  try {
    const response = await fetch(bar.dataset.statusUrl, { credentials: "same-origin" });
    if (response.ok) {
      const status = await response.json();
      bar.value = status.progress;
      if (status.done) {
        window.location.reload();
        return;
      }
    }
  } catch (error) {
    // A dropped poll is retried.
  }
  setTimeout(poll, 700);
}

if (bar) {
  setTimeout(poll, 300);
}
