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
    }
  };
})();
