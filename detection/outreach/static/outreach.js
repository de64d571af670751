// Watcher outreach: no framework, no build step. Every text is inserted with textContent only.
(function () {
  "use strict";
  var KIND = {warning: "경고", guidance: "안내"};
  var STATUS = {draft: "승인 대기", dry_run: "모의 승인(보내지 않음)", approved: "승인됨", sent: "보냄",
                posted_by_hand: "직접 게시함", failed: "보내기 실패", rejected: "반려", duplicate: "이미 보낸 문구"};
  var csrf = null, $ = window.dasiUi.$, el = window.dasiUi.el;
  function alertMsg(text) { var a = $("alert"); a.textContent = text; a.hidden = !text; }
  function api(method, path, body) { return window.dasiUi.api(method, path, body, csrf); }
  function act(path, done) {
    return api("POST", path, {}).then(function (r) { alertMsg(done(r)); return refresh(); })
      .catch(function (e) { alertMsg(e.message); return refresh(); });
  }
  function button(label, cls, onClick) {
    var b = el("button", cls, label); b.type = "button"; b.addEventListener("click", onClick); return b;
  }

  function card(d, senders) {
    var li = el("li", "draft"); li.dataset.id = d.id; li.dataset.status = d.status;
    var head = el("p");
    head.appendChild(el("span", "badge " + d.kind, KIND[d.kind] || d.kind));
    if (d.target && d.target.minor) head.appendChild(el("span", "badge minor", "미성년자로 보임"));
    head.appendChild(el("span", "badge", d.platform + (d.via === "reply" ? " · 답글로 보냄" : " · 직접 게시")));
    head.appendChild(el("span", "badge status", STATUS[d.status] || d.status));
    li.appendChild(head);
    li.appendChild(el("p", "post", "글 #" + d.post_id + " · 계정 " + (d.account || "-") + " · " + (d.url || "") +
                                   "\n" + d.preview));
    var text = el("textarea", "message"); text.readOnly = true; text.value = d.text; li.appendChild(text);
    if (d.error) li.appendChild(el("p", "hint", "마지막 오류: " + d.error));
    var actions = el("p", "actions"), open = ["draft", "dry_run", "failed"].indexOf(d.status) >= 0;
    if (open) {
      actions.appendChild(button("승인", "primary approve", function () {
        if (!window.confirm("이 " + (KIND[d.kind] || "") + " 문구를 확인했고, 승인하나요?")) return;
        act("/api/outreach/drafts/" + d.id + "/approve", function (r) {
          return {sent: "승인했고 보냈어요.", dry_run: "승인했어요. 모의 발송이라 보내지 않았어요.",
                  approved: d.via === "reply" ? "승인했어요." : "승인했어요. 문구를 복사해 직접 게시한 뒤 '직접 게시함'을 누르세요.",
                  duplicate: "같은 대상에게 이미 보낸 문구라 보내지 않았어요."}[r.status] || ("상태: " + r.status);
        });
      }));
    }
    if (open || d.status === "approved") {
      actions.appendChild(button("반려", "reject", function () {
        act("/api/outreach/drafts/" + d.id + "/reject", function () { return "반려했어요."; });
      }));
    }
    if (d.status === "approved" && d.via === "reply") {
      actions.appendChild(button("보내기", "send", function () {
        act("/api/outreach/drafts/" + d.id + "/send", function (r) { return "상태: " + (STATUS[r.status] || r.status); });
      }));
    }
    if (d.status === "approved" && d.via === "manual") {
      actions.appendChild(button("직접 게시함", "posted", function () {
        act("/api/outreach/drafts/" + d.id + "/posted", function () { return "직접 게시한 것으로 기록했어요."; });
      }));
    }
    if (d.target && !d.target.minor) {
      actions.appendChild(button("미성년자로 표시", "minor", function () {
        if (!window.confirm("이 계정을 미성년자로 표시하면 앞으로 안내 문구만 보낼 수 있어요. 표시할까요?")) return;
        act("/api/outreach/targets/" + d.target.id + "/minor", function () { return "미성년자로 표시했어요."; });
      }));
    }
    li.appendChild(actions);
    return li;
  }

  function loadDrafts() {
    var q = $("show-all").checked ? "?status=all" : "";
    return api("GET", "/api/outreach/drafts" + q).then(function (data) {
      var mode = $("mode");
      mode.textContent = data.dry_run ? "모의 발송(dry run): 승인해도 아무것도 보내지 않고 기록만 해요."
        : "발송 켜짐: 승인하면 " + (data.senders.length ? data.senders.join(", ") + "에는 바로 답글로 보내요." : "직접 게시해야 해요.");
      mode.classList.toggle("live", !data.dry_run);
      $("escalate-after").textContent = data.escalate_after;
      var list = $("drafts"); list.textContent = "";
      $("drafts-count").textContent = "(" + data.drafts.length + "건)";
      data.drafts.forEach(function (d) { list.appendChild(card(d, data.senders)); });
      if (!data.drafts.length) list.appendChild(el("li", "hint", "처리할 초안이 없어요."));
    });
  }

  function loadStats() {
    return api("GET", "/api/outreach/stats").then(function (s) {
      var body = document.querySelector("#ostats tbody"); body.textContent = "";
      [["경고 발송", s.warnings_sent], ["안내 발송", s.guidance_sent], ["그중 직접 게시", s.posted_by_hand],
       ["모의 승인", s.dry_run_approvals], ["신고서로 넘긴 계정", s.accounts_escalated],
       ["신고서로 넘긴 연락처", s.contacts_escalated], ["경고한 글 삭제 확인", s.warned_posts.deleted],
       ["경고한 글 아직 게시", s.warned_posts.live]].forEach(function (kv) {
        var tr = el("tr"); tr.appendChild(el("th", null, kv[0])); var td = el("td", null, String(kv[1]));
        td.dataset.key = kv[0]; tr.appendChild(td); body.appendChild(tr);
      });
    });
  }

  function refresh() { return Promise.all([loadDrafts(), loadStats()]); }

  document.addEventListener("DOMContentLoaded", function () {
    $("show-all").addEventListener("change", refresh);
    $("draft-now").addEventListener("click", function () {
      act("/api/outreach/draft", function (r) { return "글 " + r.posts + "건을 읽고 초안 " + r.drafts + "건을 만들었어요."; });
    });
    api("GET", "/api/console/me").then(function (data) {
      csrf = data.csrf_token;
      $("me").textContent = data.user.name;
      $("app").hidden = false;
      return refresh();
    }).catch(function (e) { if (!$("signed-out").hidden) return; alertMsg(e.message); });
  });
})();
