// Receipt status: the code goes in a POST body (not the URL: no history, no logs, no referrer).
(function () {
  "use strict";
  var NEUTRAL = "https://search.naver.com/search.naver?query=%EC%98%A4%EB%8A%98+%EB%82%A0%EC%94%A8";
  var form = document.getElementById("lookup"), error = document.getElementById("error");
  function quickExit() { try { form.reset(); } catch (e) {} window.location.replace(NEUTRAL); }
  document.getElementById("exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") quickExit(); });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    error.hidden = true;
    document.getElementById("result").hidden = true;
    fetch("/api/report/status", {method: "POST", credentials: "omit", headers: {"Content-Type": "application/json"},
                                 body: JSON.stringify({code: form.code.value})})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (!r.ok) throw new Error(data.message || "지금은 확인할 수 없어요. 잠시 뒤에 다시 시도해 주세요.");
          return data;
        });
      })
      .then(function (data) {
        document.getElementById("label").textContent = data.label;
        document.getElementById("note").textContent = data.note;
        var steps = document.getElementById("steps"); steps.textContent = "";
        data.steps.forEach(function (s) {
          var li = document.createElement("li"); li.textContent = s.label; li.dataset.status = s.status;
          if (s.status === data.status) li.className = "on";
          steps.appendChild(li);
        });
        document.getElementById("meta").textContent = "제보 유형: " + data.kind + " · 접수일: " + data.received_on;
        document.getElementById("result").hidden = false;
      })
      .catch(function (e) { error.textContent = e.message; error.hidden = false; });
  });
})();
