// Page behaviour that every page shares, from a static file so that the Content-Security-Policy
// can refuse inline scripts and event handlers (script-src 'self'). Listeners sit on the
// document, so content htmx swaps in behaves the same.
(function () {
  "use strict";

  // A scanning form (data-scan-form) empties its serial field and keeps the focus there after
  // each scan, so the next scan goes in at once.
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.target.closest && event.target.closest("form[data-scan-form]");
    if (form && form.elements.serial) {
      form.elements.serial.value = "";
      form.elements.serial.focus();
    }
  });

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

  // A form with data-confirm asks first (the question is in the attribute, as text).
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
