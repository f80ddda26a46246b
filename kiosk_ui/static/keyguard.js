// Keeps the walk-up user inside the kiosk page. Chromium on Linux runs every browser shortcut
// (Ctrl+N/T/W/J/S/P, Alt+F4, F1, ...) even in --kiosk mode and no enterprise policy turns them
// off; in an --app window, though, no shortcut is reserved, so a page that cancels the key
// stops it. The managed policy (deploy/chromium-policy.json) still blocks every other URL and
// dialog, so a key this misses opens nothing useful. Loaded first and not deferred, so it
// guards the page from its first paint; it uses no other script.
(function () {
  "use strict";
  function stop(e) {
    e.preventDefault();
    e.stopImmediatePropagation();
  }
  window.addEventListener("keydown", function (e) {
    // Shift alone types capitals in the password field; every other modifier is a shortcut.
    if (e.ctrlKey || e.altKey || e.metaKey || /^F\d{1,2}$/.test(e.key)) { stop(e); }
  }, true);
  // Links opened in a new window (Ctrl/Shift/middle click, context menu) and dropped files or
  // links (which navigate the window away) are refused the same way.
  window.addEventListener("click", function (e) {
    if (e.ctrlKey || e.shiftKey || e.metaKey || e.altKey) { stop(e); }
  }, true);
  window.addEventListener("auxclick", stop, true);
  window.addEventListener("contextmenu", stop, true);
  window.addEventListener("dragover", stop, true);
  window.addEventListener("drop", stop, true);
}());
