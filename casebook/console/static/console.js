// Counsellor console: no framework, no build step. Live over a websocket (/api/console/ws) that only
// says what changed; the data itself comes from the JSON API, which checks the role on every call.
(function () {
  "use strict";
  var RISK = {critical: "긴급", high: "높음", medium: "주의", low: "낮음", none: "일반"};
  var CATEGORY = {danger: "위험", self_harm: "자해·자살", medical: "응급의료", minor: "청소년 착취", exploitation: "강요·착취"};
  var SIGNAL = {model: "모델", floor: "확실한 문구", lexicon: "위기 문구", intent: "챗봇 의도", age: "나이", minor: "청소년"};
  // Why the assessor decided: "model:danger" → "모델(위험)"; never message text.
  function reasonText(r) {
    var parts = r.split(":"), what = CATEGORY[parts[1]] || (parts[1] === "under_19" ? "19세 미만" : parts[1]);
    return (SIGNAL[parts[0]] || parts[0]) + (what ? "(" + what + ")" : "");
  }
  var CHANNEL = {web: "웹 채팅", kakao: "카카오톡", instagram: "인스타그램", messenger: "메신저", x: "X"};
  var STATE = {bot: "챗봇", waiting: "대기", counsellor: "상담원 연결", closed: "종료"};
  var AUTHOR = {user: "내담자", bot: "챗봇", counsellor: "상담원", system: "안내"};
  var ROLE = {counsellor: "상담원", supervisor: "슈퍼바이저", editor: "편집자", admin: "관리자"};
  var csrf = null, me = null, current = null, socket = null, seenCritical = {};
  var $ = window.dasiUi.$, el = window.dasiUi.el;
  function showAlert(text) {
    var a = $("alert");
    a.textContent = text; a.hidden = !text;
    if (text) setTimeout(function () { if (a.textContent === text) a.hidden = true; }, 8000);
  }
  function minutes(sec) {
    if (sec === null || sec === undefined) return "";
    if (sec < 60) return "방금";
    if (sec < 3600) return Math.floor(sec / 60) + "분 대기";
    return Math.floor(sec / 3600) + "시간 " + Math.floor((sec % 3600) / 60) + "분 대기";
  }
  function when(iso) {
    return iso ? new Date(iso).toLocaleString("ko-KR", {month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit"}) : "";
  }

  function api(method, path, body) {
    var headers = {"Accept": "application/json"};
    if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, {method: method, headers: headers, credentials: "same-origin",
                        body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (r.status === 401 && path !== "/api/console/login") { signedOut(); }
          if (!r.ok) { var e = new Error(data.message || ("오류 " + r.status)); e.status = r.status; e.code = data.error; throw e; }
          return data;
        });
      });
  }

  // --- sign-in ---------------------------------------------------------------------------------
  function signedOut() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    $("app").hidden = true; $("login").hidden = false;
  }
  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    var body = {login: f.login.value.trim(), password: f.password.value};
    if (f.totp.value) body.totp = f.totp.value.trim();
    $("login-error").textContent = "";
    api("POST", "/api/console/login", body).then(function (data) {
      f.password.value = ""; f.totp.value = "";
      start(data);
    }).catch(function (err) {
      $("login-error").textContent = err.message;
    });
  });
  $("logout").addEventListener("click", function () {
    api("POST", "/api/console/logout", {}).catch(function () {}).then(signedOut);
  });

  function start(data) {
    csrf = data.csrf_token; me = data.user;
    if (me.role === "editor") { window.location.replace("/admin/knowledge"); return; }
    $("login").hidden = true; $("app").hidden = false;
    $("me").textContent = me.name + " (" + (ROLE[me.role] || me.role) + ")";
    var staff = me.role === "counsellor" || me.role === "supervisor";
    $("console-main").hidden = !staff;
    $("live").hidden = !staff; $("notify").hidden = !staff;
    $("show-audit").hidden = me.role !== "supervisor";
    $("kb-link").hidden = me.role !== "admin";
    $("cases-link").hidden = !staff;
    $("stats-link").hidden = me.role !== "supervisor";
    $("users").hidden = me.role !== "admin";
    $("held-title").textContent = me.role === "supervisor" ? "상담 중 (전체)" : "내 상담";
    if (staff) { connect(); loadQueue(); loadCounsellors(); }
    // /console#<conversation id>: opened from a case page.
    if (staff && /^#[0-9a-f-]{36}$/.test(location.hash)) openConversation(location.hash.slice(1));
    if (me.role === "admin") loadUsers();
  }

  // --- live ------------------------------------------------------------------------------------
  var retry = 1000, queueTimer = null, convTimer = null;
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(proto + location.host + "/api/console/ws");
    socket.onopen = function () { retry = 1000; $("live").textContent = "실시간"; $("live").className = "live"; loadQueue(); };
    socket.onmessage = function (m) { var ev; try { ev = JSON.parse(m.data); } catch (e) { return; } onEvent(ev); };
    socket.onclose = function () {
      $("live").textContent = "다시 연결 중…"; $("live").className = "live off";
      setTimeout(function () { if (me) connect(); }, retry);
      retry = Math.min(retry * 2, 15000);
    };
  }
  function soon(fn, timerName, ms) {
    // Several events in a burst (message in, reply out) cause one fetch.
    if (timerName === "q") { clearTimeout(queueTimer); queueTimer = setTimeout(fn, ms); }
    else { clearTimeout(convTimer); convTimer = setTimeout(fn, ms); }
  }
  function onEvent(ev) {
    soon(loadQueue, "q", 100);
    if (!current || ev.conversation !== current) return;
    if (ev.type === "typing") {
      if (ev.who !== "user") return;
      $("typing").textContent = "내담자가 입력하고 있어요…"; $("typing").hidden = false;
      setTimeout(function () { $("typing").hidden = true; }, 4000);
      return;
    }
    if (ev.type === "delivery_failed") showAlert("메시지가 전달되지 못했어요 (" + (CHANNEL[ev.channel] || ev.channel) + "). 대화에서 확인하세요.");
    soon(function () { openConversation(current, true); }, "c", 100);
  }
  setInterval(function () { if (me && (!socket || socket.readyState !== 1)) loadQueue(); }, 10000);  // fallback

  // --- alerts for critical conversations ------------------------------------------------------
  $("notify").addEventListener("click", function () {
    if (window.Notification) Notification.requestPermission().then(function (p) {
      $("notify").textContent = p === "granted" ? "알림 켜짐" : "알림 꺼짐";
    });
    beep();  // also unlocks audio playback on this page
  });
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [0, 0.35].forEach(function (t) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = 880; o.connect(g); g.connect(audio.destination);
        g.gain.setValueAtTime(0.2, audio.currentTime + t);
        o.start(audio.currentTime + t); o.stop(audio.currentTime + t + 0.25);
      });
    } catch (e) {}
  }
  function alertCritical(item) {
    document.body.dataset.lastCritical = item.id;
    beep();
    if (window.Notification && Notification.permission === "granted") {
      // No message text in the notification: the screen may be seen by others.
      new Notification("긴급 대화가 대기 중이에요", {body: (CHANNEL[item.channel] || item.channel) + " · 바로 확인해 주세요", tag: item.id});
    }
    showAlert("긴급 대화가 대기열 맨 위에 올라왔어요.");
  }

  // --- queue -----------------------------------------------------------------------------------
  function badges(c) {
    var box = document.createDocumentFragment();
    box.appendChild(el("span", "badge risk-" + c.risk, "위험: " + (RISK[c.risk] || c.risk)));
    if (c.youth) box.appendChild(el("span", "badge youth", "청소년"));
    box.appendChild(el("span", "badge", CHANNEL[c.channel] || c.channel));
    box.appendChild(el("span", "badge state", STATE[c.state] || c.state));
    if (c.language) box.appendChild(el("span", "badge lang" + (c.language === "ko" ? "" : " foreign"), c.language_name || c.language));
    return box;
  }
  function languageList(text) {
    return text.split(/[\s,]+/).map(function (x) { return x.trim().toLowerCase(); }).filter(Boolean);
  }
  function item(c) {
    var li = el("li", "risk-" + c.risk);
    li.dataset.id = c.id;
    if (c.id === current) li.classList.add("selected");
    li.appendChild(badges(c));
    var meta = c.state === "waiting" ? minutes(c.wait_seconds) : (c.assignee ? "담당: " + c.assignee : "");
    li.appendChild(el("div", "meta", meta));
    li.appendChild(el("div", "preview", c.preview || "(텍스트 없음)"));
    if (c.language && c.language !== "ko") {
      // Who could answer in the person's language: signed-in counsellors first.
      var names = (c.suggested || []).map(function (p) { return p.name + (p.online ? " (접속 중)" : ""); });
      li.appendChild(el("div", "suggested", names.length ? "추천 상담원: " + names.join(", ")
                                                    : "이 언어를 하는 상담원이 없어요 · 통역 1577-1366"));
    }
    li.addEventListener("click", function () { openConversation(c.id); });
    return li;
  }
  function loadQueue() {
    if (!me || !(me.role === "counsellor" || me.role === "supervisor")) return;
    api("GET", "/api/console/queue").then(function (data) {
      var w = $("queue-waiting"), h = $("queue-held");
      w.textContent = ""; h.textContent = "";
      data.waiting.forEach(function (c) {
        w.appendChild(item(c));
        if (c.risk === "critical" && !seenCritical[c.id]) {
          seenCritical[c.id] = true;
          alertCritical(c);
        }
      });
      data.held.forEach(function (c) { h.appendChild(item(c)); });
      $("waiting-count").textContent = data.waiting.length;
      if (!data.waiting.length) w.appendChild(el("li", "empty", "대기 중인 대화가 없어요."));
    }).catch(function (err) { if (err.status !== 401) showAlert(err.message); });
  }

  // --- one conversation --------------------------------------------------------------------------
  var EVENT_TEXT = {
    state: function (e) { return "상태: " + (STATE[e.detail.old] || e.detail.old) + " → " + (STATE[e.detail.new] || e.detail.new); },
    risk: function (e) {
      var text = "위험도: " + (RISK[e.detail.old] || e.detail.old) + " → " + (RISK[e.detail.new] || e.detail.new);
      if (e.detail.categories && e.detail.categories.length) text += " · " + e.detail.categories.map(function (c) { return CATEGORY[c] || c; }).join(", ");
      if (e.detail.reasons && e.detail.reasons.length) text += " · 근거: " + e.detail.reasons.map(reasonText).join(", ");
      return text;
    },
    risk_corrected: function (e) {
      return "위험도 수정: " + (RISK[e.detail.old] || e.detail.old) + " → " + (RISK[e.detail.new] || e.detail.new) +
        (e.detail.categories.length ? " · " + e.detail.categories.map(function (c) { return CATEGORY[c] || c; }).join(", ") : "");
    },
    youth: function () { return "청소년으로 표시됨"; },
    transfer: function (e) { return "전달: " + e.detail.to; },
    failure: function (e) { return "장애: " + e.detail.component; },
    opened: function () { return "대화 시작"; }
  };
  function renderConversation(data) {
    var c = data.conversation;
    $("no-conv").hidden = true; $("conv").hidden = false;
    var b = $("conv-badges"); b.textContent = ""; b.appendChild(badges(c));
    if (c.assignee) b.appendChild(el("span", "badge", "담당: " + c.assignee.name));
    $("conv-window").textContent = "답장 가능 기간: " + c.reply_window.note + (c.reply_window.until ? " (" + when(c.reply_window.until) + "까지)" : "");
    var canClaim = c.state === "waiting" || c.state === "bot";
    var canAct = c.mine || (me.role === "supervisor" && c.state !== "closed");
    $("claim").hidden = !canClaim;
    $("open-case").hidden = canClaim; $("person-box").hidden = canClaim;
    $("release").hidden = !(c.state === "counsellor" && canAct);
    $("close").hidden = !canAct || c.state === "closed";
    $("reply-form").hidden = !c.mine;
    $("canned-box").hidden = !c.mine;
    $("risk-box").hidden = !canAct;
    $("risk-level").value = c.risk;
    // Messages and events in time order: the whole story, with who did what.
    var rows = data.messages.map(function (m) { return {t: m.created_at, m: m}; })
      .concat(data.events.filter(function (e) { return EVENT_TEXT[e.kind]; }).map(function (e) { return {t: e.created_at, e: e}; }))
      .sort(function (a, b) { return a.t < b.t ? -1 : a.t > b.t ? 1 : 0; });
    var list = $("transcript"), atBottom = list.parentNode.scrollTop + list.parentNode.clientHeight >= list.parentNode.scrollHeight - 40;
    list.textContent = "";
    rows.forEach(function (r) {
      if (r.e) { list.appendChild(el("li", "event", when(r.t) + " · " + EVENT_TEXT[r.e.kind](r.e) + " (" + r.e.actor + ")")); return; }
      var li = el("li", r.m.author + (r.m.delivery === "failed" ? " failed" : ""));
      li.dataset.id = r.m.id;
      li.appendChild(el("span", "who", (AUTHOR[r.m.author] || r.m.author) + " · " + when(r.t) + (r.m.delivery === "failed" ? " · 전달 실패" : "")));
      li.appendChild(document.createTextNode(r.m.text || "(첨부)"));
      list.appendChild(li);
    });
    var notes = $("notes"); notes.textContent = "";
    data.notes.forEach(function (n) { notes.appendChild(el("li", null, (n.author || "") + " · " + when(n.created_at) + "\n" + n.text)); });
    $("note-count").textContent = data.notes.length;
    if (atBottom) list.parentNode.scrollTop = list.parentNode.scrollHeight;
  }
  function openConversation(id, quiet) {
    if (id !== current) { $("case-form").hidden = true; $("case-name").value = ""; }
    current = id;
    Array.prototype.forEach.call(document.querySelectorAll(".items li"), function (li) { li.classList.toggle("selected", li.dataset.id === id); });
    return api("GET", "/api/console/conversations/" + id).then(renderConversation).catch(function (err) {
      if (!quiet) showAlert(err.message);
    });
  }
  function act(path, body, done) {
    if (!current) return Promise.resolve();
    var id = current;
    return api("POST", "/api/console/conversations/" + id + "/" + path, body === undefined ? {} : body)
      .then(function (data) { if (done) done(data); return openConversation(id); })
      .catch(function (err) { showAlert(err.message); if (err.status === 409) openConversation(id, true); })
      .then(loadQueue);
  }
  $("claim").addEventListener("click", function () { act("claim"); });
  $("release").addEventListener("click", function () { act("release"); });
  $("close").addEventListener("click", function () {
    if (window.confirm("이 상담을 종료할까요? 내담자에게 종료 안내가 전달돼요.")) act("close");
  });
  $("reply-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("reply").value.trim();
    if (!text) return;
    $("send").disabled = true;
    act("messages", {text: text}, function () { $("reply").value = ""; }).then(function () { $("send").disabled = false; });
  });
  var lastTyping = 0;
  $("reply").addEventListener("input", function () {
    if (Date.now() - lastTyping > 3000 && current) { lastTyping = Date.now(); api("POST", "/api/console/conversations/" + current + "/typing", {}).catch(function () {}); }
  });
  $("reply").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("reply-form").requestSubmit(); }
  });
  $("risk-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var cats = Array.prototype.filter.call($("risk-cats").querySelectorAll("input"), function (b) { return b.checked; })
      .map(function (b) { return b.value; });
    act("risk", {level: $("risk-level").value, categories: cats}, function () { $("risk-box").open = false; });
  });
  $("note-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("note").value.trim();
    if (text) act("notes", {text: text}, function () { $("note").value = ""; });
  });
  $("transfer-form").addEventListener("submit", function (e) {
    e.preventDefault();
    act("transfer", {to: $("transfer-to").value, note: $("transfer-note").value}, function () { $("transfer-note").value = ""; });
  });

  // --- cases: open one from this conversation, or link the conversation to a person already known ---------
  function openCase(person) {
    if (!current) return;
    var body = {conversation_id: current, route: "online"};
    if (person) body.person = person;
    else if (linkedPerson[current]) body.person_id = linkedPerson[current];
    api("POST", "/api/console/cases", body).then(function (data) {
      window.location.href = "/console/cases#" + data.case.number;
    }).catch(function (err) {
      // A conversation not yet linked to anyone: ask for a name or alias first.
      if (!person && err.code === "invalid_person") { $("case-form").hidden = false; $("case-name").focus(); }
      else showAlert(err.message);
    });
  }
  $("open-case").addEventListener("click", function () { openCase(null); });
  $("case-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var name = $("case-name").value.trim();
    if (name) openCase({name: name});
  });
  var linkedPerson = {};
  $("person-box").addEventListener("toggle", function () {
    if (!$("person-box").open) return;
    // The people this counsellor may see are those of their cases.
    api("GET", "/api/console/cases?limit=200").then(function (data) {
      var sel = $("person-pick"), seen = {};
      sel.textContent = "";
      data.cases.forEach(function (c) {
        if (!c.person || seen[c.person.id]) return;
        seen[c.person.id] = true;
        var o = el("option", null, (c.person.name || "(이름 없음)") + " · 사례 " + c.number); o.value = c.person.id; sel.appendChild(o);
      });
      if (!sel.options.length) { var o = el("option", null, "볼 수 있는 사례가 없어요"); o.value = ""; sel.appendChild(o); }
    }).catch(function (err) { showAlert(err.message); });
  });
  $("person-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var id = parseInt($("person-pick").value, 10), conv = current;
    if (!id || !conv) return;
    api("POST", "/api/console/conversations/" + conv + "/person", {person_id: id}).then(function () {
      linkedPerson[conv] = id;
      showAlert("대화를 연결했어요: " + $("person-pick").selectedOptions[0].textContent);
      $("person-box").open = false;
    }).catch(function (err) { showAlert(err.message); });
  });

  // --- canned replies: inserted into the reply box, to edit before sending --------------------------
  var cannedTimer = null;
  function loadCanned() {
    api("GET", "/api/console/canned?q=" + encodeURIComponent($("canned-q").value)).then(function (data) {
      var ul = $("canned"); ul.textContent = "";
      data.replies.forEach(function (r) {
        var li = el("li"), btn = el("button", null, r.title);
        btn.type = "button";
        btn.addEventListener("click", function () {
          var box = $("reply");
          box.value = (box.value ? box.value + "\n" : "") + r.text;
          box.focus();
        });
        li.appendChild(btn); ul.appendChild(li);
      });
      if (!data.replies.length) ul.appendChild(el("li", "empty", "찾는 글이 없어요."));
    }).catch(function (err) { showAlert(err.message); });
  }
  $("canned-q").addEventListener("input", function () { clearTimeout(cannedTimer); cannedTimer = setTimeout(loadCanned, 250); });
  $("canned-box").addEventListener("toggle", function () { if ($("canned-box").open) loadCanned(); });

  function loadCounsellors() {
    api("GET", "/api/console/counsellors").then(function (data) {
      var sel = $("transfer-to"); sel.textContent = "";
      // A supervisor may hand a conversation to themselves (to take it over); a counsellor to others.
      data.counsellors.filter(function (u) { return u.login !== me.login || me.role === "supervisor"; }).forEach(function (u) {
        var o = el("option", null, u.name + " (" + (ROLE[u.role] || u.role) + ")"); o.value = u.login; sel.appendChild(o);
      });
    }).catch(function () {});
  }

  // --- supervisors: audit; admins: users ------------------------------------------------------------
  $("show-audit").addEventListener("click", function () {
    var panel = $("audit");
    panel.hidden = !panel.hidden;
    if (panel.hidden) return;
    api("GET", "/api/console/audit?limit=200").then(function (data) {
      var body = $("audit-rows"); body.textContent = "";
      data.entries.forEach(function (a) {
        var tr = el("tr");
        [when(a.at), a.actor, a.action, a.record_type + " " + a.record_id, a.ip].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        body.appendChild(tr);
      });
    }).catch(function (err) { showAlert(err.message); });
  });
  function loadUsers() {
    api("GET", "/api/console/users").then(function (data) {
      var body = $("user-rows"); body.textContent = "";
      data.users.forEach(function (u) {
        var tr = el("tr");
        [u.login, u.name, ROLE[u.role] || u.role, u.disabled ? "사용 중지" : (u.locked ? "잠김" : "사용 중")].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        var langs = el("input"); langs.value = (u.languages || []).join(", "); langs.size = 10;
        langs.setAttribute("aria-label", u.login + " 상담 언어");
        langs.addEventListener("change", function () {
          api("POST", "/api/console/users/" + encodeURIComponent(u.login) + "/languages", {languages: languageList(langs.value)})
            .then(loadUsers).catch(function (err) { showAlert(err.message); });
        });
        var lt = el("td"); lt.appendChild(langs); tr.appendChild(lt);
        var td = el("td");
        if (!u.disabled && u.login !== me.login) {
          var btn = el("button", null, "사용 중지"); btn.type = "button";
          btn.addEventListener("click", function () {
            if (window.confirm(u.login + " 계정을 사용 중지할까요?")) api("POST", "/api/console/users/" + encodeURIComponent(u.login) + "/disable", {}).then(loadUsers).catch(function (err) { showAlert(err.message); });
          });
          td.appendChild(btn);
        }
        tr.appendChild(td); body.appendChild(tr);
      });
    }).catch(function (err) { showAlert(err.message); });
  }
  $("user-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    api("POST", "/api/console/users", {login: f.login.value.trim(), name: f.name.value.trim(), role: f.role.value, password: f.password.value})
      .then(function (data) {
        // Supervisors and admins need an authenticator app: the link is shown this once, to give to them.
        $("user-totp").textContent = data.totp_uri ? data.user.login + " 인증 앱 등록 링크 (지금 한 번만 보여요): " + data.totp_uri : "";
        $("user-totp").hidden = !data.totp_uri;
        f.reset(); loadUsers();
      }).catch(function (err) { showAlert(err.message); });
  });
  $("show-password").addEventListener("click", function () { $("password").hidden = !$("password").hidden; });
  $("show-languages").addEventListener("click", function () {
    $("my-languages").value = (me.languages || []).join(", ");
    $("languages").hidden = !$("languages").hidden;
  });
  $("languages-form").addEventListener("submit", function (e) {
    e.preventDefault();
    api("POST", "/api/console/me/languages", {languages: languageList($("my-languages").value)}).then(function (data) {
      me.languages = data.user.languages; $("languages").hidden = true;
      showAlert("상담 언어를 저장했어요: " + (me.languages.join(", ") || "없음"));
    }).catch(function (err) { showAlert(err.message); });
  });
  $("password-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    if (f.new.value !== f.again.value) { showAlert("새 비밀번호 두 칸이 서로 달라요."); return; }
    api("POST", "/api/console/me/password", {old_password: f.old.value, new_password: f.new.value}).then(function () {
      f.reset(); $("password").hidden = true; showAlert("비밀번호를 바꿨어요. 다른 기기에서는 로그아웃됐어요.");
    }).catch(function (err) { showAlert(err.message); });
  });

  // --- boot ------------------------------------------------------------------------------------------
  fetch("/api/console/me", {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) throw new Error("signed out");
    return r.json();
  }).then(start).catch(signedOut);
})();
