// The scan station (form[data-scan-queue]). A keyboard-wedge scanner types a code and Enter,
// and the next code follows at once, before the answer to the last one is in. So each Enter
// takes the code and the form's choices as they are at that moment, empties the field (the
// focus stays there) and queues the scan; the queue sends one scan at a time, in order, and
// each answer goes to the top (large: the latest) and into the list below — one answer per
// scan, none lost, none doubled.
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
  const queue = [];
  let sending = false;

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

  function showWaiting() {
    const n = queue.length + (sending ? 1 : 0);
    waiting.textContent = n > 1 ? form.dataset.waiting.replace("%(n)s", String(n)) : "";
  }

  // the station's answer (an <li>), or a refusal that names the scan and says what to do
  function answerItem(code, html) {
    const box = document.createElement("template");
    box.innerHTML = html.trim();
    const item = box.content.firstElementChild;
    if (item && item.tagName === "LI") return item;
    const fail = document.createElement("li");
    fail.className = "fail";
    fail.dataset.testid = "scan-fail";
    fail.setAttribute("role", "alert");
    const plain = item === null ? box.content.textContent.trim() : ""; // a page's own message
    fail.textContent = code + " ✘ " + (plain && plain.length < 200 ? plain : form.dataset.offline);
    return fail;
  }

  function show(item) {
    history.prepend(item);
    const copy = item.cloneNode(true);
    copy.removeAttribute("data-testid");
    latest.replaceChildren(copy);
  }

  async function send() {
    if (sending) return;
    sending = true;
    while (queue.length) {
      showWaiting();
      const job = queue.shift();
      let item;
      try {
        const answer = await fetch(form.getAttribute("action"), { // form.action: the select
          method: "POST",
          body: job,
          headers: { "X-CSRF-Token": csrf },
          credentials: "same-origin",
        });
        const type = answer.headers.get("content-type") || "";
        item = answerItem(job.get("serial"), type.startsWith("text/") ? await answer.text() : "");
      } catch (error) {
        item = answerItem(job.get("serial"), "");
      }
      show(item);
    }
    sending = false;
    showWaiting();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const code = field.value.trim();
    field.value = "";
    field.focus();
    if (!code) return;
    const job = new URLSearchParams(new FormData(form));
    job.set("serial", code);
    queue.push(job);
    send();
  });
})();
