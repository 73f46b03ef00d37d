// Channel pages (no inline script: the pages' CSP allows none).
(function () {
  "use strict";

  // The print button of a delivery note.
  document.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
  });

  // A stocktake's scan box (form[data-count-scan]) takes a keyboard-wedge scanner at full
  // speed: each Enter takes the serial typed so far and empties the field at once, so the next
  // scan's characters go into an empty field while the first is still on its way; the scans
  // are sent one after the other, in order, and each answer is put on top of the feedback.
  const queue = [];
  let sending = false;

  function show(list, html) {
    list.insertAdjacentHTML("afterbegin", html);
  }

  async function next() {
    if (sending || !queue.length) return;
    sending = true;
    const { form, body, list } = queue.shift();
    try {
      const answer = await fetch(form.action, {
        method: "POST",
        body: body,
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
      const text = await answer.text();
      if (answer.ok) {
        show(list, text);
      } else {
        const item = document.createElement("li");
        item.className = "fail";
        item.setAttribute("role", "alert");
        item.textContent = text.replace(/<[^>]*>/g, " ").trim() || String(answer.status);
        list.prepend(item);
      }
    } catch (error) {
      const item = document.createElement("li");
      item.className = "fail";
      item.setAttribute("role", "alert");
      item.textContent = list.dataset.offline || String(error);
      list.prepend(item);
    } finally {
      sending = false;
      next();
    }
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form[data-count-scan]")) return;
    event.preventDefault();
    const field = form.elements.namedItem("serial");
    const body = new URLSearchParams(new FormData(form));
    field.value = "";
    field.focus();
    if (!body.get("serial").trim()) return;
    const list = document.getElementById(form.dataset.feedback || "feedback");
    queue.push({ form: form, body: body, list: list });
    next();
  });
})();
