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
    "result", "error", "awaiting_removal", "timed_out", "unavailable", "stale"];
  // The agent ends a waiting session after its window (snapshot timeout_s); activity restarts
  // it. The page counts down the same window and warns before the reset.
  var TIMED = { awaiting_credential: "entry", result: "result", error: "result" };
  var WARN_S = 15;
  var ACTIVITY_EVERY_MS = 5000;
  var countdown = { deadline: 0, lastActivity: 0, warned: false };
  var timedOutFrom = null;
  // Language choice lasts the visit: back to Japanese (design §5) once the kiosk has stood idle
  // this long with nobody touching it.
  var LANG_IDLE_MS = 30000;
  var idleSince = 0;

  function $(id) { return document.getElementById(id); }
  var STAFF = document.body.dataset.mode === "staff";
  function t(key, params) {
    // The staff screen speaks to the clerk: its own wording first (messages.py, _STAFF_*).
    var s = STAFF && CATALOGS[lang]["staff:" + key] !== undefined ? CATALOGS[lang]["staff:" + key] : CATALOGS[lang][key];
    if (s === undefined) { s = CATALOGS[lang]["error.INTERNAL.title"]; }
    if (params) { Object.keys(params).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); }); }
    return s;
  }
  // A title and its advice as one notice: two sentences, not a dash between them.
  function sentences(first, second) {
    return lang === "ja" ? first + "。" + second : first + ". " + second;
  }
  function applyI18n() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
  }
  // Voice guidance (on only where the kiosk server has built phrases): a fixed phrase per
  // screen, in the page's language, never anything read from the card or typed.
  var VOICE = document.body.dataset.voice === "on" ?
    (document.body.dataset.voicePhrases || "").split(" ") : [];
  var voiceAudio = null;
  function voicePhrase(name) {
    if (name === "entry") { return snap && snap.credential ? "entry_" + snap.credential.kind : null; }
    return { lasttry: "last_try", awaiting_removal: "remove" }[name] || name;
  }
  function speak(name) {
    var phrase = voicePhrase(name);
    if (!phrase || VOICE.indexOf(phrase) < 0) { return; }
    if (voiceAudio) { voiceAudio.pause(); }
    voiceAudio = new Audio("/voice/" + lang + "/" + phrase + ".wav");
    voiceAudio.volume = Math.min(1, +document.body.dataset.voiceVolume || 1);
    var played = voiceAudio.play();
    if (played && played.catch) { played.catch(function () { /* no audio device or autoplay refused */ }); }
  }
  var lastScreenMessage = "";
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
    else if (name === "entry" && $("entry-tries").textContent) { msg += " " + $("entry-tries").textContent; }
    else if (name === "timed_out") { msg += " " + $("timed-out-body").textContent; }
    else if (alertEl) { msg += " " + alertEl.textContent; }
    // Only a new screen or a changed message is announced, so that a re-render does not
    // overwrite another announcement (a countdown, a call for staff).
    if (changed || lastScreenMessage !== msg) { $("announce").textContent = msg; lastScreenMessage = msg; }
    if (changed) {
      // A new screen starts at its top (the verdict, the question), and keyboard and screen
      // reader focus moves to its heading instead of falling back to <body>.
      document.querySelector("main").scrollTop = 0;
      window.scrollTo(0, 0);
      if (h) { h.setAttribute("tabindex", "-1"); h.focus({ preventScroll: true }); }
      speak(name);
    }
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

  // ---- time to type ---------------------------------------------------------------------
  function timedKind() {
    return snap && snap.session_id && !overlay && TIMED[snap.state] ? TIMED[snap.state] : null;
  }
  function tick() {
    backToJapaneseWhenIdle();
    remindCardLeft();
    var kind = timedKind();
    var bar = $("timeout-bar");
    var left = Math.max(0, Math.ceil((countdown.deadline - Date.now()) / 1000));
    var warnAt = Math.min(WARN_S, Math.floor((snap && snap.timeout_s || 0) / 2));
    if (!kind || !countdown.deadline || left > warnAt) {
      bar.hidden = true; countdown.warned = false; return;
    }
    $("timeout-text").textContent = t("timeout.warning." + kind, { n: left });
    bar.hidden = false;
    if (!countdown.warned) { countdown.warned = true; $("announce").textContent = $("timeout-text").textContent; }
  }
  function backToJapaneseWhenIdle() {
    var idle = snap && (snap.state === "idle" || snap.state === "no_reader") && !overlay;
    if (!idle || lang === "ja") { idleSince = 0; return; }
    if (!idleSince) { idleSince = Date.now(); return; }
    if (Date.now() - idleSince >= LANG_IDLE_MS) { idleSince = 0; lang = "ja"; applyI18n(); render(); }
  }
  // A card left on the reader: a visible reminder first, then a sound, repeated.
  var REMIND_MS = 20000, BEEP_MS = 40000, BEEP_EVERY_MS = 20000;
  var cardLeft = { since: 0, reminded: false, lastBeep: 0 };
  var audio = null;
  function beep() {
    document.body.dataset.beeps = String((+document.body.dataset.beeps || 0) + 1);
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.3);
    } catch (e) { /* no audio device: the visual reminder stays */ }
  }
  function remindCardLeft() {
    var waiting = snap && !overlay && snap.state === "awaiting_removal";
    if (!waiting) {
      cardLeft = { since: 0, reminded: false, lastBeep: 0 }; $("card-left").hidden = true; return;
    }
    var now = Date.now();
    if (!cardLeft.since) { cardLeft.since = now; return; }
    if (now - cardLeft.since >= REMIND_MS) {
      $("card-left-text").textContent = t("card_left.reminder");
      $("card-left").hidden = false;
      if (!cardLeft.reminded) { cardLeft.reminded = true; $("announce").textContent = t("card_left.reminder"); }
    }
    if (now - cardLeft.since >= BEEP_MS && now - cardLeft.lastBeep >= BEEP_EVERY_MS) {
      cardLeft.lastBeep = now; beep();
    }
  }
  // Help: the unattended screen calls staff; the staff screen shows open calls until answered.
  var callStatusTimer = null;
  function callStaff() {
    post("/api/call-staff", {}).then(function (r) {
      if (r.status !== 200) { return; }
      $("call-staff").setAttribute("aria-pressed", "true");
      $("call-status").hidden = false;
      $("announce").textContent = t("call_staff.sent");
      clearTimeout(callStatusTimer);
      callStatusTimer = setTimeout(function () {
        $("call-status").hidden = true; $("call-staff").setAttribute("aria-pressed", "false");
      }, 60000);
    });
  }
  var openCall = null;
  function jstTime(epochS) {
    var d = new Date(epochS * 1000 + 9 * 3600 * 1000);
    return d.getUTCHours() + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  }
  function pollStaffCalls() {
    fetch("/api/staff-calls", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (j) {
      var calls = j && Array.isArray(j.calls) ? j.calls : [];
      openCall = calls.length ? calls[calls.length - 1] : null;
      renderStaffCall();
    }, function () { /* the next poll tries again */ });
  }
  function renderStaffCall() {
    var bar = $("staff-call");
    if (!bar) { return; }
    var wasHidden = bar.hidden;
    bar.hidden = !openCall;
    if (openCall) {
      $("staff-call-text").textContent = t("staff_call.notice", { time: jstTime(openCall.at) });
      if (wasHidden) { beep(); }
    }
    // The staff sign-in screen starts below the notice (staff.css), so neither hides the other.
    document.body.style.setProperty("--staff-call-h", bar.hidden ? "0px" : bar.offsetHeight + "px");
  }
  function stillHere(now) {
    if (!timedKind()) { return; }
    var at = Date.now();
    if (!now && at - countdown.lastActivity < ACTIVITY_EVERY_MS) { return; }
    countdown.lastActivity = at;
    var sid = snap.session_id;
    post("/api/activity", { session_id: sid }).then(function (r) {
      if (r.status === 200 && typeof r.body.timeout_s === "number" && snap && snap.session_id === sid) {
        countdown.deadline = Date.now() + r.body.timeout_s * 1000;
        tick();
      }
    });
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
  // A birth date as unbreakable pieces: a line may break between the era date and the
  // Gregorian date, never inside either.
  function birthParts(id) {
    var g = ymd(id.birth_date);
    if (!g) { return []; }
    var era = id.birth_era;
    if (era && era.year) {
      if (lang === "ja") {
        var y = era.year === 1 ? t("era.gannen") : String(era.year);
        return [era.name_ja + y + "年" + g.m + "月" + g.d + "日", "（" + fmtDate(g) + "）"];
      }
      return [fmtDate(g), " (" + era.name_en + " " + era.year + ")"];
    }
    return [fmtDate(g)];
  }
  function setNowrapParts(el, parts) {
    el.textContent = "";
    parts.forEach(function (p) {
      var span = document.createElement("span");
      span.className = "nowrap"; span.textContent = p;
      el.appendChild(span);
    });
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
    // staff.js asks for the member's password again and gets the number from the agent.
    var asked = window.mynaStaffReveal ? window.mynaStaffReveal(sid) : Promise.resolve({ status: 0, body: {} });
    asked.then(function (r) {
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
  // ---- staff verification record --------------------------------------------------------
  var record = { session: null, at: 0, visualAt: 0 };
  function jstDateTime(ms) {
    var d = new Date(ms + 9 * 3600 * 1000);
    return t("record.datetime", { y: d.getUTCFullYear(), m: d.getUTCMonth() + 1, d: d.getUTCDate(),
      mon: t("date.months").split(",")[d.getUTCMonth()], hh: d.getUTCHours(),
      mm: String(d.getUTCMinutes()).padStart(2, "0") });
  }
  function hhmm(ms) {
    var d = new Date(ms + 9 * 3600 * 1000);
    return d.getUTCHours() + ":" + String(d.getUTCMinutes()).padStart(2, "0");
  }
  function renderRecord(res, unverified) {
    if (!$("record")) { return; }
    if (record.session !== snap.session_id) {
      record = { session: snap.session_id, at: Date.now(), visualAt: 0 };
      $("visual-check").checked = false;
    }
    $("rec-time").textContent = jstDateTime(record.at);
    // The verification record's id when records are kept (what the back office files it
    // under); otherwise this tap's session id.
    $("rec-ref").textContent = snap.record_id || snap.session_id || "";
    var viewer = document.body.dataset.recordViewer;  // set by staff.js for signed-in staff
    if (snap.record_id && viewer) {
      var link = document.createElement("a");
      link.href = viewer.replace("{record_id}", encodeURIComponent(snap.record_id));
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = snap.record_id;
      $("rec-ref").replaceChildren(link);
    }
    var checks = res.assurance.filter(function (a) { return a !== "not-verified"; }).map(function (a) {
      return t(a === "record-signature" && res.flow === "number" ? "record.check.record-signature.number" : "record.check." + a);
    });
    if (unverified) { checks.push(t("record.check.not-verified")); }
    $("rec-method").textContent = [t("record.method." + res.flow)].concat(checks).join(t("record.join"));
    var text = res.flow === "face" && res.identity.text;
    $("rec-text").textContent = text ? t("record.text." + text.status) : "";
    $("rec-text").hidden = !text; $("rec-text").previousElementSibling.hidden = !text;
    $("rec-visual").textContent = record.visualAt ? t("record.visual_done", { time: hhmm(record.visualAt) })
      : t("record.visual_pending");
    $("rec-visual").className = record.visualAt ? "done" : "pending";
  }
  function purgeTyped() {
    entry.value = ""; entry.confirmB = false;
    $("confirmb-number").textContent = "";
    $("entry-display").textContent = "\u00a0";
    MATCH_B_PARTS.forEach(function (id) { $(id + "-value").textContent = ""; });
  }
  function clearResult() {
    if ($("record")) {
      record = { session: null, at: 0, visualAt: 0 };
      ["rec-time", "rec-ref", "rec-method", "rec-text", "rec-visual"].forEach(function (i) { $(i).textContent = ""; });
      $("visual-check").checked = false;
    }
    maskNumber("");
    $("r-number-row").hidden = true; $("r-number-label").hidden = true;
    ["r-name", "r-address", "r-birth", "r-sex", "r-expiry", "result-title"].forEach(function (i) { $(i).textContent = ""; });
    $("result-badges").textContent = "";
    ["result-photo", "r-name-image", "r-address-image"].forEach(function (i) { $(i).removeAttribute("src"); });
    $("result-photo-box").hidden = true;
    $("result-images").hidden = true;
    $("result-text-unavailable").hidden = true;
  }
  function renderResult(res) {
    var id = res.identity;
    var face = res.flow === "face";
    var unverified = (face || res.flow === "number") && !id.verified;
    $("result-title").textContent = t(unverified ? "result.title.unverified" : "result.title");
    $("result-title").className = unverified ? "warn" : "ok";
    // The face flow's text comes from the text AP, shown only when its integrity record
    // vouched for it (the agent and the view model both check).
    var text = face && id.text && id.text.status !== "unavailable" ? id.text : null;
    $("r-name").textContent = (face ? text && text.name : id.name) || "";
    $("r-address").textContent = (face ? text && text.address : id.address) || "";
    if ($("result-text-unavailable")) { $("result-text-unavailable").hidden = !(face && !text); }
    setNowrapParts($("r-birth"), birthParts(id));
    var sex = id.sex ? (lang === "ja" ? id.sex.label_ja : id.sex.label_en) || "" : "";
    $("r-sex").textContent = lang === "en" ? sex.charAt(0).toUpperCase() + sex.slice(1) : sex;
    $("r-expiry-label").textContent = t(face ? "result.card_expiry" : "result.cert_expiry");
    setNowrapParts($("r-expiry"), [face ? fmtDate(ymd(id.card_expiry)) : fmtDate(jstDate(res.cert_not_after))]);
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
    renderRecord(res, unverified);
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
  // 照合番号B is three things printed on the card (card-protocol.md §7): the birth date as
  // YYMMDD (Japanese era year; the last two digits of the Gregorian year on foreign residents'
  // cards), the expiry year, the security code. A digit that cannot be right is refused as typed.
  var MATCH_B_PARTS = ["mb-birth", "mb-expiry", "mb-code"];
  var DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  function matchBProblem(v) {
    var mm = v.slice(2, 4), dd = v.slice(4, 6), year = v.slice(6, 10);
    if ((mm.length === 1 && mm > "1") || (mm.length === 2 && (+mm < 1 || +mm > 12))) { return ["match_b.bad_month", 0]; }
    if ((dd.length === 1 && dd > "3") || (dd.length === 2 && (+dd < 1 || +dd > DAYS_IN_MONTH[+mm - 1]))) { return ["match_b.bad_day", 0]; }
    if ((year.length >= 1 && year[0] !== "2") || (year.length >= 2 && year.slice(0, 2) !== "20") ||
        (year.length === 4 && +year < 2015)) { return ["match_b.bad_year", 1]; }
    return null;
  }
  function renderMatchB(v) {
    var parts = [v.slice(0, 6), v.slice(6, 10), v.slice(10, 14)];
    var active = v.length < 6 ? 0 : v.length < 10 ? 1 : v.length < 14 ? 2 : -1;
    MATCH_B_PARTS.forEach(function (id, i) {
      $(id + "-value").textContent = parts[i] || "\u00a0";
      $(id).classList.toggle("active", i === active);
      $(id).classList.toggle("bad", entry.badPart === i);
    });
  }
  function renderEntryDisplay(kind) {
    var v = entry.value;
    $("match-b").hidden = kind !== "match_b";
    $("entry-display").hidden = kind === "match_b";
    if (kind === "match_b") { renderMatchB(v); }
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
    var problem = cred.kind === "match_b" ? matchBProblem(entry.value + c) : null;
    entry.badPart = problem ? problem[1] : -1;
    if (problem) { entryMessage(problem[0]); renderEntryDisplay(cred.kind); return; }
    entry.value += c; entry.msg = null; entryMessage(null);
    renderEntryDisplay(cred.kind);
  }
  function backspace() {
    if (entry.sending || !snap || !snap.credential) { return; }
    entry.value = entry.value.slice(0, -1); entry.badPart = -1;
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
      $("entry-error").textContent = sentences(title, $("entry-error").textContent);
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
    if (st === "awaiting_removal" && snap.ended === "timeout" && timedOutFrom === "entry") {
      $("timed-out-body").textContent = t("timed_out.entry");
      show("timed_out"); return;
    }
    ["idle-notice", "removal-notice"].forEach(function (id) {
      $(id).textContent = !removedEarly ? "" : removedEarly === "entry" ? t("removed.entry")
        : sentences(t("error.CARD_REMOVED.title"), t("error.CARD_REMOVED.action"));
      $(id).hidden = !removedEarly;
    });
    if (st === "awaiting_removal" && snap.ended === "timeout" && timedOutFrom === "result") {
      $("removal-notice").textContent = t("timed_out.result"); $("removal-notice").hidden = false;
    }
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
    if (gone && (prev === "reading" || prev === "card_present" ||
        (prev === "awaiting_credential" && next.ended === "card_removed"))) {
      removedEarly = prev === "awaiting_credential" ? "entry" : "read";
      clearTimeout(removedTimer);
      removedTimer = setTimeout(function () { removedEarly = false; render(); }, 10000);
    } else if (!gone) { removedEarly = false; }
    if (!snap || next.seq !== snap.seq) {
      countdown.deadline = next.timeout_s ? Date.now() + next.timeout_s * 1000 : 0;
    }
    if (next.ended === "timeout" && prev && TIMED[prev]) { timedOutFrom = TIMED[prev]; }
    snap = next;
    document.body.dataset.seq = String(snap.seq);
    render();
    tick();
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
    $("lang").addEventListener("click", function () { lang = lang === "ja" ? "en" : "ja"; applyI18n(); render(); tick(); renderStaffCall(); });
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
    if ($("record")) {
      $("visual-check").addEventListener("change", function () {
        record.visualAt = $("visual-check").checked ? Date.now() : 0; render();
      });
      $("result-print").addEventListener("click", function () { window.print(); });
    }
    if ($("flow-choice")) {
      $("flow-choice").addEventListener("click", function (e) {
        var f = e.target.dataset && e.target.dataset.flow;
        if (!f || f === WANT_FLOW) { return; }
        WANT_FLOW = f; flowRequested = -1; render();
      });
    }
    $("error-done").addEventListener("click", cancelSession);
    $("timeout-extend").addEventListener("click", function () { $("timeout-bar").hidden = true; stillHere(true); });
    // Any touch or key while a timed screen is up means the person is still there.
    document.addEventListener("pointerdown", function () { idleSince = 0; stillHere(false); });
    document.addEventListener("keydown", function () { idleSince = 0; stillHere(false); });
    setInterval(tick, 1000);
    if ($("call-staff")) { $("call-staff").addEventListener("click", callStaff); }
    if ($("staff-call")) {
      $("staff-call-answer").addEventListener("click", function () {
        if (openCall) { post("/api/staff-calls/answer", { id: openCall.id }); }
        openCall = null; renderStaffCall();
      });
      pollStaffCalls();
      setInterval(pollStaffCalls, 3000);
      window.addEventListener("resize", renderStaffCall);
    }
    document.addEventListener("keydown", function (e) {
      if (!snap || snap.state !== "awaiting_credential" || document.body.dataset.screen !== "entry") { return; }
      // Enter on a focused button presses that button (Cancel must never send); Enter submits
      // only from the entry itself: the display, the heading or nothing focused.
      var onControl = e.target.closest && e.target.closest("button, a, input, select, textarea");
      if (e.key === "Enter") { if (!onControl) { submit(); e.preventDefault(); } return; }
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
