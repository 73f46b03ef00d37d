// Page behaviour that every page shares, from a static file so that the Content-Security-Policy
// can refuse inline scripts and event handlers (script-src 'self'). Listeners sit on the
// document, so content htmx swaps in behaves the same.
(function () {
  "use strict";

  // The few words this file says itself, in the page's language (<html lang>); everything
  // else it shows comes from the server, already translated.
  const WORDS = {
    en: {
      refused: "The request was refused (%s).",
      unreachable: "The server could not be reached. Check the connection and try again.",
    },
    "zh-CN": {
      refused: "请求被拒绝（%s）。",
      unreachable: "无法连接服务器。请检查网络后重试。",
    },
  };
  function word(key, status) {
    const lang = document.documentElement.lang || "en";
    const words = WORDS[lang] || WORDS[lang.split("-")[0]] || WORDS.en;
    return words[key].replace("%s", String(status || ""));
  }

  // --- scanning forms ---------------------------------------------------------------------
  // A scanning form (data-scan-form) is sent by a keyboard-wedge scanner's Enter, many times in
  // a row and faster than the server answers. Its serial is taken and the field emptied at
  // once, so the next scan's characters never mix with this one; requests queue in order
  // (hx-sync="this:queue all") and each carries its own serial. Fields marked data-per-scan
  // (a measured value) are emptied with it; the others (step, result, station) stay.
  function scanForm(element) {
    return element && element.closest ? element.closest("form[data-scan-form]") : null;
  }

  function sendScan(form) {
    const values = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") values[name] = value;
    });
    const serial = form.elements.serial;
    if (serial) {
      values.serial = serial.value.trim();
      serial.value = "";
    }
    form.querySelectorAll("[data-per-scan]").forEach(function (field) {
      field.value = "";
    });
    if (serial) serial.focus();
    // queued, every one: htmx's default keeps only the last request that waits
    if (!form.hasAttribute("hx-sync")) form.setAttribute("hx-sync", "this:queue all");
    window.htmx.ajax("POST", form.getAttribute("hx-post") || form.action, {
      source: form,
      target: form.getAttribute("hx-target") || form,
      swap: form.getAttribute("hx-swap") || "afterbegin",
      values: values,
    });
  }

  document.addEventListener(
    "submit",
    function (event) {
      const form = event.target;
      if (!(form.matches && form.matches("form[data-scan-form]")) || !window.htmx) return;
      event.preventDefault();
      event.stopImmediatePropagation(); // htmx must not send it a second time
      sendScan(form);
    },
    true
  );

  // Enter in another text field of a scanning form (a measured value, a defect code) moves to
  // the serial field instead of sending a scan without a serial.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing) return;
    const field = event.target;
    const form = scanForm(field);
    if (!form || !form.elements.serial || field === form.elements.serial) return;
    if (field.matches && field.matches("input:not([type=hidden]):not([type=checkbox])")) {
      event.preventDefault();
      form.elements.serial.focus();
    }
  });

  // A setting of a scanning form changed (the step, the result): back to the serial field, so
  // that the scanner's next code goes there.
  document.addEventListener("change", function (event) {
    const form = scanForm(event.target);
    if (form && form.elements.serial && event.target.matches("select")) form.elements.serial.focus();
  });

  // After each answer the serial field has the focus again, unless the user went to another
  // field meanwhile.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = scanForm(event.detail.elt || event.target);
    if (!form || !form.elements.serial) return;
    const active = document.activeElement;
    if (!active || active === document.body || active.tagName === "BUTTON") {
      form.elements.serial.focus();
    }
  });

  // Counts of what a feedback list holds: <span data-tally="feedback"><b data-count="li.ok">…
  function tally() {
    document.querySelectorAll("[data-tally]").forEach(function (box) {
      const list = document.getElementById(box.dataset.tally);
      if (!list) return;
      box.querySelectorAll("[data-count]").forEach(function (number) {
        number.textContent = String(list.querySelectorAll(number.dataset.count).length);
      });
    });
  }
  document.addEventListener("htmx:afterSettle", tally);

  // --- refused requests: always shown ----------------------------------------------------
  // htmx does not swap a 4xx or 5xx answer in, and says so only on the console. Here an HTML
  // answer (a form with its errors next to the fields, a red scan line) is swapped in like a
  // success; anything else (a JSON problem, a bare text, a whole page where a fragment was
  // expected) is shown in a role="alert" box above the form that sent it, each field's
  // message next to its field.
  // The box sits above the form, or in a scanning form under its serial field, where the
  // worker looks.
  function boxPlace(source) {
    const form = source && source.closest ? source.closest("form") : null;
    const serial = form && form.matches("[data-scan-form]") && form.elements.serial;
    const label = serial && serial.closest("label");
    if (label && label.parentNode) return { parent: label.parentNode, before: label.nextSibling, after: label };
    const anchor = form || source || document.querySelector("main");
    return anchor && anchor.parentNode ? { parent: anchor.parentNode, before: anchor, after: anchor.previousElementSibling } : null;
  }

  function existingBox(source) {
    const place = boxPlace(source);
    if (!place) return null;
    const next = place.before;
    const prev = place.after;
    if (next && next.nodeType === 1 && next.matches("[data-request-error]")) return next;
    if (prev && prev.nodeType === 1 && prev.matches("[data-request-error]")) return prev;
    const sibling = place.after && place.after.nextElementSibling;
    return sibling && sibling.matches("[data-request-error]") ? sibling : null;
  }

  // A new box for each refusal (the old one goes): a screen reader announces a role="alert"
  // element when it appears, not when its text changes.
  function alertBox(source) {
    const old = existingBox(source);
    if (old) old.remove();
    const place = boxPlace(source);
    if (!place) return null;
    const box = document.createElement("div");
    box.className = "error request-error";
    box.setAttribute("role", "alert");
    box.setAttribute("data-request-error", "");
    box.setAttribute("data-testid", "request-error");
    place.parent.insertBefore(box, place.before);
    return box;
  }

  function clearErrors(source) {
    const box = existingBox(source);
    if (box) box.remove();
    const form = source && source.closest ? source.closest("form") : null;
    if (!form) return;
    form.querySelectorAll("[data-request-field-error]").forEach(function (span) {
      span.remove();
    });
    form.querySelectorAll("[data-request-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      field.removeAttribute("data-request-invalid");
    });
  }

  function fieldMessage(form, name, message) {
    const field = form && form.elements[name.split(".")[0]];
    const element = field && (field.nodeType ? field : field[0]);
    if (!element || element.type === "hidden") return false;
    const span = document.createElement("span");
    span.className = "field-error";
    span.setAttribute("data-request-field-error", "");
    span.textContent = message;
    element.setAttribute("aria-invalid", "true");
    element.setAttribute("data-request-invalid", "");
    element.insertAdjacentElement("afterend", span);
    return true;
  }

  function showRefusal(source, status, lines, fields) {
    const box = alertBox(source);
    if (!box) return;
    const form = source && source.closest ? source.closest("form") : null;
    const rest = [];
    (fields || []).forEach(function (item) {
      if (!item.field || !fieldMessage(form, String(item.field), item.message)) {
        rest.push((item.field ? item.field + ": " : "") + item.message);
      }
    });
    box.textContent = "";
    const title = document.createElement("strong");
    title.textContent = word("refused", status);
    box.appendChild(title);
    lines.concat(rest).forEach(function (line) {
      if (!line) return;
      const p = document.createElement("div");
      p.textContent = line;
      box.appendChild(p);
    });
    if (box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
  }

  function problemOf(text) {
    try {
      const body = JSON.parse(text);
      const errors = Array.isArray(body.errors) ? body.errors : [];
      return { lines: [body.detail || body.title || ""], fields: errors };
    } catch (_error) {
      return null;
    }
  }

  function pageText(text) {
    const page = new DOMParser().parseFromString(text, "text/html");
    const main = page.querySelector("main") || page.body;
    return main ? main.innerText || main.textContent || "" : "";
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    const detail = event.detail;
    const xhr = detail.xhr;
    if (!xhr || xhr.status < 400) return;
    const text = xhr.responseText || "";
    const type = (xhr.getResponseHeader("Content-Type") || "").toLowerCase();
    const wholePage = /^\s*(<!doctype|<html)/i.test(text);
    const boosted = detail.boosted || (detail.requestConfig && detail.requestConfig.boosted);
    detail.isError = false; // shown to the user here, not only on the console
    if (type.indexOf("html") >= 0 && (boosted ? wholePage : !wholePage && /^\s*</.test(text))) {
      detail.shouldSwap = true;
      return;
    }
    detail.shouldSwap = false;
    const source = detail.requestConfig ? detail.requestConfig.elt : detail.elt;
    clearErrors(source);
    const problem = type.indexOf("json") >= 0 ? problemOf(text) : null;
    if (problem) {
      showRefusal(source, xhr.status, problem.lines, problem.fields);
    } else {
      const said = wholePage ? pageText(text) : text;
      showRefusal(source, xhr.status, [said.trim().slice(0, 500)], []);
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const xhr = event.detail.xhr;
    if (xhr && xhr.status < 400 && event.detail.successful) clearErrors(event.detail.elt);
  });

  document.addEventListener("htmx:sendError", function (event) {
    const box = alertBox(event.detail.elt);
    if (box) box.textContent = word("unreachable");
  });

  // --- small behaviours ---------------------------------------------------------------------

  // A field with data-keep-focus takes the focus back when it falls to the page itself
  // (a scanner's Enter, a click on empty space), never from another field.
  document.addEventListener("focusout", function (event) {
    const field = event.target;
    if (field.matches && field.matches("[data-keep-focus]")) {
      setTimeout(function () {
        if (document.activeElement === document.body) field.focus();
      }, 0);
    }
  });

  // A select with data-autosubmit sends its form when it changes.
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });

  // A select whose options carry data-quantity (a bill of materials' line) sets the quantity
  // field of its form when it changes.
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (!(select.matches && select.matches("select[data-sets-quantity]") && select.form)) return;
    const option = select.selectedOptions[0];
    const quantity = select.form.elements.quantity;
    if (option && option.dataset.quantity && quantity) quantity.value = option.dataset.quantity;
  });

  // A form with data-confirm asks first (the question is in the attribute, as text).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
