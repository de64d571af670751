// Detection review: no framework, no build step. All post text is inserted with textContent only.
(function () {
  "use strict";
  var CATEGORY = {outcall: "출장/조건만남", venue: "업소형", recruit: "구인사이트 등 기타", none: "해당없음"};
  var REPORT = {draft: "초안", submitted: "제출됨", deleted: "삭제 확인", not_deleted: "삭제 안 됨", discarded: "폐기"};
  var KIND = {price: "가격", act: "성행위·서비스 표현", age: "연령 단서", contacts: "연락처"};
  var csrf = null, current = null;
  var $ = window.dasiUi.$, el = window.dasiUi.el;
  function alertMsg(text) { var a = $("alert"); a.textContent = text; a.hidden = !text; }
  function api(method, path, body) { return window.dasiUi.api(method, path, body, csrf); }

  // Spans (rules and indicators) over the original text → text with <mark> around each hit.
  function highlight(node, text, spans) {
    node.textContent = "";
    spans = spans.filter(function (s) { return s.span && s.span[1] > s.span[0]; })
                 .sort(function (a, b) { return a.span[0] - b.span[0] || b.span[1] - a.span[1]; });
    var at = 0;
    spans.forEach(function (s) {
      var start = Math.max(s.span[0], at), end = Math.min(s.span[1], text.length);
      if (end <= start) return;
      node.appendChild(document.createTextNode(text.slice(at, start)));
      var m = el("mark", "hit " + (s.cls || ""), text.slice(start, end));
      m.title = s.label || "";
      node.appendChild(m);
      at = end;
    });
    node.appendChild(document.createTextNode(text.slice(at)));
  }

  function showPost(id) {
    api("GET", "/api/detection/posts/" + id).then(function (p) {
      current = p;
      Array.prototype.forEach.call(document.querySelectorAll("#queue button"), function (b) {
        b.classList.toggle("current", b.dataset.id === String(id));
      });
      var meta = $("meta"); meta.textContent = "";
      [["분류", (CATEGORY[p.category] || p.category) + (p.youth ? " · 청소년 의심" : "")], ["점수", p.score],
       ["플랫폼", p.platform], ["계정", p.account || "-"], ["URL", p.url || "-"], ["게시 시각", p.posted_at || "-"],
       ["수집 시각", p.fetched_at], ["증거 기록", p.evidence_seq ? "제" + p.evidence_seq + "호" : "-"],
       ["캠페인", p.cluster_id ? "#" + p.cluster_id : "-"]].forEach(function (kv) {
        meta.appendChild(el("dt", null, kv[0])); meta.appendChild(el("dd", null, String(kv[1])));
      });
      var spans = [];
      (p.reasons || []).forEach(function (r) { if (r.span) spans.push({span: r.span, label: r.rule || r.kind}); });
      var ind = p.indicators || {}, list = $("indicators"); list.textContent = "";
      Object.keys(KIND).forEach(function (k) {
        (ind[k] || []).forEach(function (i) {
          if (i.span) spans.push({span: i.span, label: KIND[k], cls: k === "age" ? "age" : (k === "contacts" ? "contact" : "")});
        });
        if ((ind[k] || []).length) list.appendChild(el("li", null, KIND[k] + ": " + ind[k].map(function (i) {
          return (i.kind ? i.kind + " " : "") + i.value; }).join(", ")));
      });
      if (!list.children.length) list.appendChild(el("li", null, "명시적 지표 없음 — 은어만으로는 신고가 반려될 수 있어요."));
      showCitizen(p.citizen_report);
      highlight($("original"), p.text, spans);
      $("normalised").textContent = p.normalised || "";
      $("ocr").textContent = p.ocr_text || ""; $("ocr-block").hidden = !p.ocr_text;
      var reasons = $("reasons"); reasons.textContent = "";
      (p.reasons || []).forEach(function (r) {
        reasons.appendChild(el("li", null, r.kind === "rule" ? "규칙 " + r.rule + ": " + (r.text || "")
                                          : (r.feature || r.kind) + (r.weight !== undefined ? " (" + r.weight + ")" : "")));
      });
      var sel = document.querySelector("#decide select");
      if (CATEGORY[p.category] && p.category !== "none") sel.value = p.category;
      $("detail").hidden = false;
    }).catch(function (e) { alertMsg(e.message); });
  }

  // A citizen report: how many people reported it and what each wrote (nothing about who they are).
  function showCitizen(c) {
    var list = $("citizen-reports"); list.textContent = "";
    $("citizen-block").hidden = !c;
    if (!c) return;
    $("citizen-count").textContent = "(" + c.kind + " · " + c.count + "건" + (c.minor ? " · 미성년자 관련" : "") +
      (c.fetch ? " · 링크 " + c.fetch : "") + ")";
    c.reports.forEach(function (r) {
      var parts = [r.received_at, r.kind, r.channel === "chat" ? "채팅" : "웹"];
      if (r.place) parts.push("장소: " + r.place);
      if (r.when) parts.push("시간: " + r.when);
      if (r.url) parts.push("링크: " + r.url);
      if (r.screenshots) parts.push("사진 " + r.screenshots + "장");
      if (r.minor) parts.push("미성년자 관련");
      var li = el("li", null, parts.join(" · "));
      if (r.description) li.appendChild(el("div", "text", "설명: " + r.description));
      list.appendChild(li);
    });
  }

  function loadQueue() {
    var only = $("only-citizen") && $("only-citizen").checked;
    return api("GET", "/api/detection/queue" + (only ? "?source=citizen" : "")).then(function (data) {
      var q = $("queue"); q.textContent = "";
      $("queue-count").textContent = "(" + data.posts.length + "건)";
      data.posts.forEach(function (p) {
        var b = el("button"); b.type = "button"; b.dataset.id = p.id;
        if (p.youth) b.appendChild(el("span", "badge youth", "청소년"));
        if (p.citizen) b.appendChild(el("span", "badge citizen", "시민제보"));
        b.appendChild(el("span", "badge", CATEGORY[p.category] || p.category));
        b.appendChild(el("span", "badge", p.score.toFixed(2)));
        b.appendChild(el("div", "preview", p.preview));
        b.addEventListener("click", function () { showPost(p.id); });
        var li = el("li"); li.appendChild(b); q.appendChild(li);
      });
      if (!data.posts.length) { q.appendChild(el("li", "hint", "검토할 글이 없어요.")); $("detail").hidden = true; }
    });
  }

  function loadStats() {
    return api("GET", "/api/detection/stats").then(function (s) {
      Array.prototype.forEach.call(document.querySelectorAll("#stats-table td[data-key]"), function (td) {
        td.textContent = s.table[td.dataset.key];
      });
      $("stats-extra").textContent = "검토 대기 " + s.pending + "건 · 청소년 의심 " + s.youth_flagged + "건 · 수집 " +
        s.scanned + "건 · 삭제 확인 " + s.posts_deleted + "건";
    });
  }

  function loadReports() {
    return api("GET", "/api/detection/reports").then(function (data) {
      var body = document.querySelector("#reports tbody"); body.textContent = "";
      data.reports.forEach(function (r) {
        var tr = el("tr");
        [r.id, (CATEGORY[r.category] || r.category) + (r.youth ? " · 청소년" : ""), r.posts, REPORT[r.status] || r.status]
          .forEach(function (v) { tr.appendChild(el("td", null, String(v))); });
        var td = el("td");
        if (r.status === "draft") {
          var b = el("button", null, "제출 승인"); b.type = "button";
          b.addEventListener("click", function () {
            if (!window.confirm("신고서 " + r.id + "번을 확인하고 제출했나요?")) return;
            api("POST", "/api/detection/reports/" + r.id + "/approve", {}).then(refresh).catch(function (e) { alertMsg(e.message); });
          });
          td.appendChild(b);
        }
        tr.appendChild(td); body.appendChild(tr);
      });
    });
  }

  function refresh() { return Promise.all([loadQueue(), loadStats(), loadReports()]); }

  function decide(decision) {
    if (!current) return;
    var body = {decision: decision};
    if (decision === "approve") body.category = document.querySelector("#decide select").value;
    api("POST", "/api/detection/posts/" + current.id + "/decision", body).then(function () {
      alertMsg(decision === "approve" ? "승인했어요." : "반려했어요.");
      current = null; $("detail").hidden = true;
      return refresh();
    }).catch(function (e) { alertMsg(e.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("approve").addEventListener("click", function () { decide("approve"); });
    $("reject").addEventListener("click", function () { decide("reject"); });
    $("only-citizen").addEventListener("change", function () { loadQueue().catch(function (e) { alertMsg(e.message); }); });
    api("GET", "/api/console/me").then(function (data) {
      csrf = data.csrf_token;
      $("me").textContent = data.user.name;
      $("app").hidden = false;
      return refresh();
    }).catch(function (e) { if (!$("signed-out").hidden) return; alertMsg(e.message); });
  });
})();
