// The version diff page: open the change a jump-list link (or the URL's #fragment) points at,
// and expand or collapse every change at once. Without JavaScript the page still works: each
// change is a <details> the reader opens, and the filters are plain links.
(function () {
  "use strict";

  function openTarget(hash) {
    if (!hash || hash.length < 2) return;
    var target = document.getElementById(decodeURIComponent(hash.slice(1)));
    if (target && target.tagName === "DETAILS" && target.closest("#diff-changes")) {
      target.open = true;
      target.scrollIntoView({ block: "start" });
    }
  }

  // The buttons are hidden until this script runs, since they need it; the changes list is
  // replaced after a rename decision, so this runs again then.
  function showButtons() {
    document.querySelectorAll("#diff-changes [data-diff-details]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-diff-details]");
    if (button) {
      var open = button.getAttribute("data-diff-details") === "open";
      document.querySelectorAll("#diff-changes details.clause-change").forEach(function (details) {
        details.open = open;
      });
      return;
    }
    var link = event.target.closest("#diff-nav .diff-jump a[href^='#']");
    if (link) {
      // The browser scrolls to the fragment itself; the details must be open before it does.
      openTarget(link.getAttribute("href"));
    }
  });

  window.addEventListener("hashchange", function () { openTarget(window.location.hash); });
  document.addEventListener("htmx:afterSettle", showButtons);
  document.addEventListener("DOMContentLoaded", function () {
    showButtons();
    openTarget(window.location.hash);
  });
})();
