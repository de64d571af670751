// Web chat: no framework, no build step. The session id lives in sessionStorage only, so closing
// the tab (or the quick-exit button) leaves nothing behind on a shared phone.
(function () {
  "use strict";
  var NEUTRAL = "https://search.naver.com/search.naver?query=%EC%98%A4%EB%8A%98+%EB%82%A0%EC%94%A8";
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var lastId = 0;
  var seq = 0;
  var seen = {};   // message ids already on the page (a reply can come by the POST and by the poll)
  var early = [];  // emergency texts shown at once while the bot was slow; skipped once when stored

  // The session id is the only key to this person's replies: it comes from the browser's CSPRNG or
  // the chat does not start (a guessable id would let others read the conversation).
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    if (window.crypto && crypto.getRandomValues) {
      var bytes = crypto.getRandomValues(new Uint8Array(16));
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
    return null;
  }
  var session = sessionStorage.getItem("dasi-session");
  if (!session || !/^[0-9a-f]{32}$/.test(session)) {  // an id made by an older, weaker version is replaced
    session = newId();
    if (session) sessionStorage.setItem("dasi-session", session);
  }

  // Language: what the person chose (kept for this tab only, like the session), else what the
  // conversation's messages were written in (the server says; the page follows until a choice is made).
  var picker = document.getElementById("lang");
  var LANGS = ["ko", "en", "vi", "th", "zh", "ru", "tl"];
  var fromUrl = (new URLSearchParams(location.search)).get("lang");
  var chosen = sessionStorage.getItem("dasi-lang") || (LANGS.indexOf(fromUrl) >= 0 ? fromUrl : null);
  if (LANGS.indexOf(chosen) < 0) chosen = null;
  var shownLang = "ko";
  var counsellorWord = "상담원";

  // Phone numbers in the notice become links a phone can call.
  function withLinks(el, text) {
    el.textContent = "";
    text.split(/(\d{3,4}-\d{4}|\b\d{3,4}\b)/).forEach(function (part, i) {
      if (i % 2) { var a = document.createElement("a"); a.href = "tel:" + part; a.textContent = part; el.appendChild(a); }
      else if (part) el.appendChild(document.createTextNode(part));
    });
  }
  function applyWords(lang) {
    if (lang === shownLang) return Promise.resolve();
    return fetch("/api/webchat/words?lang=" + encodeURIComponent(lang)).then(function (r) { return r.json(); })
      .then(function (data) {
        var w = data.ui || {};
        shownLang = data.lang || lang;
        document.documentElement.lang = shownLang;
        document.title = w.title;
        document.getElementById("title").textContent = w.title;
        document.getElementById("exit").textContent = w.exit;
        document.getElementById("exit").setAttribute("aria-label", w.exit_label);
        withLinks(document.getElementById("notice"), w.notice);
        var privacy = document.getElementById("privacy");
        privacy.textContent = w.privacy_link;
        privacy.href = "/privacy" + (shownLang === "ko" ? "" : "?lang=" + shownLang);
        input.placeholder = w.placeholder;
        document.getElementById("send").textContent = w.send;
        document.getElementById("typing").textContent = w.typing;
        document.getElementById("lang-label").textContent = w.language;
        counsellorWord = w.counsellor;
        picker.value = shownLang;
      }).catch(function () {});
  }
  function follow(lang) {  // the conversation's language, when the person has not chosen one
    if (!chosen && LANGS.indexOf(lang) >= 0) applyWords(lang);
  }

  var socket = null;
  function quickExit() {
    try { sessionStorage.clear(); } catch (e) {}
    if (socket) { socket.onclose = null; socket.close(); }
    log.innerHTML = "";
    // replace(): the chat is not left in the back-button history.
    window.location.replace(NEUTRAL);
  }
  document.getElementById("exit").addEventListener("click", quickExit);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") quickExit(); });

  function show(author, text, buttons) {
    var div = document.createElement("div");
    div.className = "msg " + author;
    if (author === "counsellor") {
      var who = document.createElement("span"); who.className = "who"; who.textContent = counsellorWord;
      div.appendChild(who);
    }
    div.appendChild(document.createTextNode(text || ""));
    log.appendChild(div);
    if (buttons && buttons.length) {
      var row = document.createElement("div"); row.className = "buttons";
      buttons.forEach(function (b) {
        var btn = document.createElement("button"); btn.type = "button"; btn.textContent = b.title;
        btn.addEventListener("click", function () { send(b.payload, b.title); });
        row.appendChild(btn);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  function send(text, shown) {
    if (shown !== null) show("user", shown || text);
    seq += 1;
    return fetch("/api/webchat/messages", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(chosen ? {session: session, text: text, id: Date.now() + "-" + seq, lang: chosen}
                                  : {session: session, text: text, id: Date.now() + "-" + seq})
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.state) state = data.state;
      if (data.language) follow(data.language);
      (data.replies || []).forEach(function (r) {
        if (r.id) { if (seen[r.id]) return; seen[r.id] = true; }
        else if (data.pending) early.push(r.text);
        show("bot", r.text, r.buttons);
      });
      if (!data.replies) show("system", data.message || "오류가 생겼어요. 위험하면 112에 연락하세요.");
    }).catch(function () {
      show("system", "연결이 끊겼어요. 위험하면 바로 112, 힘들면 109에 전화하세요. 센터: 02-814-3660");
    });
  }

  // Counsellor replies, notices and the bot's late answers: the websocket says "something new" and we
  // fetch it at once;
  // polling stays as the fallback (every 4 s while the websocket is down, 20 s while it is up).
  var polling = false, again = false, timer = null, state = "bot";
  var typing = document.getElementById("typing");
  function live() { return socket && socket.readyState === 1; }
  function poll() {
    clearTimeout(timer);
    if (polling) { again = true; return; }
    polling = true;
    fetch("/api/webchat/messages?session=" + encodeURIComponent(session) + "&after=" + lastId)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        state = data.state || state;
        (data.messages || []).forEach(function (m) {
          if (m.id <= lastId) return;
          lastId = m.id;
          if (seen[m.id]) return;
          seen[m.id] = true;
          var i = m.author === "bot" ? early.indexOf(m.text) : -1;
          if (i >= 0) { early.splice(i, 1); return; }
          typing.hidden = true; show(m.author, m.text, m.buttons);
        });
      }).catch(function () {}).then(function () {
        polling = false;
        if (again) { again = false; poll(); return; }
        timer = setTimeout(poll, live() ? 20000 : 4000);
      });
  }
  function connect(delay) {
    if (!window.WebSocket) return;
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(proto + location.host + "/api/webchat/ws?session=" + encodeURIComponent(session));
    socket.onmessage = function (m) {
      var ev; try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (ev.state) state = ev.state;
      if (ev.type === "typing") {
        typing.hidden = false;
        setTimeout(function () { typing.hidden = true; }, 5000);
      } else { poll(); }
    };
    socket.onclose = function () {
      var next = Math.min((delay || 1000) * 2, 30000);
      setTimeout(function () { connect(next); }, delay || 1000);
    };
  }
  var lastTyping = 0;
  input.addEventListener("input", function () {
    // Only a counsellor sees typing; the bot does not need it.
    if (state === "counsellor" && live() && Date.now() - lastTyping > 3000) {
      lastTyping = Date.now(); socket.send(JSON.stringify({type: "typing"}));
    }
  });

  if (!session) {
    show("system", "이 브라우저에서는 안전한 채팅을 시작할 수 없어요. 다른 브라우저로 다시 열어 주세요. " +
         "지금 위험하면 바로 112, 힘들면 109에 전화하세요. 센터: 02-814-3660");
    input.disabled = true;
    form.querySelector("button").disabled = true;
    return;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  // Choosing a language: the page's words and a welcome in it (kept on the conversation by the server).
  picker.addEventListener("change", function () {
    chosen = picker.value;
    try { sessionStorage.setItem("dasi-lang", chosen); } catch (e) {}
    applyWords(chosen).then(function () { send("/greet", null); });
  });
  // the welcome, without a bubble the person did not type
  (chosen ? applyWords(chosen) : Promise.resolve()).then(function () { return send("/greet", null); })
    .then(function () { connect(); poll(); });
})();
