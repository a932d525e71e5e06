// Times: the server sends ISO 8601 UTC; show them in the browser's zone.
function localise(root) {
  root.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (isNaN(d)) return;
    el.textContent = d.toLocaleString(undefined, { dateStyle: el.dataset.format === "full" ? "full" : "medium", timeStyle: "short" });
    el.title = el.getAttribute("datetime");
  });
}
function pad(n) { return String(n).padStart(2, "0"); }
function wireWhen() {
  var local = document.getElementById("when-local"), utc = document.getElementById("when-utc");
  if (!local || !utc) return;
  if (utc.value) {
    var d = new Date(utc.value);
    if (!isNaN(d)) local.value = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  var sync = function () { if (local.value) utc.value = new Date(local.value).toISOString(); };
  local.addEventListener("change", sync); local.addEventListener("input", sync);
  local.form.addEventListener("submit", sync);
}
function wireSuggestions() {
  document.querySelectorAll("button.suggestion").forEach(function (b) {
    b.addEventListener("click", function () {
      var box = document.getElementById("players");
      var lines = box.value.split(/\n|,/).map(function (s) { return s.trim(); }).filter(Boolean);
      box.value = lines.map(function (s) { return s === b.dataset.replace ? b.dataset.with : s; }).join("\n");
      b.closest("p").querySelectorAll("button.suggestion").forEach(function (o) { o.setAttribute("aria-pressed", o === b); });
      b.closest("p").classList.add("chosen");
    });
  });
}
document.addEventListener("DOMContentLoaded", function () { localise(document); wireWhen(); wireSuggestions(); });
document.addEventListener("htmx:afterSwap", function (e) { localise(e.target); });
document.addEventListener("htmx:sseMessage", function (e) { localise(document); });
