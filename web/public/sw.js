// Blu's service worker: shows the Web Push notifications the runtime sends (runtime/notify) and opens the
// session a notification is about. It caches nothing and handles no fetch: the page always talks to Blu.
// Payload (JSON, see runtime/notify/notifier.py Notice.payload): {kind, title, body, url, tag, at}.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = typeof data.title === "string" && data.title ? data.title : "Blu";
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    icon: "/icons/icon-192.png",
    badge: "/icons/badge-96.png",
    data: { url: sameOriginUrl(data.url), kind: data.kind || "" },
    timestamp: typeof data.at === "number" ? data.at * 1000 : Date.now(),
  };
  if (typeof data.tag === "string" && data.tag) {
    options.tag = data.tag;
    options.renotify = true;
  }
  event.waitUntil(self.registration.showNotification(title, options));
});

// Only Blu's own pages: a payload can never send the person elsewhere.
function sameOriginUrl(url) {
  try {
    const target = new URL(typeof url === "string" ? url : "/", self.location.origin);
    return target.origin === self.location.origin ? target.href : self.location.origin + "/";
  } catch {
    return self.location.origin + "/";
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameOriginUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (new URL(client.url).origin !== self.location.origin) continue;
        // An open Blu tab: bring it forward and let the page route to the session (no reload).
        await client.focus();
        client.postMessage({ type: "blu-open", url });
        return;
      }
      await self.clients.openWindow(url);
    })(),
  );
});
