// The desks' own script: keyboard moves through search results. Pages work without
// it (and without htmx); nothing here is needed to read or send anything.
"use strict";

(function () {
  function resultLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#resultats a.result"));
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var links = resultLinks();
    if (!links.length) {
      return;
    }
    var index = links.indexOf(target);
    if (target.id === "q" && event.key === "ArrowDown") {
      links[0].focus();
      event.preventDefault();
    } else if (index >= 0 && event.key === "ArrowDown") {
      links[Math.min(index + 1, links.length - 1)].focus();
      event.preventDefault();
    } else if (index >= 0 && event.key === "ArrowUp") {
      if (index === 0) {
        document.getElementById("q").focus();
      } else {
        links[index - 1].focus();
      }
      event.preventDefault();
    } else if (index >= 0 && event.key === "Escape") {
      document.getElementById("q").focus();
      event.preventDefault();
    }
  });
})();
