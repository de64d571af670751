// Admin pages: live preview of the answer, jump to an error's line, confirmations, and a warning
// before leaving with unsaved changes. No build step; plain DOM.
(function () {
  "use strict";
  var dirty = false;

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm") ||
      (ev.submitter && ev.submitter.getAttribute("data-confirm"));
    if (msg && !window.confirm(msg)) { ev.preventDefault(); return; }
    dirty = false;
  });

  var form = document.getElementById("editor");
  var area = document.getElementById("content");
  var box = document.getElementById("preview");
  var caretLabel = document.getElementById("caret");
  if (!form || !area || !box) return;

  var timer = null, seq = 0;

  function refresh() {
    var data = new FormData();
    data.append("content", area.value);
    data.append("article_id", form.getAttribute("data-article") || "");
    var mine = ++seq;  // only the newest answer is shown
    box.setAttribute("aria-busy", "true");
    fetch("/admin/knowledge/preview", {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRF-Token": box.getAttribute("data-csrf")}
    }).then(function (resp) {
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      return resp.text();
    }).then(function (html) {
      if (mine === seq) box.innerHTML = html;  // server-built, escaped HTML
    }).catch(function (err) {
      if (mine === seq) box.textContent = "미리보기를 불러오지 못했어요 (" + err.message + "). 다시 로그인해야 할 수도 있어요.";
    }).then(function () {
      if (mine === seq) box.removeAttribute("aria-busy");
    });
  }

  function caret() {
    var line = area.value.slice(0, area.selectionStart).split("\n").length;
    if (caretLabel) caretLabel.textContent = "· 커서 " + line + "번째 줄";
  }

  function gotoLine(n) {
    var lines = area.value.split("\n"), start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(start, start + (lines[n - 1] || "").length);
    var lh = parseFloat(window.getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (n - 4) * lh);
    caret();
  }

  area.addEventListener("input", function () {
    dirty = true;
    clearTimeout(timer);
    timer = setTimeout(refresh, 500);
  });
  ["keyup", "click", "focus"].forEach(function (name) { area.addEventListener(name, caret); });
  document.getElementById("preview-now").addEventListener("click", function () { clearTimeout(timer); refresh(); });
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a[data-line]");
    if (!link) return;
    ev.preventDefault();
    gotoLine(parseInt(link.getAttribute("data-line"), 10) || 1);
  });
  window.addEventListener("beforeunload", function (ev) {
    if (dirty) { ev.preventDefault(); ev.returnValue = ""; }
  });
})();
