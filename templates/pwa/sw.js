// FieldLog service worker {{ version }}: precached app shell, pages network-first with a cached
// fallback. Visits are never queued here: the page's IndexedDB outbox owns them.
const VERSION = {{ version|tojson }};
const SHELL = `fieldlog-shell-${VERSION}`;
const PAGES = "fieldlog-pages";
const ASSETS = {{ assets|tojson }};
const PAGE_URLS = {{ pages|tojson }};
const OFFLINE_URL = {{ offline_url|tojson }};

async function cachePages() {
  const pages = await caches.open(PAGES);
  await Promise.all(
    PAGE_URLS.map(async (url) => {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        // Logged out, pages redirect to the login form: those are not kept.
        if (response.ok && !response.redirected) await pages.put(url, response);
      } catch {
        // Offline: the page is cached the next time it is opened.
      }
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const shell = await caches.open(SHELL);
      await shell.addAll(ASSETS);
      await cachePages();
    })(),
  );
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
  // A user logged in on this phone: drop the previous user's pages and keep this user's.
  if (event.data?.type === "reset-pages") {
    event.waitUntil(caches.delete(PAGES).then(cachePages));
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
