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

// The signed contract's drop zone (legal desk): a PDF dropped on the zone goes into
// its file input; the name and size are announced, and a file too large or not a
// PDF is flagged before it is sent (the server checks again).
(function () {
  function describe(zone, input) {
    var status = zone.querySelector(".file-status");
    var file = input.files && input.files[0];
    if (!status) {
      return;
    }
    if (!file) {
      status.textContent = "";
      return;
    }
    var max = parseInt(zone.getAttribute("data-max-bytes"), 10) || 0;
    var size = (file.size / (1024 * 1024)).toFixed(1).replace(".", ",") + " Mo";
    if (max && file.size > max) {
      status.textContent = file.name + " (" + size + ") : fichier trop volumineux.";
    } else if (!/\.pdf$/i.test(file.name)) {
      status.textContent = file.name + " (" + size + ") : ce n'est pas un PDF.";
    } else {
      status.textContent = "Fichier choisi : " + file.name + " (" + size + ").";
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".dropzone"), function (zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) {
      return;
    }
    input.addEventListener("change", function () {
      describe(zone, input);
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        describe(zone, input);
      }
    });
  });
})();
