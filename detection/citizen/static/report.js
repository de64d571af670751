// The citizen report form: posted as multipart to /api/report; the receipt is shown once, big, to copy.
// Nothing is kept in the browser (no storage, no cookies); the quick exit leaves the page at once.
(function () {
  "use strict";
  var NEUTRAL = "https://search.naver.com/search.naver?query=%EC%98%A4%EB%8A%98+%EB%82%A0%EC%94%A8";
  var MAX_FILES = 5, MAX_FILE = 5 * 1024 * 1024, MAX_TOTAL = 15 * 1024 * 1024;
  var form = document.getElementById("form"), error = document.getElementById("error");
  var send = document.getElementById("send");

  function quickExit() {
    try { form.reset(); } catch (e) {}
    document.getElementById("receipt").textContent = "";
    window.location.replace(NEUTRAL);  // not left in the back-button history
  }
  document.getElementById("exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") quickExit(); });

  function fail(text) { error.textContent = text; error.hidden = !text; if (text) error.scrollIntoView({block: "center"}); }

  // The server checks everything again; these only save a person an upload that would be refused.
  function precheck() {
    if (!form.querySelector("input[name=type]:checked")) return "제보 유형을 골라 주세요.";
    var files = document.getElementById("shots").files, total = 0;
    if (!form.url.value.trim() && !form.text.value.trim() && !files.length) return "링크(URL)나 내용 중 하나는 꼭 적어 주세요.";
    if (files.length > MAX_FILES) return "사진은 5장까지 올릴 수 있어요.";
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > MAX_FILE) return "사진 한 장은 5MB 이하여야 해요.";
      total += files[i].size;
    }
    if (total > MAX_TOTAL) return "사진은 모두 합쳐 15MB 이하로 올려 주세요.";
    return "";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var problem = precheck();
    fail(problem);
    if (problem) return;
    send.disabled = true; send.textContent = "보내는 중…";
    fetch("/api/report", {method: "POST", body: new FormData(form), credentials: "omit"})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) throw new Error(data.message || "제보를 보내지 못했어요. 잠시 뒤에 다시 시도해 주세요.");
          return data;
        });
      })
      .then(function (data) {
        form.reset(); form.hidden = true;
        document.getElementById("receipt").textContent = data.receipt;
        document.getElementById("done").hidden = false;
        window.scrollTo(0, 0);
      })
      .catch(function (e) { fail(e.message); })
      .then(function () { send.disabled = false; send.textContent = "제보하기"; });
  });

  document.getElementById("copy").addEventListener("click", function () {
    var code = document.getElementById("receipt").textContent, shown = document.getElementById("copied");
    function done() { shown.hidden = false; }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(code).then(done, function () { selectCode(); });
    } else { selectCode(); }
    function selectCode() {
      var range = document.createRange(); range.selectNodeContents(document.getElementById("receipt"));
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      try { if (document.execCommand("copy")) done(); } catch (e) {}
    }
  });
})();
