// The dashboard works without this file; it only adds what a page cannot do alone.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A refused form: its error summary takes the focus, so it is read out and seen first.
  const summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }

  // Pages that change on their own (the orders) reload every few seconds, unless the owner
  // is typing or the page is not on screen.
  const every = Number(document.body.dataset.refresh || 0);
  if (every > 0) {
    window.setInterval(() => {
      const typing = document.activeElement && document.activeElement.matches("input, select, textarea");
      if (!document.hidden && !typing) {
        window.location.reload();
      }
    }, every * 1000);
  }
});
