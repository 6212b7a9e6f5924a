// Live cells for the TSC Lab book. Every `.lab-cell` on the page becomes a
// notebook cell: the kernel models run in the browser; real KVM streams from
// the lab server when the book is served by `lab-server serve`, and otherwise
// shows the runs recorded on a lab machine that ship with the site.
//
// The book lives at <site>/book/ and the notebook's files at <site>/, so the
// app is found relative to this script, on any static host.
(function () {
  "use strict";
  var root = document.documentElement;

  // Projector mode (big type for a lecture hall): `?projector` turns it on,
  // `?projector=off` off, and the menu bar's button toggles it; the choice
  // is kept for the book's other pages (localStorage "tsclab.book.projector").
  var KEY = "tsclab.book.projector";
  var q = new URLSearchParams(location.search);
  function stored() { try { return localStorage.getItem(KEY) === "on"; } catch (e) { return false; } }
  function keep(on) { try { localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { } }
  var projector = q.has("projector") ? q.get("projector") !== "off" : stored();
  if (q.has("projector")) keep(projector);
  root.classList.toggle("lab-projector", projector);
  var buttons = document.querySelector(".right-buttons");
  if (buttons) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "icon-button lab-projector-button";
    b.textContent = "Projector";
    b.setAttribute("aria-pressed", String(projector));
    b.addEventListener("click", function () {
      var on = !root.classList.contains("lab-projector");
      root.classList.toggle("lab-projector", on);
      b.setAttribute("aria-pressed", String(on));
      keep(on);
    });
    buttons.insertBefore(b, buttons.firstChild);
  }

  // mdBook's dark themes: the cells follow them.
  var cls = root.classList;
  if (cls.contains("coal") || cls.contains("navy") || cls.contains("ayu")) {
    root.setAttribute("data-theme", "dark");
  } else if (cls.contains("light") || cls.contains("rust")) {
    root.setAttribute("data-theme", "light");
  }

  var cells = document.querySelectorAll(".lab-cell");
  if (!cells.length) return;
  var here = (document.currentScript && document.currentScript.src) || location.href;
  var base = new URL("../", here).href;

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
