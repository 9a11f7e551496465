// Polls an import job's progress and reloads the page when its state changes.
const bar = document.querySelector(".import-progress[data-status-url]");
const card = document.querySelector(".import-job");

async function poll() {
  try {
    const response = await fetch(bar.dataset.statusUrl, { credentials: "same-origin" });
    if (response.ok) {
      const status = await response.json();
      bar.value = status.progress;
      if (status.state !== card.dataset.state) {
        window.location.reload();
        return;
      }
    }
  } catch (error) {
    // A dropped poll is retried; the page's refresh fallback still works.
  }
  setTimeout(poll, 1000);
}

if (bar && card) {
  setTimeout(poll, 500);
}
