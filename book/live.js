// Live cells for the TSC Lab book. Every `.lab-cell` on the page becomes a
// notebook cell: the kernel models run in the browser; real KVM streams from
// the lab server when the book is served by `lab-server serve`, and otherwise
// shows the runs recorded on a lab machine that ship with the site.
//
// The book lives at <site>/book/ and the notebook's files at <site>/, so the
// app is found relative to this script, on any static host.
(function () {
  "use strict";
  var cells = document.querySelectorAll(".lab-cell");
  if (!cells.length) return;
  var here = (document.currentScript && document.currentScript.src) || location.href;
  var base = new URL("../", here).href;

  // mdBook's dark themes: the cells follow them.
  var cls = document.documentElement.classList;
  if (cls.contains("coal") || cls.contains("navy") || cls.contains("ayu")) {
    document.documentElement.setAttribute("data-theme", "dark");
  } else if (cls.contains("light") || cls.contains("rust")) {
    document.documentElement.setAttribute("data-theme", "light");
  }

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = base + "lab.css";
  document.head.appendChild(css);

  import(base + "lab_web.js")
    .then(function (m) {
      return m.default().then(function () {
        var n = m.mountCells(base);
        document.body.setAttribute("data-lab-cells", String(n));
      });
    })
    .catch(function (e) {
      cells.forEach(function (c) {
        var p = document.createElement("p");
        p.className = "lab-error";
        p.setAttribute("role", "alert");
        p.textContent =
          "This live cell could not load the notebook (" + e + "). " +
          "Build the site with `cargo xtask dist` or start the lab with `cargo xtask lab`.";
        c.replaceWith(p);
      });
    });
})();
