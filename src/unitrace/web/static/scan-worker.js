// The scan station's service worker (served as /scan-worker.js, registered by scan.js with the
// scope /scan). It keeps the station's page and the files it loads in the browser's cache, so
// that a station reloaded while the network is gone still opens and goes on queueing scans in
// IndexedDB (scan.js sends them when the network is back). Network first: whenever the server
// answers, its answer is used and kept; the cache answers only when the server cannot be
// reached. Only GET requests of this server for the page and /static/ are touched; scans
// (POST) always go to the network.
"use strict";
const CACHE = "unitrace-scan-station-1";
const KEPT = [
  "/scan",
  "/static/style.css",
  "/static/htmx.min.js",
  "/static/app.js",
  "/static/scan.js",
  "/static/camera.js",
  "/static/zxing-reader.js",
  "/static/zxing_reader.wasm",
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(KEPT); }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.startsWith("unitrace-scan-station-") && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const page = url.pathname === "/scan";
  if (!page && !url.pathname.startsWith("/static/")) return;
  const key = page ? "/scan" : url.pathname;
  event.respondWith(
    fetch(request).then(function (answer) {
      // the station itself, not a login page it was sent to
      if (answer.ok && !answer.redirected && answer.type === "basic") {
        const copy = answer.clone();
        event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(key, copy); }));
      }
      return answer;
    }).catch(function (error) {
      return caches.match(key, { cacheName: CACHE }).then(function (kept) {
        if (kept) return kept;
        throw error;
      });
    })
  );
});
