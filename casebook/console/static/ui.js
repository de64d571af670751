// Small DOM helpers shared by the console pages (no framework, no build step).
(function () {
  "use strict";
  window.dasiUi = {
    $: function (id) { return document.getElementById(id); },
    // Text is set with textContent only, so nothing a user wrote is ever parsed as HTML.
    el: function (tag, cls, text) {
      var n = document.createElement(tag);
      if (cls) n.className = cls;
      if (text !== undefined && text !== null) n.textContent = text;
      return n;
    },
    // A JSON call from a staff page: the CSRF token on changes; a 401 swaps #app for #signed-out.
    api: function (method, path, body, csrf) {
      var headers = {"Accept": "application/json"};
      if (method !== "GET") { headers["X-CSRF-Token"] = csrf || ""; headers["Content-Type"] = "application/json"; }
      return fetch(path, {method: method, headers: headers, credentials: "same-origin",
                          body: body === undefined ? undefined : JSON.stringify(body)})
        .then(function (r) {
          return r.json().catch(function () { return {}; }).then(function (data) {
            if (r.status === 401) { window.dasiUi.$("app").hidden = true; window.dasiUi.$("signed-out").hidden = false; }
            if (!r.ok) throw new Error(data.message || ("오류 " + r.status));
            return data;
          });
        });
    }
  };
})();
