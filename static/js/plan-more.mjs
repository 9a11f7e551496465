// Today's "show all": the plan's rows after the handful are fetched when the list is opened.
// Without JavaScript, or when the fetch fails (offline), the link in the list opens the whole
// plan as a page (kept in the page cache like Today).
for (const details of document.querySelectorAll("details[data-rest-url]")) {
  details.addEventListener("toggle", async () => {
    if (!details.open || details.dataset.loaded) return;
    details.dataset.loaded = "loading";
    try {
      const response = await fetch(details.dataset.restUrl, { credentials: "same-origin" });
      if (!response.ok || response.redirected) throw new Error(String(response.status));
      // Server-rendered, escaped rows of the same origin (templates/field/plan_rest.html).
      details.querySelector("ul").innerHTML = await response.text();
      details.dataset.loaded = "yes";
    } catch {
      delete details.dataset.loaded; // the link to the whole plan stays; a later toggle retries
    }
  });
}
