// Accessibility fixes to mdBook 0.5.4's own theme, found by axe-core in the
// browser tests (lab-server/tests/a11y.rs). The book owns its theme; these
// change mdBook's markup in place, after book.js has bound its handlers.
(function () {
  "use strict";

  // The sidebar toggle is a <label> for a hidden checkbox: it takes no focus,
  // Enter does nothing, and aria-expanded / aria-label are not allowed on a
  // label (axe: aria-allowed-attr, aria-prohibited-attr; mdBook #2345, #2615).
  // Made a button in place, so book.js's references and handlers still hold.
  var toggle = document.getElementById("mdbook-sidebar-toggle");
  if (toggle && toggle.tagName === "LABEL") {
    toggle.setAttribute("role", "button");
    toggle.tabIndex = 0;
    toggle.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        toggle.click();
      }
    });
  }

  // A code block or table wider than the column scrolls; keyboard users must
  // be able to reach it to scroll it (axe: scrollable-region-focusable). Only
  // those that do scroll become tab stops, checked again when the page's
  // width changes (a resize, the sidebar, projector mode).
  var NAMES = { PRE: "code", CODE: "code", DIV: "table" };
  function reachable() {
    document.querySelectorAll("main pre > code, main .table-wrapper").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.tabIndex = 0;
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", "scrollable " + (NAMES[el.tagName] || "block"));
        el.dataset.labScrolls = "1";
      } else if (!scrolls && el.dataset.labScrolls) {
        el.removeAttribute("tabindex");
        el.removeAttribute("role");
        el.removeAttribute("aria-label");
        delete el.dataset.labScrolls;
      }
    });
  }
  reachable();
  if (window.ResizeObserver) {
    var main = document.querySelector("main");
    if (main) new ResizeObserver(reachable).observe(main);
  } else {
    window.addEventListener("resize", reachable);
  }
})();
