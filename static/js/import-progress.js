// Polls an import job's progress and reloads the page when its state changes.
import { pollStatus } from "./poll-status.js";

const bar = document.querySelector(".import-progress[data-status-url]");
const card = document.querySelector(".import-job");

if (bar && card) {
  pollStatus(bar.dataset.statusUrl, (status) => {
    bar.value = status.progress;
    if (status.state === card.dataset.state) return false;
    window.location.reload();
    return true;
  });
}
