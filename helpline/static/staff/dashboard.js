// The staff dashboard's only script (the CSP forbids inline script): it refreshes the queue in
// place and keeps the due-time countdowns live.
(function () {
  "use strict";

  var offsetMs = 0; // server clock minus this browser's clock

  function setOffset(iso) {
    var server = Date.parse(iso);
    if (!isNaN(server)) { offsetMs = server - Date.now(); }
  }

  function span(ms) {
    var total = Math.floor(Math.abs(ms) / 1000);
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    if (h >= 48) { return Math.floor(h / 24) + " d " + (h % 24) + " h"; }
    return h + ":" + mm + ":" + ss;
  }

  function tick() {
    var now = Date.now() + offsetMs;
    var items = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < items.length; i++) {
      var el = items[i];
      var left = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(left)) { continue; }
      el.textContent = left < 0 ? "overdue " + span(left) : "in " + span(left);
      var row = el.closest("tr");
      if (left < 0) {
        el.classList.add("late");
        if (row) { row.classList.add("overdue"); }
      }
    }
  }

  function poll(tbody, status) {
    var src = tbody.getAttribute("data-src") + window.location.search;
    var total = null;
    fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        setOffset(response.headers.get("X-Server-Now"));
        total = response.headers.get("X-Queue-Count");
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var before = {};
        tbody.querySelectorAll("tr[data-id]").forEach(function (tr) { before[tr.getAttribute("data-id")] = true; });
        tbody.innerHTML = html;
        tbody.querySelectorAll("tr[data-id]").forEach(function (tr) {
          if (!before[tr.getAttribute("data-id")]) { tr.classList.add("new"); }
        });
        var count = total !== null ? total : tbody.querySelectorAll("tr[data-id]").length;
        document.title = "(" + count + ") Callback queue - Back pain help line staff";
        status.textContent = "Updated " + new Date().toLocaleTimeString("en-GB");
        status.classList.remove("stale");
        tick();
      })
      .catch(function () {
        status.textContent = "Not updating: check your connection. Last update stays on screen.";
        status.classList.add("stale");
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var anchor = document.querySelector("[data-server-now]");
    if (anchor) { setOffset(anchor.getAttribute("data-server-now")); }
    tick();
    window.setInterval(tick, 1000);
    var tbody = document.getElementById("queue-rows");
    var status = document.getElementById("live-status");
    if (tbody && status) {
      var seconds = parseInt(tbody.getAttribute("data-refresh"), 10) || 4;
      window.setInterval(function () { poll(tbody, status); }, seconds * 1000);
    }
  });
})();
