// formlead dashboard: refresh the list every 10 s (keeping the filter in
// the URL, whatever the operator is typing into a form, and the keyboard
// focus), and send operator actions with the CSRF token.
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

  // A refresh replaces the live part's HTML; the operator must not notice.
  // What they typed into its forms (a reject reason) and where the focus
  // was (an input with its caret, or a button or link a keyboard user
  // tabbed to) are kept by control and position and put back.
  var CONTROLS = "a[href], button, input, select, textarea, summary";

  function keyOf(el) {
    var f = el.form && el.form.getAttribute ? el.form : null;
    return [
      el.tagName,
      el.getAttribute("data-action") || (f && f.getAttribute("data-action")) || "",
      el.getAttribute("data-id") || (f && f.getAttribute("data-id")) || "",
      el.getAttribute("href") || "",
      el.name || ""
    ].join(" ");
  }

  function eachControl(fn) {
    var seen = {};
    Array.prototype.forEach.call(live.querySelectorAll(CONTROLS), function (el) {
      var key = keyOf(el);
      var n = seen[key] = (seen[key] || 0) + 1;
      fn(el, key, n);
    });
  }

  function snapshot() {
    var kept = [];
    eachControl(function (el, key, n) {
      var focused = el === document.activeElement;
      var typedIn = el.tagName === "INPUT" && el.value && el.closest("form[data-action]");
      if (focused || typedIn) {
        kept.push({ key: key, n: n, value: typedIn ? el.value : null, focused: focused,
          start: el.selectionStart, end: el.selectionEnd });
      }
    });
    return kept;
  }

  function restore(kept) {
    var hadFocus = kept.some(function (k) { return k.focused; });
    var refocused = false;
    eachControl(function (el, key, n) {
      kept.forEach(function (k) {
        if (k.key !== key || k.n !== n) return;
        if (k.value !== null) el.value = k.value;
        if (k.focused) {
          el.focus({ preventScroll: true });
          refocused = true;
          if (el.tagName === "INPUT") {
            try { el.setSelectionRange(k.start, k.end); } catch (e) { /* not a text input */ }
          }
        }
      });
    });
    // The focused control is gone (its draft was decided): keep the
    // keyboard user in the live part rather than at the top of the page.
    if (hadFocus && !refocused) live.focus({ preventScroll: true });
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
        var kept = snapshot();
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
        if (live) return refresh();
        location.reload();
      });
    }).catch(function () { say("Network error; try again."); });
  }

  // After an action from the keyboard, the focus goes to the same control
  // of the next item (approving a queue is Enter, Enter, ...), or stays in
  // the live part when none is left.
  function keepPlace(selector, el) {
    if (!live || !live.contains(el)) return function () {};
    var at = Array.prototype.indexOf.call(live.querySelectorAll(selector), el);
    return function () {
      var active = document.activeElement;
      if (active && active !== document.body && active !== live && live.contains(active)) return;
      var now = live.querySelectorAll(selector);
      var next = now[Math.min(at, now.length - 1)];
      (next || live).focus({ preventScroll: true });
    };
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-action]");
    if (!b) return;
    e.preventDefault();
    var action = b.getAttribute("data-action");
    var refocus = b === document.activeElement
      ? keepPlace('button[data-action="' + action + '"]', b) : function () {};
    b.disabled = true;
    act(action, b.getAttribute("data-id")).then(function () { b.disabled = false; refocus(); });
  });

  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (!f.matches || !f.matches("form[data-action]")) return;
    e.preventDefault();
    var action = f.getAttribute("data-action");
    var reason = f.querySelector('input[name="reason"]');
    var refocus = f.contains(document.activeElement)
      ? keepPlace('form[data-action="' + action + '"] input[name="reason"]', reason) : function () {};
    act(action, f.getAttribute("data-id"), { reason: reason ? reason.value : "" }).then(refocus);
  });

  if (live) setInterval(refresh, 10000);
})();
