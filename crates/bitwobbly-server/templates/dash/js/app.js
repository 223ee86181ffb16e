// Progressive enhancement for the dashboard: every page works without it.
// data-copy="<text>": a button copying the text; data-confirm="<question>": asks before a form
// is sent or a button used; data-autorefresh="<seconds>": reloads the region's page.
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      e.preventDefault();
      var text = copy.getAttribute("data-copy");
      var done = function () {
        var was = copy.textContent;
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = was; }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      }
      return;
    }
    var ask = e.target.closest("button[data-confirm], a[data-confirm]");
    if (ask && !window.confirm(ask.getAttribute("data-confirm"))) {
      e.preventDefault();
    }
  });
  document.addEventListener("submit", function (e) {
    var q = e.target.getAttribute("data-confirm");
    if (q && !window.confirm(q)) {
      e.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
    var region = document.querySelector("[data-autorefresh]");
    if (region) {
      var secs = parseInt(region.getAttribute("data-autorefresh"), 10);
      if (secs >= 5) {
        setInterval(function () {
          if (document.visibilityState !== "visible") { return; }
          var active = document.activeElement;
          if (active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return; }
          fetch(window.location.href, { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (html) {
              if (!html) { return; }
              var doc = new DOMParser().parseFromString(html, "text/html");
              var fresh = doc.querySelector("[data-autorefresh]");
              if (fresh) { region.innerHTML = fresh.innerHTML; }
            })
            .catch(function () {});
        }, secs * 1000);
      }
    }
  });
})();
