// FieldLog service worker {{ version }}: precached app shell, pages network-first with a cached
// fallback. Visits are never queued here: the page's IndexedDB outbox owns them.
const VERSION = {{ version|tojson }};
const SHELL = `fieldlog-shell-${VERSION}`;
const PAGES = "fieldlog-pages";
const ASSETS = {{ assets|tojson }};
const PAGE_URLS = {{ pages|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};

// Whose pages the page cache holds, and for which version: a synthetic entry in that cache.
const OWNER_KEY = "/__fieldlog/pages-owner";
let keeping = Promise.resolve(); // one run at a time: two tabs must not drop each other's pages

/** Keep the pages for offline use for this user: another user's are dropped first, missing
 * ones are fetched, and all are refreshed once for a new version. */
async function keepPages(user) {
  let pages = await caches.open(PAGES);
  const owner = await pages.match(OWNER_KEY);
  const [ownerUser, ownerVersion] = owner ? JSON.parse(await owner.text()) : [];
  if (ownerUser !== user) {
    await caches.delete(PAGES);
    pages = await caches.open(PAGES);
  }
  const current = ownerUser === user && ownerVersion === VERSION;
  await Promise.all(
    PAGE_URLS.map(async (url) => {
      if (current && (await pages.match(url))) return;
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        // Logged out, pages redirect to the login form: those are not kept.
        if (response.ok && !response.redirected) await pages.put(url, response);
      } catch {
        // Offline: the page is cached the next time it is opened.
      }
    }),
  );
  await pages.put(OWNER_KEY, new Response(JSON.stringify([user, VERSION])));
}

// Installing caches only the static shell, so the first page a user opens is controlled at
// once; the pages, which the server renders for the user, follow when the page asks for them.
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((shell) => shell.addAll(ASSETS)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("fieldlog-shell-") && key !== SHELL) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skip-waiting") self.skipWaiting();
  if (event.data?.type === "claim") event.waitUntil(self.clients.claim());
  // Sent by every page a logged-in user opens online: a user switch drops the other's pages.
  if (event.data?.type === "keep-pages" && event.data.user) {
    keeping = keeping.then(() => keepPages(event.data.user)).catch(() => {});
    event.waitUntil(keeping);
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag === "fieldlog-outbox") {
    event.waitUntil(
      self.clients.matchAll({ type: "window" }).then((clients) => {
        for (const client of clients) client.postMessage({ type: "sync" });
      }),
    );
  }
});

async function pageFromNetwork(request) {
  const url = new URL(request.url);
  const key = url.pathname + url.search;
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected && request.method === "GET") {
      const pages = await caches.open(PAGES);
      await pages.put(key, response.clone());
    }
    return response;
  } catch {
    const pages = await caches.open(PAGES);
    return (
      (await pages.match(key)) ||
      (await pages.match(url.pathname)) ||
      (await caches.match(OFFLINE_URL)) ||
      new Response("offline", { status: 503, headers: { "Content-Type": "text/plain" } })
    );
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return;
  if (url.pathname.startsWith("/api/")) return; // always the network: never stale data or tokens
  if (request.mode === "navigate") {
    event.respondWith(pageFromNetwork(request));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request, { ignoreSearch: true }).then((hit) => hit || fetch(request)),
    );
  }
});
