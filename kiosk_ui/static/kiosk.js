// Kiosk screen: renders agent snapshots relayed by the kiosk server over SSE (/events).
// Plain JS, no framework, no storage: identity data lives only in the DOM while the result
// screen is shown and is wiped from it as soon as the state leaves "result".
// All text comes from the message catalogs (kiosk_ui/messages.py); data is set with
// textContent only, never innerHTML.
"use strict";
(function () {
  var CATALOGS = JSON.parse(document.getElementById("catalogs").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var WANT_FLOW = document.body.dataset.wantFlow;
  var revealTimer = null;
  var REVEAL_MS = 5000;          // design §2: shown on explicit reveal only, then masked again
  var lang = "ja";
  var snap = null;
  var overlay = null;           // "stale" | "unavailable" | null: set by the kiosk server side
  var entry = { key: null, value: "", sending: false, confirmed: false, confirmB: false, msg: null };
  var flowRequested = -1;
  var removedEarly = false;
  var removedTimer = null;
  var SCREENS = ["idle", "no_reader", "card_present", "entry", "lasttry", "confirmb", "reading",
    "result", "error", "awaiting_removal", "unavailable", "stale"];

  function $(id) { return document.getElementById(id); }
  function t(key, params) {
    var s = CATALOGS[lang][key];
    if (s === undefined) { s = CATALOGS[lang]["error.INTERNAL.title"]; }
    if (params) { Object.keys(params).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); }); }
    return s;
  }
  function applyI18n() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
  }
  function show(name) {
    SCREENS.forEach(function (s) { $("screen-" + s).hidden = (s !== name); });
    var changed = document.body.dataset.screen !== name;
    document.body.dataset.screen = name;
    // One polite live region announces each new screen (its heading, plus an error's advice)
    // so that a screen reader hears state changes; hidden sections are never read.
    var sec = $("screen-" + name);
    var h = sec.querySelector("h1");
    var msg = (h ? h.textContent : "");
    var alertEl = sec.querySelector(".alert:not([hidden])");
    if (name === "error") { msg += " " + $("error-action").textContent; }
    else if (alertEl) { msg += " " + alertEl.textContent; }
    if (changed || $("announce").textContent !== msg) { $("announce").textContent = msg; }
  }

  // ---- posting ------------------------------------------------------------------------
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) { return { status: r.status, body: j }; });
    }, function () { return { status: 0, body: {} }; });
  }

  // ---- result helpers -------------------------------------------------------------------
  function ymd(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? { y: +m[1], m: +m[2], d: +m[3] } : null;
  }
  function fmtDate(d) {
    if (!d) { return ""; }
    return t("date.format", { y: d.y, m: d.m, d: d.d, mon: t("date.months").split(",")[d.m - 1] });
  }
  function jstDate(iso) {
    var ms = Date.parse(iso || "");
    if (isNaN(ms)) { return ymd(iso); }
    var d = new Date(ms + 9 * 3600 * 1000);   // certificate times are UTC; show the JST date
    return { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate() };
  }
  function birthText(id) {
    var g = ymd(id.birth_date);
    if (!g) { return ""; }
    var era = id.birth_era;
    if (era && era.year) {
      if (lang === "ja") {
        var y = era.year === 1 ? t("era.gannen") : String(era.year);
        return era.name_ja + y + "年" + g.m + "月" + g.d + "日（" + fmtDate(g) + "）";
      }
      return fmtDate(g) + " (" + era.name_en + " " + era.year + ")";
    }
    return fmtDate(g);
  }
  function setImg(el, url) {
    if (typeof url === "string" && url.indexOf("data:image/png;base64,") === 0) { el.src = url; return true; }
    el.removeAttribute("src");
    return false;
  }
  function maskNumber(masked) {
    clearTimeout(revealTimer); revealTimer = null;
    $("r-number").textContent = masked || "";
    var btn = $("reveal");
    if (btn) { btn.textContent = t("reveal.show"); btn.setAttribute("aria-pressed", "false"); btn.dataset.i18n = "reveal.show"; }
  }
  function toggleReveal() {
    if (revealTimer) { clearTimeout(revealTimer); revealTimer = null; render(); return; }          // "Hide": back to the masked view at once
    if (!snap || snap.state !== "result" || !snap.session_id) { return; }
    var sid = snap.session_id;
    post("/api/reveal", { session_id: sid, mode: "staff" }).then(function (r) {
      var n = r.body && r.body.my_number;
      if (r.status !== 200 || typeof n !== "string" || !/^[0-9]{12}$/.test(n) ||
          !snap || snap.session_id !== sid || snap.state !== "result") { return; }
      $("r-number").textContent = n.slice(0, 4) + " " + n.slice(4, 8) + " " + n.slice(8);
      n = null;
      var btn = $("reveal");
      btn.textContent = t("reveal.hide"); btn.dataset.i18n = "reveal.hide"; btn.setAttribute("aria-pressed", "true");
      revealTimer = setTimeout(function () { revealTimer = null; render(); }, REVEAL_MS);
    });
  }
  function purgeTyped() {
    entry.value = ""; entry.confirmB = false;
    $("confirmb-number").textContent = "";
    $("entry-display").textContent = "\u00a0";
  }
  function clearResult() {
    maskNumber("");
    $("r-number-row").hidden = true; $("r-number-label").hidden = true;
    ["r-name", "r-address", "r-birth", "r-sex", "r-expiry", "result-title"].forEach(function (i) { $(i).textContent = ""; });
    $("result-badges").textContent = "";
    ["result-photo", "r-name-image", "r-address-image"].forEach(function (i) { $(i).removeAttribute("src"); });
    $("result-photo-box").hidden = true;
    $("result-images").hidden = true;
  }
  function renderResult(res) {
    var id = res.identity;
    var face = res.flow === "face";
    var unverified = (face || res.flow === "number") && !id.verified;
    $("result-title").textContent = t(unverified ? "result.title.unverified" : "result.title");
    $("result-title").className = unverified ? "warn" : "ok";
    $("r-name").textContent = id.name || "";
    $("r-address").textContent = id.address || "";
    $("r-birth").textContent = birthText(id);
    var sex = id.sex ? (lang === "ja" ? id.sex.label_ja : id.sex.label_en) || "" : "";
    $("r-sex").textContent = lang === "en" ? sex.charAt(0).toUpperCase() + sex.slice(1) : sex;
    $("r-expiry-label").textContent = t(face ? "result.card_expiry" : "result.cert_expiry");
    $("r-expiry").textContent = face ? fmtDate(ymd(id.card_expiry)) : fmtDate(jstDate(res.cert_not_after));
    $("r-substitute").hidden = !id.substitute;
    var hasNumber = typeof id.my_number_masked === "string";
    $("r-number-row").hidden = !hasNumber; $("r-number-label").hidden = !hasNumber;
    if (!revealTimer) { maskNumber(hasNumber ? id.my_number_masked : ""); }
    ["r-name", "r-address", "r-birth", "r-sex", "r-expiry"].forEach(function (i) {
      var empty = !$(i).textContent;
      $(i).hidden = empty;
      $(i).previousElementSibling.hidden = empty;
    });
    var ul = $("result-badges");
    ul.textContent = "";
    var badges = res.assurance.slice();
    if (badges.indexOf("chain") >= 0 && badges.indexOf("revocation-checked") < 0) { badges.push("chain_no_revocation"); }
    if (unverified && badges.indexOf("not-verified") < 0) { badges.push("not-verified"); }
    badges.forEach(function (b) {
      var li = document.createElement("li");
      // The number flow checks the integrity record (reference §8.3), not the card face.
      li.textContent = t(b === "record-signature" && res.flow === "number" ? "badge." + b + ".number" : "badge." + b);
      li.className = (b === "not-verified" || b === "chain_no_revocation") ? "badge muted" : "badge";
      li.dataset.badge = b;
      ul.appendChild(li);
    });
    $("result-unverified").hidden = !unverified;
    $("result-photo-box").hidden = !(face && setImg($("result-photo"), id.photo));
    var a = face && setImg($("r-name-image"), id.name_image);
    var b2 = face && setImg($("r-address-image"), id.address_image);
    $("result-images").hidden = !(a || b2);
  }

  // ---- entry ----------------------------------------------------------------------------
  var LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  var DIGITS = "1234567890";
  function buildPad(kind) {
    var pad = $("pad");
    if (pad.dataset.kind === kind) { return; }
    pad.dataset.kind = kind;
    pad.className = "pad " + (kind === "sign_password" ? "alnum" : "digits");
    pad.textContent = "";
    (kind === "sign_password" ? LETTERS : DIGITS).split("").forEach(function (c) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "key"; b.textContent = c; b.dataset.key = c;
      pad.appendChild(b);
    });
  }
  function renderEntryDisplay(kind) {
    var v = entry.value;
    var shown = kind === "match_b" ? v.replace(/^(\d{0,6})(\d{0,4})(\d{0,4})$/, "$1 $2 $3").trim()
      : new Array(v.length + 1).join("●");
    $("entry-display").textContent = shown || "\u00a0";
    $("entry-ok").disabled = entry.sending || v.length === 0;
  }
  function entryMessage(key, params) {
    var el = $("entry-error");
    if (!key) { el.hidden = true; el.textContent = ""; return; }
    el.textContent = t(key, params); el.hidden = false;
  }
  function typeChar(c) {
    var cred = snap && snap.credential;
    if (!cred || entry.sending) { return; }
    if (entry.value.length >= cred.max_length) { return; }
    entry.value += c; entry.msg = null; entryMessage(null);
    renderEntryDisplay(cred.kind);
  }
  function backspace() {
    if (entry.sending || !snap || !snap.credential) { return; }
    entry.value = entry.value.slice(0, -1);
    renderEntryDisplay(snap.credential.kind);
  }
  function submit() {
    var cred = snap && snap.credential;
    if (!cred || entry.sending || !entry.value) { return; }
    if (cred.kind === "match_b" && !entry.confirmB) {
      if (entry.value.length !== 14) { entry.msg = ["input.match_b_length", { n: entry.value.length }]; render(); return; }
      entry.confirmB = true; render(); return;
    }
    entry.sending = true;
    $("entry-ok").disabled = true; $("confirmb-send").disabled = true;
    var body = { session_id: snap.session_id, seq: snap.seq, kind: cred.kind, credential: entry.value,
      confirm_last_try: !!(cred.needs_confirmation && entry.confirmed) };
    entry.value = "";            // the credential does not stay in page memory once sent
    post("/api/credential", body).then(function (r) {
      if (r.status === 202) { return; }   // the next snapshot moves the screen on
      entry.sending = false; entry.confirmB = false;
      var code = r.body.code;
      if (code === "STALE_SESSION" || code === "CSRF") {
        overlay = "stale";
        $("stale-title").textContent = t(code === "CSRF" ? "input.session_expired" : "stale.title");
        render();
        // The kiosk server restarted (new CSRF secret): a fresh page gets a fresh token. The URL
        // carries nothing, so a reload is safe.
        if (code === "CSRF") { setTimeout(function () { location.reload(); }, 3000); }
        return;
      }
      if (r.status === 0 || code === "UNAVAILABLE") { overlay = "unavailable"; render(); return; }
      entry.msg = [r.body.message_key || ("error." + (code || "INTERNAL") + ".title"), r.body.params || {}];
      if (code === "DUPLICATE" || code === "BUSY") { entry.sending = true; }
      render();
    });
  }
  function cancelSession() {
    if (snap && snap.session_id) { post("/api/cancel", { session_id: snap.session_id }); }
  }
  function renderEntry() {
    var cred = snap.credential;
    var key = snap.session_id + "/" + snap.seq;
    if (entry.key !== key) {
      var sameSession = entry.key && entry.key.split("/")[0] === snap.session_id;
      entry = { key: key, value: "", sending: false, confirmed: sameSession && entry.confirmed,
        confirmB: false, msg: null };
    }
    if (cred.needs_confirmation && !entry.confirmed) { show("lasttry"); return; }
    if (entry.confirmB) {
      $("confirmb-number").textContent = entry.value.replace(/^(\d{6})(\d{4})(\d{4})$/, "$1 $2 $3");
      $("confirmb-send").disabled = entry.sending;
      show("confirmb"); return;
    }
    buildPad(cred.kind);
    $("entry-title").textContent = t("entry.title." + cred.kind);
    $("entry-hint").textContent = t("entry.hint." + cred.kind);
    $("entry-tries").textContent = cred.tries_left != null ? t("entry.tries_left", { n: cred.tries_left }) : "";
    $("entry-tries").className = "tries" + (cred.tries_left != null && cred.tries_left <= 2 ? " low" : "");
    if (entry.msg) { entryMessage(entry.msg[0], entry.msg[1]); }
    else if (snap.error) {
      entryMessage("error." + snap.error.code + ".action", { n: snap.error.tries_left != null ? snap.error.tries_left : cred.tries_left });
      var wrongKey = "wrong." + cred.kind;
      var title = snap.error.code === "PIN_INVALID" && CATALOGS[lang][wrongKey] !== undefined
        ? t(wrongKey) : t("error." + snap.error.code + ".title");
      $("entry-error").textContent = title + " — " + $("entry-error").textContent;
    } else { entryMessage(null); }
    renderEntryDisplay(cred.kind);
    show("entry");
  }

  // ---- main render ----------------------------------------------------------------------
  function render() {
    if (!snap) { return; }
    $("test-banner").hidden = !snap.test_trust;
    document.body.classList.toggle("test-trust", !!snap.test_trust);
    // Identity and typed credentials leave the page with their screen, and when the agent is
    // unreachable (the overlay covers them: they must not stay hidden underneath).
    if (snap.state !== "result" || overlay) { clearResult(); }
    if (snap.state !== "awaiting_credential" || overlay) { purgeTyped(); }
    if (overlay) { show(overlay); return; }
    // Only the page on show asks for its flow (a hidden tab must not flip the agent back), and
    // only while no card is in use: the flow of a tap belongs to the page that started it.
    if (WANT_FLOW && snap.flow && snap.flow !== WANT_FLOW && flowRequested !== snap.seq &&
        !document.hidden && (snap.state === "idle" || snap.state === "no_reader")) {
      flowRequested = snap.seq;
      post("/api/flow", { flow: WANT_FLOW });
    }
    var choice = $("flow-choice");
    if (choice) {
      // Staff choose between the card-face check and the opt-in My Number flow, only when the
      // operator enabled "number" (design §1, §2).
      choice.hidden = (snap.flows_enabled || []).indexOf("number") < 0;
      choice.querySelectorAll("button").forEach(function (b) {
        b.setAttribute("aria-pressed", b.dataset.flow === WANT_FLOW ? "true" : "false");
        b.disabled = !(snap.state === "idle" || snap.state === "no_reader");
      });
    }
    var st = snap.state;
    if (st === "awaiting_credential" && snap.credential) { renderEntry(); return; }
    if (st === "reading") {
      var ol = $("steps"); ol.textContent = "";
      snap.steps.forEach(function (s) {
        var li = document.createElement("li");
        var k = "step." + s.name;
        li.textContent = CATALOGS[lang][k] !== undefined ? t(k) : t("step.other");
        li.className = "step " + s.status;
        ol.appendChild(li);
      });
      show("reading"); return;
    }
    if (st === "result" && snap.result) { renderResult(snap.result); show("result"); return; }
    if (st === "result" || st === "error") {
      var code = snap.error ? snap.error.code : "INTERNAL";
      var titleKey = "error." + code + ".title";
      var actionKey = "error." + code + ".action";
      if (code === "PIN_BLOCKED" && snap.flow !== "sign") {
        // Card-protocol §7.3: only the signature password has the convenience-store reset.
        titleKey = CATALOGS[lang]["blocked.title." + snap.flow] !== undefined ? "blocked.title." + snap.flow : titleKey;
        actionKey = "blocked.action.other";
      }
      $("error-title").textContent = t(titleKey);
      $("error-action").textContent = t(actionKey, { n: snap.error && snap.error.tries_left });
      document.body.dataset.error = code;
      show("error"); return;
    }
    ["idle-notice", "removal-notice"].forEach(function (id) {
      $(id).textContent = removedEarly ? t("error.CARD_REMOVED.title") + " — " + t("error.CARD_REMOVED.action") : "";
      $(id).hidden = !removedEarly;
    });
    if (SCREENS.indexOf(st) >= 0) { show(st); } else { show("idle"); }
  }

  function onSnapshot(ev) {
    var next = JSON.parse(ev.data);
    // A restarted agent starts its sequence again: a new lower seq means a new agent, and the
    // screen simply follows it (a stale entry form is replaced, never re-submitted).
    if (overlay === "stale" && next.state !== (snap && snap.state)) { overlay = null; }
    if (overlay === "unavailable") { overlay = null; }
    // The agent purges a session whose card leaves mid-flow and goes straight to idle; the
    // person still needs to hear that the card left too early (issue 5, failures).
    var prev = snap ? snap.state : null;
    var gone = next.state === "idle" || next.state === "awaiting_removal";
    if (gone && (prev === "reading" || prev === "card_present")) {
      removedEarly = true;
      clearTimeout(removedTimer);
      removedTimer = setTimeout(function () { removedEarly = false; render(); }, 10000);
    } else if (!gone) { removedEarly = false; }
    // The next person starts in Japanese again (design §5: Japanese by default).
    if (next.state === "idle" && prev && prev !== "idle" && prev !== "no_reader" && lang !== "ja") {
      lang = "ja"; applyI18n();
    }
    snap = next;
    document.body.dataset.seq = String(snap.seq);
    render();
  }

  function connect() {
    var es = new EventSource("/events");
    es.addEventListener("snapshot", onSnapshot);
    es.addEventListener("unavailable", function () { overlay = "unavailable"; render(); if (!snap) { show("unavailable"); } });
    es.onerror = function () {
      setTimeout(function () { if (es.readyState !== 1) { overlay = "unavailable"; render(); if (!snap) { show("unavailable"); } } }, 2500);
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    applyI18n();
    $("lang").addEventListener("click", function () { lang = lang === "ja" ? "en" : "ja"; applyI18n(); render(); });
    $("pad").addEventListener("click", function (e) { var k = e.target.dataset && e.target.dataset.key; if (k) { typeChar(k); } });
    $("entry-clear").addEventListener("click", backspace);
    $("entry-ok").addEventListener("click", submit);
    $("entry-cancel").addEventListener("click", cancelSession);
    $("lasttry-cancel").addEventListener("click", cancelSession);
    $("lasttry-continue").addEventListener("click", function () { entry.confirmed = true; render(); });
    $("confirmb-fix").addEventListener("click", function () { entry.confirmB = false; render(); });
    $("confirmb-send").addEventListener("click", submit);
    $("result-done").addEventListener("click", cancelSession);
    if ($("reveal")) { $("reveal").addEventListener("click", toggleReveal); }
    if ($("flow-choice")) {
      $("flow-choice").addEventListener("click", function (e) {
        var f = e.target.dataset && e.target.dataset.flow;
        if (!f || f === WANT_FLOW) { return; }
        WANT_FLOW = f; flowRequested = -1; render();
      });
    }
    $("error-done").addEventListener("click", cancelSession);
    document.addEventListener("keydown", function (e) {
      if (!snap || snap.state !== "awaiting_credential" || document.body.dataset.screen !== "entry") { return; }
      if (e.key === "Enter") { submit(); e.preventDefault(); return; }
      if (e.key === "Backspace") { backspace(); e.preventDefault(); return; }
      if (e.key.length === 1) {
        var c = e.key.toUpperCase();
        var allowed = snap.credential.kind === "sign_password" ? LETTERS : DIGITS;
        if (allowed.indexOf(c) >= 0) { typeChar(c); e.preventDefault(); }
      }
    });
    document.addEventListener("visibilitychange", function () { flowRequested = -1; render(); });
    connect();
  });
})();
