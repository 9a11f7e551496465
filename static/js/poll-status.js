// Polls a background job's status URL until `onStatus` says it is done (returns true); a
// dropped poll is retried. Shared by the import page and the forecast card.
export function pollStatus(url, onStatus, { first = 500, every = 1000 } = {}) {
  async function poll() {
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok && (await onStatus(await response.json()))) return;
    } catch (error) {
      // Retried below; the page's own refresh fallback still works.
    }
    setTimeout(poll, every);
  }
  setTimeout(poll, first);
}
