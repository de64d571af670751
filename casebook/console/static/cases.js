// Case pages (사례 관리): list, new case, one case with its workflow. No framework, no build step.
// The workflow itself is the server's: the moves shown are the case's `allowed` list, and each move's form
// is built from that move's `required` fields and `choices`. Only the Korean labels live here.
(function () {
  "use strict";
  var $ = window.dasiUi.$, el = window.dasiUi.el;

  // Labels mirroring casebook/cases/workflow.py (codes unknown here are shown as they are).
  var STEPS = [["intake", "접수"], ["eligibility", "사례판정"], ["assessment", "초기상담·욕구사정"], ["planning", "개입계획"],
               ["service", "서비스 실행"], ["monitoring", "모니터링·평가"], ["closed", "종결"], ["aftercare", "사후관리"]];
  var STEP = {}; STEPS.forEach(function (s) { STEP[s[0]] = s[1]; });
  var ROUTE = {online: "온라인 채널", phone: "전화", visit: "방문", referral: "기관 의뢰"};
  var LEVEL = {urgent: "긴급", intensive: "집중", general: "일반"};
  var SERVICE = {emotional: "정서적지원", legal: "법률지원", medical: "의료지원", psych: "심리지원",
                 linkage: "기관연계", selfhelp: "자활지원", material: "물적지원", group: "집단프로그램"};
  var PARTNER_KINDS = ["linkage", "legal", "medical"];
  var CLOSE_REASON = {goals_met: "목표 달성", not_eligible: "지원 대상 아님", referred: "타기관 의뢰",
                      declined: "본인 중단 요청", no_contact: "연락 두절", other: "기타"};
  var CHANNEL = {web: "웹 채팅", kakao: "카카오톡", instagram: "인스타그램", messenger: "메신저", x: "X"};
  var CONV_STATE = {bot: "챗봇", waiting: "대기", counsellor: "상담원 연결", closed: "종료"};
  var ROLE = {counsellor: "상담원", supervisor: "슈퍼바이저", editor: "편집자", admin: "관리자"};
  // A move's data fields: label and input type. The type only shapes the input; what is required is the server's.
  var FIELD = {
    eligible: {label: "지원 대상 여부", type: "yesno"},
    reason: {label: "사유", type: "textarea"},
    consent_date: {label: "동의 일자", type: "date"},
    consent_scope: {label: "동의 범위", type: "text"},
    needs: {label: "욕구", type: "textarea"},
    support_level: {label: "지원 수준", type: "text"},
    goals: {label: "목표", type: "textarea"},
    review: {label: "평가 내용", type: "textarea"},
    referred_out: {label: "다른 기관에 의뢰함", type: "check"},
    referred_to: {label: "의뢰한 기관", type: "text"}
  };
  var CHOICE_LABELS = {support_level: LEVEL, reason: CLOSE_REASON};
  // Optional fields some moves may carry besides the required ones (closing: was the person referred on?).
  var OPTIONAL = {close: ["referred_out", "referred_to"]};
  var ENTRY = {
    note: {title: "상담 메모", fields: [["text", "내용", "textarea"]]},
    referral: {title: "의뢰", fields: [["to", "의뢰 기관", "text"], ["reason", "의뢰 사유", "textarea"]]},
    incident: {title: "피해 사건", fields: [["what", "무슨 일", "textarea"], ["when", "언제", "text"],
                                          ["where", "어디서", "text"], ["perpetrators", "가해자", "textarea"]]}
  };
  var PAGE = 50;

  var csrf = null, me = null, current = null, offset = 0, counsellors = null;

  // --- small helpers ----------------------------------------------------------------------------
  var kstDate = new Intl.DateTimeFormat("sv-SE", {timeZone: "Asia/Seoul", year: "numeric", month: "2-digit", day: "2-digit"});
  function day(iso) { return iso ? kstDate.format(new Date(iso)) : ""; }
  function today() { return kstDate.format(new Date()); }
  function who(x) { return x && typeof x === "object" ? (x.name || x.login || "") : (x || ""); }
  function label(map, code) { return code === null || code === undefined ? "" : (map[code] || code); }
  function fieldLabel(name) { return FIELD[name] ? FIELD[name].label : name; }
  // Server messages name fields by code ('partner', (reason)): show the Korean label instead.
  var CODE_LABEL = {partner: "연계 기관", minutes: "시간(분)", kind: "종류", on: "일자", name: "이름", phone: "전화번호",
                    opened_at: "접수일", referred_by: "의뢰한 곳", note: "메모", text: "내용", what: "무슨 일", file: "파일"};
  function codeLabel(code) { return FIELD[code] ? FIELD[code].label : (CODE_LABEL[code] || code); }
  function korean(message) {
    return String(message)
      .replace(/\(([a-z][a-z_]*[a-z])\)/g, function (all, code, at, text) {  // "의뢰한 기관(referred_to)": once is enough
        var l = codeLabel(code);
        return text.slice(0, at).slice(-l.length) === l ? "" : "(" + l + ")";
      })
      .replace(/\b[a-z][a-z_]*[a-z]\b/g, codeLabel);
  }
  function showAlert(text) {
    var a = $("alert");
    a.textContent = text; a.hidden = !text;
    if (text) setTimeout(function () { if (a.textContent === text) a.hidden = true; }, 8000);
  }
  function button(text, cls, onClick) {
    var b = el("button", cls, text);
    b.type = "button";
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }
  function field(labelText, input, cls) {
    var l = el("label", cls || null, labelText);
    l.appendChild(input);
    return l;
  }
  function input(type, name) {
    var i = type === "textarea" ? el("textarea") : el("input");
    if (type === "textarea") i.rows = 2; else i.type = type;
    i.name = name; i.maxLength = type === "textarea" ? 2000 : 200; i.autocomplete = "off";
    return i;
  }
  function select(name, options, blank) {
    var s = el("select"); s.name = name;
    if (blank !== undefined) { var o = el("option", null, blank); o.value = ""; s.appendChild(o); }
    options.forEach(function (pair) { var op = el("option", null, pair[1]); op.value = pair[0]; s.appendChild(op); });
    return s;
  }
  function pairs(map) { return Object.keys(map).map(function (k) { return [k, map[k]]; }); }
  function show(value, name) {
    if (value === true) return "예";
    if (value === false) return "아니오";
    if (CHOICE_LABELS[name]) return label(CHOICE_LABELS[name], value);
    if (Array.isArray(value)) return value.join(", ");
    if (value && typeof value === "object") return JSON.stringify(value);
    return value === null || value === undefined ? "" : String(value);
  }

  function api(method, path, body, form) {
    var headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {method: method, headers: headers, credentials: "same-origin",
                        body: form || (body === undefined ? undefined : JSON.stringify(body))})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.status === 401) signedOut();
          if (!r.ok) {
            var e = new Error(data.message ? korean(data.message) : ("오류 " + r.status));
            e.status = r.status; e.code = data.error; e.missing = data.missing || [];
            throw e;
          }
          return data;
        });
      });
  }
  function signedOut() { $("app").hidden = true; $("signed-out").hidden = false; }

  // --- routing: #<case number> is one case, anything else the list ---------------------------------
  function route() {
    var number = decodeURIComponent(location.hash.replace(/^#/, ""));
    $("alert").hidden = true;
    if (/^\d{4}-\d{3,}$/.test(number)) {
      $("list-view").hidden = true; $("case-view").hidden = false;
      loadCase(number);
    } else {
      current = null;
      $("case-view").hidden = true; $("list-view").hidden = false;
      loadList();
    }
  }
  window.addEventListener("hashchange", route);

  // --- the list ------------------------------------------------------------------------------------
  function listQuery() {
    var q = ["limit=" + PAGE, "offset=" + offset];
    if ($("f-mine").checked) q.push("mine=1");
    if ($("f-due").checked) q.push("due=1");
    if ($("f-step").value) q.push("step=" + encodeURIComponent($("f-step").value));
    return q.join("&");
  }
  function loadList() {
    api("GET", "/api/console/cases?" + listQuery()).then(function (data) {
      var body = $("case-rows"); body.textContent = "";
      data.cases.forEach(function (c) {
        var tr = el("tr");
        tr.dataset.number = c.number;
        var link = el("a", null, c.number); link.href = "#" + c.number;
        var first = el("td"); first.appendChild(link); tr.appendChild(first);
        [c.person ? c.person.name || "(이름 없음)" : "", c.step_label || label(STEP, c.step), label(LEVEL, c.support_level),
         who(c.owner), day(c.opened_at)].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        var due = el("td", c.due_followups ? "due" : null, c.due_followups ? c.due_followups + "건 할 때가 됐어요" : "");
        tr.appendChild(due);
        tr.addEventListener("click", function (e) { if (e.target.tagName !== "A") location.hash = c.number; });
        body.appendChild(tr);
      });
      if (!data.cases.length) {
        var tr = el("tr"), td = el("td", "empty", "조건에 맞는 사례가 없어요."); td.colSpan = 7;
        tr.appendChild(td); body.appendChild(tr);
      }
      $("case-total").textContent = data.total;
      $("prev").disabled = offset === 0;
      $("next").disabled = offset + PAGE >= data.total;
      $("page-info").textContent = data.total ? (offset + 1) + "–" + Math.min(offset + PAGE, data.total) + " / " + data.total : "";
    }).catch(function (err) { if (err.status !== 401) showAlert(err.message); });
    api("GET", "/api/console/followups/due").then(function (data) {
      var n = data.followups.length, p = $("due-summary");
      p.hidden = !n;
      p.textContent = n ? "사후관리 할 때가 된 건이 " + n + "건 있어요." : "";
    }).catch(function () {});
  }
  STEPS.forEach(function (s) { var o = el("option", null, s[1]); o.value = s[0]; $("f-step").appendChild(o); });
  $("filters").addEventListener("change", function () { offset = 0; loadList(); });
  $("prev").addEventListener("click", function () { offset = Math.max(0, offset - PAGE); loadList(); });
  $("next").addEventListener("click", function () { offset += PAGE; loadList(); });
  function toList(e) { e.preventDefault(); if (location.hash) location.hash = ""; else route(); }
  $("home").addEventListener("click", toList);

  // --- a new case without a conversation (walk-in, phone, referral) ---------------------------------
  (function () {
    var f = $("new-form");
    ["visit", "phone", "referral", "online"].forEach(function (code) {
      var o = el("option", null, ROUTE[code]); o.value = code; f.route.appendChild(o);
    });
    $("new-case").addEventListener("click", function () {
      f.hidden = !f.hidden;
      if (!f.hidden) { f.opened_at.value = today(); f.elements["name"].focus(); }
    });
    $("new-cancel").addEventListener("click", function () { f.reset(); f.hidden = true; $("new-error").textContent = ""; });
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var name = f.elements["name"].value.trim();
      var person = {name: name, contact: {}, youth: f.youth.checked};
      if (f.phone.value.trim()) person.contact.phone = f.phone.value.trim();
      var body = {person: person, route: f.route.value};
      if (f.referred_by.value.trim()) body.referred_by = f.referred_by.value.trim();
      if (f.opened_at.value) body.opened_at = f.opened_at.value;
      $("new-error").textContent = "";
      api("POST", "/api/console/cases", body).then(function (data) {
        f.reset(); f.hidden = true;
        location.hash = data.case.number;
      }).catch(function (err) { $("new-error").textContent = err.message; });
    });
  })();

  // --- one case --------------------------------------------------------------------------------------
  function loadCase(number) {
    return api("GET", "/api/console/cases/" + encodeURIComponent(number)).then(function (data) {
      renderCase(data.case);
    }).catch(function (err) {
      if (err.status === 401) return;
      $("case-view").hidden = true; $("list-view").hidden = false;
      showAlert(err.message);
      loadList();
    });
  }
  function renderCase(c) {
    current = c;
    document.title = "사례 " + c.number;
    renderHead(c); renderStepbar(c); renderMoves(c); renderTimeline(c); renderServices(c);
    renderEntries(c); renderFollowups(c); renderConversations(c); renderDocuments(c); renderPeople(c);
  }
  function renderHead(c) {
    var h = $("case-head"); h.textContent = "";
    h.appendChild(el("h2", "number", "사례 " + c.number));
    var p = c.person || {};
    h.appendChild(el("span", "person", p.name || "(이름 없음)"));
    if (p.youth) h.appendChild(el("span", "badge youth", "청소년"));
    h.appendChild(el("span", "badge step", c.step_label || label(STEP, c.step)));
    h.appendChild(el("span", "badge level-" + (c.support_level || "none"),
                     "지원 수준: " + (c.support_level ? label(LEVEL, c.support_level) : "미정")));
    h.appendChild(el("span", "meta", "담당: " + (who(c.owner) || "없음")));
    var facts = [label(ROUTE, c.route) + (c.channel ? " (" + label(CHANNEL, c.channel) + ")" : ""), "접수 " + day(c.opened_at)];
    if (c.referred_by) facts.push("의뢰: " + c.referred_by);
    if (p.contact && p.contact.phone) facts.push("전화 " + p.contact.phone);
    if (c.closed_at) facts.push("종결 " + day(c.closed_at) + (c.close_reason ? " · " + label(CLOSE_REASON, c.close_reason) : "") +
                                (c.referred_out ? " · 다른 기관에 의뢰함" : ""));
    if (c.reopened) facts.push("재개 " + c.reopened + "회");
    h.appendChild(el("p", "meta facts", facts.join(" · ")));
  }
  function renderStepbar(c) {
    var bar = $("stepbar"); bar.textContent = "";
    var seen = {};
    (c.steps || []).forEach(function (s) { seen[s.to] = true; });
    STEPS.forEach(function (s) {
      var li = el("li", null, s[1]);
      li.dataset.step = s[0];
      if (s[0] === c.step) { li.className = "current"; li.setAttribute("aria-current", "step"); }
      else if (seen[s[0]]) li.className = "done";
      bar.appendChild(li);
    });
  }
  function renderMoves(c) {
    var box = $("moves"); box.textContent = "";
    (c.allowed || []).forEach(function (m) {
      var b = button(m.label || label(STEP, m.to), m.to === "closed" ? "danger" : "primary", function () { openMove(m); });
      b.dataset.to = m.to; b.dataset.name = m.name;
      box.appendChild(b);
    });
    if (!(c.allowed || []).length) box.appendChild(el("span", "empty", "갈 수 있는 단계가 없어요."));
    $("move-form").hidden = true;
  }

  // The form for one move, built from what the server says it needs.
  function moveInput(name, m) {
    var spec = FIELD[name] || {label: name, type: "text"};
    var choices = (m.choices || {})[name];
    if (choices) {
      // Either a list of codes or {code: label} (the server's labels win over ours).
      var options = Array.isArray(choices)
        ? choices.map(function (code) { return [code, label(CHOICE_LABELS[name] || {}, code)]; })
        : Object.keys(choices).map(function (code) { return [code, choices[code] || label(CHOICE_LABELS[name] || {}, code)]; });
      return select(name, options, "선택하세요");
    }
    if (spec.type === "yesno") return select(name, [["true", "예 (지원 대상)"], ["false", "아니오"]], "선택하세요");
    if (spec.type === "check") { var i = el("input"); i.type = "checkbox"; i.name = name; return i; }
    return input(spec.type, name);
  }
  function openMove(m) {
    var f = $("move-form"); f.textContent = ""; f.hidden = false;
    f.dataset.to = m.to;
    f.appendChild(el("h3", null, (m.label || label(STEP, m.to)) + " → " + label(STEP, m.to)));
    var box = el("div", "fields");
    var names = (m.required || []).slice();
    (OPTIONAL[m.name] || []).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    names.forEach(function (name) {
      var required = (m.required || []).indexOf(name) >= 0;
      var spec = FIELD[name] || {type: "text"};
      var l = field(fieldLabel(name) + (required ? " *" : ""), moveInput(name, m),
                    spec.type === "textarea" ? "wide" : (spec.type === "check" ? "check" : null));
      l.dataset.field = name;
      box.appendChild(l);
    });
    var on = input("date", "on"); on.dataset.on = "1";
    box.appendChild(field("일자 (비워 두면 오늘)", on));
    f.appendChild(box);
    if (names.length) f.appendChild(el("p", "hint", "* 표시는 꼭 적어야 해요."));
    var row = el("div", "row");
    var ok = el("button", "primary", "저장"); ok.type = "submit";
    row.appendChild(ok);
    row.appendChild(button("취소", null, function () { f.hidden = true; }));
    f.appendChild(row);
    f.appendChild(el("p", "error", "")).id = "move-error";
    $("move-error").setAttribute("role", "alert");
    f.onsubmit = function (e) {
      e.preventDefault();
      var data = {};
      names.forEach(function (name) {
        var x = f.elements[name];
        if (!x) return;
        if (x.type === "checkbox") { data[name] = x.checked; return; }
        var v = x.value.trim();
        if (v === "") return;  // left empty: the server says whether that is allowed
        data[name] = (FIELD[name] || {}).type === "yesno" ? v === "true" : v;
      });
      var body = {to: m.to, data: data};
      if (on.value) body.on = on.value;
      ok.disabled = true; $("move-error").textContent = "";
      Array.prototype.forEach.call(f.querySelectorAll(".missing"), function (l) { l.classList.remove("missing"); });
      api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/transition", body).then(function (res) {
        renderCase(res.case);
      }).catch(function (err) {
        $("move-error").textContent = err.message;
        (err.missing || []).forEach(function (n) {
          var l = f.querySelector('[data-field="' + n + '"]');
          if (l) l.classList.add("missing");
        });
      }).then(function () { ok.disabled = false; });
    };
    var first = f.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function renderTimeline(c) {
    var list = $("timeline"); list.textContent = "";
    (c.steps || []).forEach(function (s) {
      var li = el("li");
      li.dataset.to = s.to;
      var head = el("div", "when", day(s.on) + " · " + (s.from ? label(STEP, s.from) + " → " : "") + label(STEP, s.to) +
                    (s.label && s.label !== label(STEP, s.to) ? " (" + s.label + ")" : "") + (who(s.actor) ? " · " + who(s.actor) : ""));
      li.appendChild(head);
      var data = s.data || {};
      var keys = Object.keys(data);
      if (keys.length) {
        var dl = el("dl");
        keys.forEach(function (k) { dl.appendChild(el("dt", null, fieldLabel(k))); dl.appendChild(el("dd", null, show(data[k], k))); });
        li.appendChild(dl);
      }
      list.appendChild(li);
    });
  }

  // --- services -----------------------------------------------------------------------------------
  function renderServices(c) {
    var body = $("service-rows"); body.textContent = "";
    (c.services || []).forEach(function (s) {
      var tr = el("tr");
      tr.dataset.kind = s.kind;
      [day(s.on), s.kind_label || label(SERVICE, s.kind), String(s.minutes || 0), s.partner || "", s.note || "", who(s.counsellor)]
        .forEach(function (v) { tr.appendChild(el("td", null, v)); });
      body.appendChild(tr);
    });
    $("service-count").textContent = (c.services || []).length;
  }
  (function () {
    var f = $("service-form");
    pairs(SERVICE).forEach(function (p) { var o = el("option", null, p[1]); o.value = p[0]; f.kind.appendChild(o); });
    function partnerShown() {
      var needed = PARTNER_KINDS.indexOf(f.kind.value) >= 0;
      $("partner-row").hidden = !needed;
    }
    f.kind.addEventListener("change", partnerShown);
    partnerShown();
    f.on.value = today();
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {kind: f.kind.value, on: f.on.value || today(), minutes: parseInt(f.minutes.value || "0", 10)};
      if (PARTNER_KINDS.indexOf(body.kind) >= 0) {
        if (!f.partner.value.trim()) { $("service-error").textContent = "연계 기관을 적어 주세요."; return; }
        body.partner = f.partner.value.trim();
      }
      if (f.note.value.trim()) body.note = f.note.value.trim();
      $("service-error").textContent = "";
      api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/services", body).then(function () {
        f.partner.value = ""; f.note.value = "";
        return loadCase(current.number);
      }).catch(function (err) { $("service-error").textContent = err.message; });
    });
  })();

  // --- notes, referrals, incidents ------------------------------------------------------------------
  function renderEntries(c) {
    var box = $("entries"); box.textContent = "";
    Object.keys(ENTRY).forEach(function (kind) {
      var spec = ENTRY[kind];
      var mine = (c.entries || []).filter(function (e) { return e.kind === kind; });
      var sec = el("div", "entry-kind"); sec.id = "entries-" + kind;
      var h = el("h2", null, spec.title + " ");
      h.appendChild(el("span", "count", String(mine.length)));
      sec.appendChild(h);
      var ul = el("ul", "plain entries");
      mine.forEach(function (e) {
        var li = el("li");
        li.appendChild(el("div", "when", day(e.created_at) + (who(e.author) ? " · " + who(e.author) : "")));
        var b = e.body || {};
        spec.fields.forEach(function (fdef) {
          if (b[fdef[0]] === undefined || b[fdef[0]] === "") return;
          li.appendChild(el("div", "text", (spec.fields.length > 1 ? fdef[1] + ": " : "") + show(b[fdef[0]])));
        });
        ul.appendChild(li);
      });
      sec.appendChild(ul);
      var d = el("details"); d.appendChild(el("summary", null, spec.title + " 추가"));
      var f = el("form", "card"); f.dataset.kind = kind;
      var fields = el("div", "fields");
      spec.fields.forEach(function (fdef) { fields.appendChild(field(fdef[1], input(fdef[2], fdef[0]), fdef[2] === "textarea" ? "wide" : null)); });
      f.appendChild(fields);
      var ok = el("button", null, "저장"); ok.type = "submit"; f.appendChild(ok);
      var err = el("p", "error"); err.setAttribute("role", "alert"); f.appendChild(err);
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        var body = {};
        spec.fields.forEach(function (fdef) { var v = f.elements[fdef[0]].value.trim(); if (v) body[fdef[0]] = v; });
        if (!Object.keys(body).length) { err.textContent = "내용을 적어 주세요."; return; }
        api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/entries", {kind: kind, body: body})
          .then(function () { return loadCase(current.number); })
          .catch(function (x) { err.textContent = x.message; });
      });
      d.appendChild(f); sec.appendChild(d);
      box.appendChild(sec);
    });
  }

  // --- follow-ups (사후관리) -------------------------------------------------------------------------
  function renderFollowups(c) {
    var ul = $("followups"); ul.textContent = "";
    (c.followups || []).forEach(function (f) {
      var li = el("li", f.due ? "due" : (f.done_at ? "done" : (f.cancelled ? "cancelled" : null)));
      li.dataset.months = f.months; li.dataset.id = f.id;
      li.appendChild(el("strong", null, f.months + "개월 사후관리"));
      li.appendChild(el("span", "meta", " 예정일 " + day(f.due_on)));
      if (f.done_at) li.appendChild(el("div", "meta", "완료 " + day(f.done_at) + (who(f.done_by) ? " · " + who(f.done_by) : "") +
                                                     (f.note ? " · " + f.note : "")));
      else if (f.cancelled) li.appendChild(el("div", "meta", "취소됨 (사례 재개)"));
      else {
        if (f.due) li.appendChild(el("span", "badge due", "할 때가 됐어요"));
        var row = el("div", "row");
        var note = input("text", "note"); note.placeholder = "메모 (선택)";
        row.appendChild(note);
        row.appendChild(button("완료", null, function () {
          var body = note.value.trim() ? {note: note.value.trim()} : {};
          api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/followups/" + f.id + "/done", body)
            .then(function (res) { renderCase(res.case); }).catch(function (err) { showAlert(err.message); });
        }));
        li.appendChild(row);
      }
      ul.appendChild(li);
    });
    if (!(c.followups || []).length) ul.appendChild(el("li", "empty", "종결하면 3개월·6개월 뒤 사후관리 일정이 생겨요."));
  }

  // --- linked conversations, documents, people ------------------------------------------------------
  function renderConversations(c) {
    var ul = $("conversations"); ul.textContent = "";
    (c.conversations || []).forEach(function (v) {
      var li = el("li"), a = el("a", null, label(CHANNEL, v.channel) + " · " + day(v.created_at) + " · " + label(CONV_STATE, v.state));
      a.href = "/console#" + v.id;
      li.appendChild(a); ul.appendChild(li);
    });
    if (!(c.conversations || []).length) ul.appendChild(el("li", "empty", "연결된 대화가 없어요."));
  }
  function size(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + "MB" : Math.max(1, Math.round(n / 1024)) + "KB"; }
  function renderDocuments(c) {
    var ul = $("documents"); ul.textContent = "";
    (c.documents || []).forEach(function (d) {
      var li = el("li"), a = el("a", null, d.filename);
      a.href = "/api/console/cases/" + encodeURIComponent(c.number) + "/documents/" + d.id;
      a.setAttribute("download", d.filename);
      li.appendChild(a);
      li.appendChild(el("span", "meta", " " + size(d.size || 0) + " · " + day(d.created_at)));
      ul.appendChild(li);
    });
    if (!(c.documents || []).length) ul.appendChild(el("li", "empty", "올린 문서가 없어요."));
  }
  $("document-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target, file = f.file.files[0];
    $("document-error").textContent = "";
    if (!file) return;
    if (file.size > 10 * 1024 * 1024) { $("document-error").textContent = "10MB보다 큰 파일은 올릴 수 없어요."; return; }
    var data = new FormData(); data.append("file", file, file.name);
    api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/documents", undefined, data)
      .then(function () { f.reset(); return loadCase(current.number); })
      .catch(function (err) { $("document-error").textContent = err.message; });
  });
  function renderPeople(c) {
    var isOwner = c.owner && c.owner.login === me.login;
    var sup = me.role === "supervisor";
    var ul = $("members"); ul.textContent = "";
    ul.appendChild(el("li", null, "담당: " + (who(c.owner) || "없음")));
    (c.members || []).forEach(function (m) { ul.appendChild(el("li", null, who(m))); });
    $("people-panel").hidden = !(sup || isOwner);
    $("owner-btn").hidden = !sup;
    if (!(sup || isOwner)) return;
    function fill() {
      var s = $("member-login"), taken = {};  // the owner already sees the case
      taken[c.owner ? c.owner.login : ""] = true;
      s.textContent = "";
      counsellors.filter(function (u) { return !taken[u.login]; }).forEach(function (u) {
        var o = el("option", null, u.name + " (" + label(ROLE, u.role) + ")"); o.value = u.login; s.appendChild(o);
      });
    }
    if (counsellors) { fill(); return; }
    api("GET", "/api/console/counsellors").then(function (data) { counsellors = data.counsellors; fill(); }).catch(function () {});
  }
  $("member-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var as = e.submitter && e.submitter.value === "owner" ? "owner" : "members";
    $("member-error").textContent = "";
    api("POST", "/api/console/cases/" + encodeURIComponent(current.number) + "/" + as, {login: $("member-login").value})
      .then(function (res) { renderCase(res.case); }).catch(function (err) { $("member-error").textContent = err.message; });
  });

  // --- boot --------------------------------------------------------------------------------------
  $("logout").addEventListener("click", function () {
    api("POST", "/api/console/logout", {}).catch(function () {}).then(function () { location.href = "/console"; });
  });
  Array.prototype.forEach.call(document.querySelectorAll("a.back"), function (a) {
    a.addEventListener("click", toList);
  });
  fetch("/api/console/me", {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) throw new Error("signed out");
    return r.json();
  }).then(function (data) {
    csrf = data.csrf_token; me = data.user;
    if (me.role !== "counsellor" && me.role !== "supervisor") {
      $("signed-out").hidden = false;
      $("signed-out").querySelector("p").textContent = "사례는 상담원과 슈퍼바이저만 볼 수 있어요.";
      return;
    }
    $("app").hidden = false;
    $("me").textContent = me.name + " (" + label(ROLE, me.role) + ")";
    $("stats-link").hidden = me.role !== "supervisor";
    route();
  }).catch(signedOut);
})();
