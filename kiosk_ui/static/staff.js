// Staff sign-in on /staff: the sign-in screen, idle lock, sign-out, the supervisor's account
// panel and the password dialog before a My Number reveal. The agent decides who may do what;
// this page only asks. Nothing is kept in storage; a typed password leaves the page in one
// POST and the field is emptied at once. Text comes from the staff catalog (staff_messages.py),
// data is set with textContent only.
"use strict";
(function () {
  var CAT = JSON.parse(document.getElementById("staff-catalogs").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var TOUCH_MS = 30000;            // tell the agent we are still here at most this often
  var ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "-_.@!#"];
  var staff = null;                // {staff_id, role, my_number, idle_lock_s} while signed in
  var lastActivity = Date.now();
  var lastTouch = Date.now();
  var shift = false;
  var target = null;               // the input the on-screen keyboard types into
  var pendingReveal = null;        // {sid, resolve} while the reveal dialog is open
  var sending = false;
  var cardMode = false;            // signing in with the member's own card (the auth flow)

  function $(id) { return document.getElementById(id); }
  function lang() { return document.documentElement.lang === "en" ? "en" : "ja"; }
  function t(key, params) {
    var s = CAT[lang()][key] || CAT[lang()]["staff.unavailable"];
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }
  function applyText() {
    document.querySelectorAll("[data-st]").forEach(function (el) { el.textContent = t(el.dataset.st); });
    renderWho();
  }
  function call(method, url, body) {
    var opts = { method: method, credentials: "same-origin", cache: "no-store",
      headers: { "X-CSRF-Token": CSRF } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
    }, function () { return { status: 0, body: {} }; });
  }
  function message(id, key) {
    var el = $(id);
    el.textContent = key ? t(key) : ""; el.hidden = !key;
  }

  // ---- on-screen keyboard (the physical keyboard types into the same inputs) ---------------
  function buildKeyboard(box) {
    ROWS.forEach(function (row) {
      var line = document.createElement("div");
      line.className = "staff-row";
      row.split("").forEach(function (c) { line.appendChild(key(c, c)); });
      box.appendChild(line);
    });
    var last = document.createElement("div");
    last.className = "staff-row";
    last.appendChild(key("shift", t("staff.shift"), "staff.shift"));
    last.appendChild(key("back", t("staff.backspace"), "staff.backspace"));
    box.appendChild(last);
  }
  function key(k, label, textKey) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "staff-key" + (k.length > 1 ? " wide" : "");
    b.dataset.k = k; b.textContent = label;
    if (textKey) { b.dataset.st = textKey; }
    return b;
  }
  function renderShift() {
    document.querySelectorAll(".staff-key").forEach(function (b) {
      var k = b.dataset.k;
      if (k === "shift") { b.setAttribute("aria-pressed", shift ? "true" : "false"); }
      else if (k.length === 1) { b.textContent = shift ? k.toUpperCase() : k; }
    });
  }
  function onKey(e) {
    var k = e.target.dataset && e.target.dataset.k;
    if (!k || !target) { return; }
    if (k === "shift") { shift = !shift; renderShift(); return; }
    if (k === "back") { target.value = target.value.slice(0, -1); return; }
    if (target.value.length < target.maxLength) { target.value += shift ? k.toUpperCase() : k; }
  }

  // ---- signed in / signed out ---------------------------------------------------------------
  function renderWho() {
    if (!staff) { return; }
    $("staff-who").textContent = t("staff.signed_in_as", { id: staff.staff_id }) +
      " (" + t("staff.role." + staff.role) + ")";
  }
  function showSignin(noticeKey) {
    cardMode = false;
    $("staff-card-bar").hidden = true;
    document.body.dataset.staff = "signed-out";
    $("staff-bar").hidden = true;
    $("staff-admin-panel").hidden = true;
    $("staff-signin").hidden = false;
    $("staff-id").value = ""; $("staff-password").value = "";
    message("staff-signin-error", noticeKey);
    target = $("staff-id");
    $("staff-id").focus();
  }
  function signedIn(info) {
    cardMode = false;
    $("staff-card-bar").hidden = true;
    staff = info;
    lastActivity = lastTouch = Date.now();
    document.body.dataset.staff = "signed-in";
    $("staff-signin").hidden = true;
    $("staff-bar").hidden = false;
    $("staff-admin").hidden = info.role !== "supervisor";
    renderWho();
    checkRecords();
  }
  // Records waiting to leave the kiosk: shown only while there are some (checked every 15 s).
  function checkRecords() {
    var el = $("staff-records");
    if (!staff) { el.hidden = true; return; }
    call("GET", "/staff/api/records").then(function (r) {
      var rec = r.status === 200 && r.body.records;
      // The record panel (kiosk.js) links its record id to the receiver's page, for staff only.
      document.body.dataset.recordViewer = (staff && rec && rec.viewer_url) || "";
      if (!staff || !rec || !rec.enabled || (!rec.pending && !rec.dead)) { el.hidden = true; return; }
      el.textContent = rec.dead ? t("staff.records.dead", { n: rec.dead })
        : t("staff.records.pending", { n: rec.pending, m: rec.oldest_age_min || 0 });
      el.className = rec.dead ? "staff-records alert" : "staff-records";
      el.hidden = false;
    });
  }
  function wipeIdentity() {
    // Immediate, before the agent's purge reaches the page through the event stream.
    var result = $("screen-result");
    if (result) {
      // Only text, never elements: the kiosk screen's script still owns the structure.
      result.querySelectorAll("dd, h1, .mynumber").forEach(function (el) {
        if (!el.children.length) { el.textContent = ""; }
      });
      result.querySelectorAll("img").forEach(function (img) { img.removeAttribute("src"); });
      result.hidden = true;
    }
    ["entry-display", "confirmb-number", "mb-birth-value", "mb-expiry-value",
      "mb-code-value"].forEach(function (id) { if ($(id)) { $(id).textContent = ""; } });
  }
  function lock(noticeKey) {
    var was = staff;
    staff = null;
    $("staff-records").hidden = true;
    delete document.body.dataset.recordViewer;
    wipeIdentity();
    closeReveal({ status: 0, body: {} });
    showSignin(noticeKey);
    if (was) { call("POST", "/staff/api/logout", {}); }   // the agent purges the tap they ran
  }
  function signIn(e) {
    e.preventDefault();
    if (sending) { return; }
    var id = $("staff-id").value.trim().toLowerCase();
    var pw = $("staff-password").value;
    $("staff-password").value = "";
    if (!id || !pw) { message("staff-signin-error", "staff.login_failed"); return; }
    sending = true; $("staff-signin-ok").disabled = true;
    call("POST", "/staff/api/login", { staff_id: id, password: pw }).then(function (r) {
      sending = false; $("staff-signin-ok").disabled = false;
      if (r.status === 200 && r.body.staff) {
        signedIn(r.body.staff);
        call("POST", "/api/flow", { flow: document.body.dataset.wantFlow || "face" });
        return;
      }
      message("staff-signin-error", r.body.message_key || "staff.unavailable");
      target = $("staff-password"); $("staff-password").focus();
    });
    pw = null;
  }

  // ---- sign-in with the member's own card: the kiosk screen runs the auth flow (PIN, chain,
  // possession); its result on screen is exchanged for a staff session by the agent.
  function startCard() {
    cardMode = true;
    document.body.dataset.staff = "card";
    $("staff-signin").hidden = true;
    $("staff-card-bar").hidden = false;
    call("POST", "/api/flow", { flow: "auth" });
  }
  function onScreen() {
    if (!cardMode || document.body.dataset.screen !== "result") { return; }
    cardMode = false;
    call("POST", "/staff/api/login/card", {}).then(function (r) {
      if (r.status === 200 && r.body.staff) { signedIn(r.body.staff); return; }
      showSignin(r.body.message_key || "staff.login_failed");
    });
  }

  // ---- activity and idle lock (Date.now and timers, so a test can move the clock) -----------
  function activity() {
    lastActivity = Date.now();
    if (staff && lastActivity - lastTouch >= TOUCH_MS) {
      lastTouch = lastActivity;
      call("POST", "/staff/api/touch", {}).then(function (r) {
        if (r.status === 403) { lock("staff.required"); }
      });
    }
  }
  function checkIdle() {
    if (staff && Date.now() - lastActivity >= staff.idle_lock_s * 1000) { lock("staff.locked_idle"); }
  }

  // ---- My Number reveal: the password again, then the agent answers -------------------------
  window.mynaStaffReveal = function (sid) {
    return new Promise(function (resolve) {
      if (!staff) { resolve({ status: 403, body: {} }); return; }
      pendingReveal = { sid: sid, resolve: resolve };
      $("staff-reveal-password").value = "";
      message("staff-reveal-error", null);
      $("staff-reveal").hidden = false;
      target = $("staff-reveal-password"); target.focus();
    });
  };
  function closeReveal(answer) {
    $("staff-reveal").hidden = true;
    $("staff-reveal-password").value = "";
    var p = pendingReveal;
    pendingReveal = null;
    if (p) { p.resolve(answer); }
  }
  function reveal(e) {
    e.preventDefault();
    if (!pendingReveal || sending) { return; }
    var pw = $("staff-reveal-password").value;
    $("staff-reveal-password").value = "";
    if (!pw) { return; }
    sending = true;
    call("POST", "/api/reveal", { session_id: pendingReveal.sid, mode: "staff", password: pw }).then(function (r) {
      sending = false;
      if (r.status === 403 && r.body.code === "STAFF_PASSWORD_WRONG") {
        message("staff-reveal-error", "staff.password_wrong"); return;
      }
      if (r.status === 429) { message("staff-reveal-error", "staff.retry_later"); return; }
      if (r.status === 403 && (r.body.code === "STAFF_LOCKED" || r.body.code === "STAFF_REQUIRED")) {
        lock(r.body.message_key); return;
      }
      if (r.status === 403) { message("staff-reveal-error", r.body.message_key || "staff.forbidden"); return; }
      closeReveal(r);
    });
    pw = null;
  }

  // ---- supervisor: accounts (unlock) and the per-staff counts -------------------------------
  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
  function openAdmin() {
    $("staff-admin-panel").hidden = false;
    Promise.all([call("GET", "/staff/api/accounts"), call("GET", "/staff/api/report?days=30")]).then(function (rs) {
      var acc = $("staff-accounts"); acc.textContent = "";
      ((rs[0].body && rs[0].body.accounts) || []).forEach(function (a) {
        var tr = document.createElement("tr");
        tr.dataset.staffId = a.staff_id;
        cell(tr, a.staff_id);
        cell(tr, t("staff.role." + a.role));
        cell(tr, (a.locked ? t("staff.admin.locked") : "") + (a.enabled ? "" : " " + t("staff.admin.disabled")));
        var td = cell(tr, "");
        if (a.locked) {
          var b = document.createElement("button");
          b.type = "button"; b.className = "btn secondary staff-small staff-unlock";
          b.textContent = t("staff.admin.unlock");
          b.addEventListener("click", function () {
            call("POST", "/staff/api/unlock", { staff_id: a.staff_id }).then(openAdmin);
          });
          td.appendChild(b);
        }
        acc.appendChild(tr);
      });
      var rep = $("staff-report"); rep.textContent = "";
      var report = rs[1].body && rs[1].body.report;
      ((report && report.staff) || []).forEach(function (s) {
        s.checks.forEach(function (c) {
          var tr = document.createElement("tr");
          cell(tr, s.staff_id); cell(tr, c.flow); cell(tr, c.result); cell(tr, String(c.count));
          rep.appendChild(tr);
        });
        if (s.reveals) {
          var tr = document.createElement("tr");
          cell(tr, s.staff_id); cell(tr, t("staff.admin.reveals")); cell(tr, ""); cell(tr, String(s.reveals));
          rep.appendChild(tr);
        }
      });
    });
  }

  // ---- wiring -------------------------------------------------------------------------------
  document.querySelector("header.bar").insertBefore($("staff-bar"), $("lang"));
  buildKeyboard($("staff-osk"));
  buildKeyboard($("staff-reveal-osk"));
  ["staff-osk", "staff-reveal-osk"].forEach(function (id) { $(id).addEventListener("click", onKey); });
  ["staff-id", "staff-password", "staff-reveal-password"].forEach(function (id) {
    $(id).addEventListener("focus", function () { target = $(id); });
  });
  // Keys typed here are the staff member's, not the card holder's entry screen's.
  ["staff-signin", "staff-reveal"].forEach(function (id) {
    $(id).addEventListener("keydown", function (e) { e.stopPropagation(); });
  });
  $("staff-next").addEventListener("click", function () { target = $("staff-password"); target.focus(); });
  $("staff-signin-form").addEventListener("submit", signIn);
  $("staff-reveal-form").addEventListener("submit", reveal);
  $("staff-reveal-cancel").addEventListener("click", function () { closeReveal({ status: 0, body: {} }); });
  $("staff-signout").addEventListener("click", function () { lock("staff.signed_out"); });
  $("staff-admin").addEventListener("click", openAdmin);
  $("staff-card").addEventListener("click", startCard);
  $("staff-card-back").addEventListener("click", function () { showSignin(null); });
  new MutationObserver(onScreen).observe(document.body, { attributes: true, attributeFilter: ["data-screen"] });
  $("staff-admin-close").addEventListener("click", function () { $("staff-admin-panel").hidden = true; });
  ["pointerdown", "keydown"].forEach(function (ev) { document.addEventListener(ev, activity, true); });
  new MutationObserver(applyText).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  setInterval(checkIdle, 1000);
  setInterval(checkRecords, 15000);
  showSignin(null);
  call("GET", "/staff/api/me").then(function (r) {
    if (r.status === 200 && r.body.signed_in && r.body.staff) { signedIn(r.body.staff); }
  });
})();
