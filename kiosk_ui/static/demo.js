// Demo panel: drives the virtual card through the kiosk server's /demo/api/* relay.
"use strict";
(function () {
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var personas = [];
  function $(id) { return document.getElementById(id); }
  function status(s) { $("status").textContent = s; }
  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF }, body: JSON.stringify(body) })
      .then(function (r) { status(r.ok ? "ok: " + url : "failed (" + r.status + "): " + url); return r; });
  }
  function showPersona() {
    var p = personas.filter(function (x) { return x.name === $("persona").value; })[0];
    var table = $("creds"); table.textContent = "";
    if (!p) { return; }
    $("persona-info").textContent = p.description || "";
    Object.keys(p.credentials || {}).forEach(function (k) {
      var tr = document.createElement("tr");
      var th = document.createElement("th"); th.textContent = k;
      var td = document.createElement("td"); td.textContent = String(p.credentials[k]);
      tr.appendChild(th); tr.appendChild(td); table.appendChild(tr);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fetch("/demo/api/personas", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (list) {
      personas = Array.isArray(list) ? list : [];
      personas.forEach(function (p) {
        var o = document.createElement("option"); o.value = p.name; o.textContent = p.name; $("persona").appendChild(o);
      });
      if (document.body.dataset.persona) { $("persona").value = document.body.dataset.persona; }
      showPersona();
    }, function () { status("agent not reachable"); });
    $("persona").addEventListener("change", showPersona);
    $("insert").addEventListener("click", function () { post("/demo/api/insert", { persona: $("persona").value }); });
    $("remove").addEventListener("click", function () { post("/demo/api/remove", {}); });
    $("fault").addEventListener("click", function () {
      var body = {};
      if ($("f-remove").value !== "") { body.remove_after_apdus = parseInt($("f-remove").value, 10); }
      if ($("f-latency").value !== "") { body.latency_s = parseFloat($("f-latency").value); }
      body.internal_error_after_power_on = $("f-6f00").checked;
      post("/demo/api/fault", body);
    });
    $("fault-clear").addEventListener("click", function () {
      post("/demo/api/fault", { remove_after_apdus: null, latency_s: 0, internal_error_after_power_on: false });
    });
  });
})();
