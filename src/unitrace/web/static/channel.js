// Channel pages: the print button of a delivery note (no inline script: the pages allow none).
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
});
