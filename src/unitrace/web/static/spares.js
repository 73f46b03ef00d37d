// The spares page (/spares). The scan box is channel.js's (form[data-count-scan]: a keyboard
// wedge at full speed, scans sent in order, each answer on top of #feedback). Here: after the
// answers come in, the pick list below is read again, so that what has arrived is what was
// just written. The request chosen for the scans is left as it is: a request that is now
// fulfilled stays chosen, and the next scan for it is refused, never sent to another request.
(function () {
  "use strict";
  const feedback = document.getElementById("feedback");
  const card = document.getElementById("pick-list-card");
  if (!feedback || !card) return;
  let timer = null;

  async function refresh() {
    timer = null;
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      if (!answer.ok) return; // the list stays as it was; the scans' answers are shown above
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("pick-list-card");
      if (fresh) card.replaceChildren(...fresh.childNodes);
    } catch (error) {
      // offline: the scans' own answers already say so
    }
  }

  new MutationObserver(function () {
    if (timer !== null) window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400); // once a burst of scans has been answered
  }).observe(feedback, { childList: true });
})();
