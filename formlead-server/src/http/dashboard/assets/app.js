// formlead dashboard: refresh the list every 10 s (keeping the filter in
// the URL, and whatever the operator is typing into a form), and send
// operator actions with the CSRF token.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var live = document.getElementById("live");
  var flash = document.getElementById("flash");
  var updated = document.getElementById("updated");

  function say(text) {
    if (!flash) return;
    flash.textContent = text;
    setTimeout(function () { if (flash.textContent === text) flash.textContent = ""; }, 4000);
  }

  // What the operator typed into the live part's forms (a reject reason),
  // by form and position, with the focus and the caret: a refresh must
  // not wipe it.
  function typed() {
    var kept = [];
    var seen = {};
    Array.prototype.forEach.call(live.querySelectorAll("form[data-action] input"), function (i) {
      var key = i.form.getAttribute("data-action") + " " + i.form.getAttribute("data-id") + " " + i.name;
      var n = seen[key] = (seen[key] || 0) + 1;
      var focused = i === document.activeElement;
      if (i.value || focused) {
        kept.push({ key: key, n: n, value: i.value, focused: focused, start: i.selectionStart, end: i.selectionEnd });
      }
    });
    return kept;
  }

  function restore(kept) {
    var seen = {};
    Array.prototype.forEach.call(live.querySelectorAll("form[data-action] input"), function (i) {
      var key = i.form.getAttribute("data-action") + " " + i.form.getAttribute("data-id") + " " + i.name;
      var n = seen[key] = (seen[key] || 0) + 1;
      kept.forEach(function (k) {
        if (k.key !== key || k.n !== n) return;
        i.value = k.value;
        if (k.focused) {
          i.focus();
          try { i.setSelectionRange(k.start, k.end); } catch (e) { /* not a text input */ }
        }
      });
    });
  }

  function refresh() {
    if (!live) return Promise.resolve();
    return fetch("/dashboard/partials/live" + location.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (r.status === 401) { location.href = "/dashboard/login"; return null; }
        return r.ok ? r.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        var kept = typed();
        live.innerHTML = html;
        restore(kept);
        if (updated) updated.textContent = "Updated " + new Date().toLocaleTimeString() + " · refreshes every 10 s.";
      })
      .catch(function () { if (updated) updated.textContent = "Could not refresh; retrying in 10 s."; });
  }

  function act(action, id, body) {
    if (action === "retry-failed" && !window.confirm("Retry every failed workflow?")) return Promise.resolve();
    var path = action === "retry-failed" ? "/api/dashboard/workflows/retry-failed"
      : action === "retry" ? "/api/dashboard/workflows/" + id + "/retry"
      : "/api/dashboard/drafts/" + id + "/" + action;
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : ""
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) { say((j && j.error) || ("Failed: HTTP " + r.status)); return; }
        say(action === "approve" ? "Approved" : action === "reject" ? "Rejected"
          : action === "retry-failed" ? "Queued " + j.retried + " for retry" : "Queued for retry");
        if (live) refresh(); else location.reload();
      });
    }).catch(function () { say("Network error; try again."); });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-action]");
    if (!b) return;
    e.preventDefault();
    b.disabled = true;
    act(b.getAttribute("data-action"), b.getAttribute("data-id")).then(function () { b.disabled = false; });
  });

  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.matches || !f.matches("form[data-action]")) return;
    e.preventDefault();
    var reason = f.querySelector('input[name="reason"]');
    act(f.getAttribute("data-action"), f.getAttribute("data-id"), { reason: reason ? reason.value : "" });
  });

  if (live) setInterval(refresh, 10000);
})();
