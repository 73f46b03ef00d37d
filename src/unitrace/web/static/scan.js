// The scan station (form[data-scan-queue]). A keyboard-wedge scanner types a code and Enter,
// and the next code follows at once, before the answer to the last one is in. So each Enter
// takes the code and the form's choices as they are at that moment, empties the field (the
// focus stays there) and queues the scan; the queue sends one scan at a time, in order, and
// each answer goes to the top (large: the latest) and into the list below — one answer per
// scan, none lost, none doubled.
//
// The queue is kept in the browser (IndexedDB, one queue per user), so that the station goes on
// when the network is gone and nothing scanned is lost by closing the tab: each scan is stored
// with its own event id (crypto.randomUUID) and the time it was scanned, and sent with both —
// a scan sent twice (the answer lost, the tab closed while it was on its way, two tabs) is
// written once by the server. The oldest is sent first; one is taken off the queue only when
// the server answered it (recorded or refused: each refusal is shown). Without a network the
// page says how many wait and sends them when the network is back, and on the next load.
(function () {
  "use strict";
  const form = document.querySelector("form[data-scan-queue]");
  if (!form) return;
  const field = form.elements.serial;
  const action = form.elements.action;
  const latest = document.getElementById("scan-latest");
  const history = document.getElementById("feedback");
  const waiting = form.querySelector('[data-testid="scan-waiting"]');
  const csrf = form.elements.csrf_token.value;
  const STORE = "scans";
  const RETRY_MS = 10000; // the server did not answer although the browser is online
  let sending = false;
  let retry = 0;

  // only the fields the chosen action takes are shown; the ones it needs are marked (not
  // `required`: the browser would then hold back the Enter, and the next scan would be typed
  // onto this one — the server names what is missing instead)
  function showFields() {
    form.querySelectorAll("[data-actions]").forEach(function (label) {
      const on = label.dataset.actions.split(" ").indexOf(action.value) >= 0;
      const needed = on && label.dataset.required.split(" ").indexOf(action.value) >= 0;
      label.hidden = !on;
      label.querySelectorAll("input, select").forEach(function (input) {
        if (needed) input.setAttribute("aria-required", "true");
        else input.removeAttribute("aria-required");
      });
    });
  }
  action.addEventListener("change", showFields);
  showFields();
  // a choice made (action, location, party, pallet): the next scan goes to the scan field
  form.addEventListener("change", function (event) {
    if (event.target !== field && event.target.matches("select, input[type=checkbox]")) {
      field.focus();
    }
  });

  // --- the queue in IndexedDB: {seq, id, time, fields}, in the order scanned ---
  let opened = null;
  function database() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        const request = indexedDB.open("unitrace-scan-queue-" + (form.dataset.user || ""), 1);
        request.onupgradeneeded = function () {
          request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return opened;
  }
  // no IndexedDB (a private window may refuse it): the queue lives in the page, still in order
  const memory = {
    rows: [],
    next: 1,
    add: function (job) {
      job.seq = this.next++;
      this.rows.push(job);
      return { result: job.seq };
    },
    getAll: function () { return { result: this.rows.slice(0, 1) }; },
    delete: function (seq) {
      this.rows = this.rows.filter(function (row) { return row.seq !== seq; });
      return { result: undefined };
    },
    count: function () { return { result: this.rows.length }; },
  };
  function stored(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        const done = db.transaction(STORE, mode);
        const request = work(done.objectStore(STORE));
        done.oncomplete = function () { resolve(request.result); };
        done.onerror = done.onabort = function () { reject(done.error); };
      });
    }, function () {
      return work(memory).result;
    });
  }
  const keep = function (job) { return stored("readwrite", function (s) { return s.add(job); }); };
  const oldest = function () {
    return stored("readonly", function (s) { return s.getAll(null, 1); }).then(function (all) {
      return all[0] || null;
    });
  };
  const drop = function (seq) { return stored("readwrite", function (s) { return s.delete(seq); }); };
  const count = function () { return stored("readonly", function (s) { return s.count(); }); };

  async function showWaiting(offline) {
    const n = await count();
    waiting.dataset.count = String(n);
    if (offline && n) waiting.textContent = form.dataset.queued.replace("%(n)s", String(n));
    else waiting.textContent = n > 1 ? form.dataset.waiting.replace("%(n)s", String(n)) : "";
    waiting.classList.toggle("fail", Boolean(offline && n));
  }

  // the station's answer (an <li>), or null: no answer to this scan (a network error, a
  // server error, a page instead of the answer) — the scan stays queued
  function answerItem(html) {
    const box = document.createElement("template");
    box.innerHTML = html.trim();
    const item = box.content.firstElementChild;
    return item && item.tagName === "LI" ? item : null;
  }

  // a note that the scan was not answered (yet); it stays in the queue
  function unanswered(code, text) {
    const fail = document.createElement("li");
    fail.className = "fail";
    fail.dataset.testid = "scan-unanswered";
    fail.setAttribute("role", "alert");
    fail.textContent = code + " ✘ " + text;
    return fail;
  }

  function show(item) {
    history.prepend(item);
    const copy = item.cloneNode(true);
    copy.removeAttribute("data-testid");
    latest.replaceChildren(copy);
  }

  function body(job) {
    const data = new URLSearchParams(job.fields);
    data.set("csrf_token", csrf); // this page's: the one the scan was made with may be old
    data.set("event_id", job.id);
    data.set("event_time", job.time);
    return data;
  }

  // one scan sent: true when the server answered it, false when it stays queued
  async function sendOne(job) {
    let answer;
    try {
      answer = await fetch(form.getAttribute("action"), { // form.action: the select
        method: "POST",
        body: body(job),
        headers: { "X-CSRF-Token": csrf },
        credentials: "same-origin",
      });
    } catch (error) {
      if (navigator.onLine) retry = setTimeout(send, RETRY_MS);
      return false;
    }
    const type = answer.headers.get("content-type") || "";
    const text = type.startsWith("text/") ? await answer.text() : "";
    const item = answer.status < 500 ? answerItem(text) : null;
    if (item === null) {
      const plain = answer.status < 500 && !text.trim().startsWith("<") ? text.trim() : "";
      show(unanswered(job.fields.serial, plain && plain.length < 200 ? plain : form.dataset.later));
      retry = setTimeout(send, RETRY_MS);
      return false;
    }
    show(item);
    await drop(job.seq);
    return true;
  }

  async function drain() {
    for (;;) {
      const job = await oldest();
      if (job === null) return true;
      if (!navigator.onLine || !(await sendOne(job))) return false;
      await showWaiting(false);
    }
  }

  let again = false; // a scan queued while the queue was being sent
  async function send() {
    if (sending) {
      again = true;
      return;
    }
    sending = true;
    clearTimeout(retry);
    let sent = false;
    try {
      do {
        again = false;
        // one sender per user and browser (two tabs of the station share the queue)
        sent = navigator.locks
          ? await navigator.locks.request("unitrace-scan-queue", drain)
          : await drain();
      } while (sent && again);
    } finally {
      sending = false;
      await showWaiting(!sent);
    }
  }

  // an id of its own for every scan (crypto.randomUUID needs https or this machine: a station
  // on plain http in the plant's network makes its version 4 UUID from random bytes)
  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
      hex.slice(20)].join("-");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const code = field.value.trim();
    field.value = "";
    field.focus();
    if (!code) return;
    const fields = {};
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && typeof value === "string") fields[name] = value;
    });
    fields.serial = code;
    const job = { id: newId(), time: new Date().toISOString(), fields: fields };
    keep(job).then(function () {
      showWaiting(!navigator.onLine);
      send();
    });
  });
  window.addEventListener("online", send);
  window.addEventListener("offline", function () { showWaiting(true); });
  send(); // what an earlier visit left queued
  // the page and its files kept for a reload without a network (static/scan-worker.js)
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/scan-worker.js", { scope: "/scan" }).catch(function () {});
  }
})();
