// Statistics page: fetches /api/console/stats and draws bar charts as inline SVG (no library, no
// inline script or style: the page runs under the console's CSP). Labels go in with textContent.
(function () {
  "use strict";
  var $ = window.dasiUi.$, el = window.dasiUi.el;
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#3949ab", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#c62828", "#5d4037", "#546e7a"];

  function alertMsg(text) { var a = $("alert"); a.textContent = text || ""; a.hidden = !text; }

  function svg(tag, attrs, text) {
    var n = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function fmt(v) { return v === null || v === undefined ? "-" : (typeof v === "number" ? v.toLocaleString("ko-KR") : String(v)); }

  // Grouped vertical bars: labels on x, one bar per series; a legend when there are several series.
  function barChart(box, labels, series) {
    box.textContent = "";
    var max = 1;
    series.forEach(function (s) { s.values.forEach(function (v) { if (v > max) max = v; }); });
    var longest = 0;
    labels.forEach(function (l) { if (l.length > longest) longest = l.length; });
    // Korean labels are wide: slant them when there are many or they are long.
    var slant = labels.length > 12 || longest > 7;
    var left = slant ? Math.max(48, longest * 8) : 48, top = 16, bottom = slant ? longest * 8 + 12 : 32, plotH = 180;
    var group = Math.max(22, series.length * 14 + 8, slant ? 0 : longest * 13 + 10);
    var width = left + labels.length * group + 16;
    var height = top + plotH + bottom + (series.length > 1 ? 18 : 0);
    var root = svg("svg", {viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img",
                           "aria-label": series.map(function (s) { return s.name; }).join(", ")});
    box.style.overflowX = "auto";  // CSSOM, not an inline style attribute: allowed by the CSP
    var nice = Math.pow(10, Math.floor(Math.log(max) / Math.LN10));
    var step = max / nice > 5 ? nice * 2 : (max / nice > 2 ? nice : nice / 2);
    if (step < 1) step = 1;
    var ceil = Math.ceil(max / step) * step;
    for (var t = 0; t <= ceil + 1e-9; t += step) {
      var y = top + plotH - (t / ceil) * plotH;
      root.appendChild(svg("line", {x1: left, x2: width - 8, y1: y, y2: y, stroke: "#e0e0e0"}));
      root.appendChild(svg("text", {x: left - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#555"}, fmt(t)));
    }
    labels.forEach(function (label, i) {
      var x0 = left + i * group + 4;
      series.forEach(function (s, j) {
        var v = s.values[i] || 0, h = (v / ceil) * plotH;
        var bar = svg("rect", {x: x0 + j * 14, y: top + plotH - h, width: 12, height: Math.max(0, h),
                               fill: s.color || COLORS[j % COLORS.length]});
        bar.appendChild(svg("title", {}, label + " · " + s.name + ": " + fmt(v)));
        root.appendChild(bar);
      });
      var lx = x0 + (series.length * 14) / 2, ly = top + plotH + 14;
      root.appendChild(svg("text", {x: lx, y: ly, "text-anchor": slant ? "end" : "middle",
                                    "font-size": 11, fill: "#333",
                                    transform: slant ? "rotate(-45 " + lx + " " + ly + ")" : ""}, label));
    });
    if (series.length > 1) {
      var lx2 = left;
      series.forEach(function (s, j) {
        root.appendChild(svg("rect", {x: lx2, y: height - 14, width: 10, height: 10, fill: s.color || COLORS[j]}));
        root.appendChild(svg("text", {x: lx2 + 14, y: height - 5, "font-size": 11, fill: "#333"}, s.name));
        lx2 += 20 + s.name.length * 12;
      });
    }
    box.appendChild(root);
  }

  function table(data, key) { return data.tables.filter(function (t) { return t.key === key; })[0]; }
  function withoutTotal(t) { return t.rows.filter(function (r) { return r[0] !== "합계"; }); }
  function column(t, name) { return t.columns.indexOf(name); }

  function drawCharts(data) {
    var kinds = table(data, "service_kinds");
    barChart($("chart-kinds"), kinds.columns.slice(2), [{name: "건수", values: kinds.rows[0].slice(2)}]);
    var hours = withoutTotal(table(data, "hours"));
    barChart($("chart-hours"), hours.map(function (r) { return r[0]; }),
             [{name: "대화", values: hours.map(function (r) { return r[1]; })},
              {name: "상담원 연결 요청", values: hours.map(function (r) { return r[2]; })}]);
    var conv = table(data, "conversations"), convRows = withoutTotal(conv);
    barChart($("chart-channels"), convRows.map(function (r) { return r[0]; }),
             [{name: "대화", values: convRows.map(function (r) { return r[column(conv, "대화(건)")]; })},
              {name: "상담원 연결 요청", values: convRows.map(function (r) { return r[column(conv, "상담원 연결 요청(건)")]; })}]);
    [["routes", "chart-routes"], ["levels", "chart-levels"]].forEach(function (pair) {
      var t = table(data, pair[0]), rows = withoutTotal(t);
      barChart($(pair[1]), rows.map(function (r) { return r[0]; }),
               [{name: "신규", values: rows.map(function (r) { return r[column(t, "신규(건)")]; })},
                {name: "계속", values: rows.map(function (r) { return r[column(t, "계속(건)")]; })}]);
    });
  }

  function drawTables(data) {
    var box = $("tables");
    box.textContent = "";
    data.tables.forEach(function (t) {
      var sec = el("section", "stats-table");
      sec.appendChild(el("h3", null, t.title));
      var tbl = el("table", "list"), head = el("tr");
      t.columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
      var thead = el("thead"); thead.appendChild(head); tbl.appendChild(thead);
      var body = el("tbody");
      t.rows.forEach(function (r) {
        var tr = el("tr");
        r.forEach(function (v, i) { tr.appendChild(el(i === 0 ? "th" : "td", null, fmt(v))); });
        body.appendChild(tr);
      });
      tbl.appendChild(body);
      sec.appendChild(tbl);
      if (t.note) sec.appendChild(el("p", "hint", "※ " + t.note));
      box.appendChild(sec);
    });
  }

  function drawSummary(data) {
    var dl = $("summary");
    dl.textContent = "";
    // Layout through the CSSOM (allowed by the CSP, unlike style attributes).
    dl.style.display = "grid";
    dl.style.gridTemplateColumns = "repeat(auto-fill, minmax(10rem, 1fr))";
    dl.style.gap = ".5rem";
    table(data, "summary").rows.forEach(function (r) {
      var card = el("div", "summary-item");
      card.style.border = "1px solid #ddd";
      card.style.borderRadius = "8px";
      card.style.padding = ".4rem .6rem";
      var dd = el("dd", null, fmt(r[1]) + (r[1] === null ? "" : " " + r[2]));
      dd.style.margin = "0";
      dd.style.fontSize = "1.3rem";
      dd.style.fontWeight = "bold";
      card.appendChild(el("dt", null, r[0]));
      card.appendChild(dd);
      dl.appendChild(card);
    });
  }

  var latest = 0;  // only the last request asked for is drawn (an earlier one may answer later)

  function load(from, to) {
    var mine = ++latest;
    var q = "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    $("xlsx").href = "/api/console/stats.xlsx" + q;
    alertMsg("");
    return fetch("/api/console/stats" + q, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (data) {
          if (mine !== latest) return;
          if (r.status === 401) { $("app").hidden = true; $("signed-out").hidden = false; return; }
          if (!r.ok) { $("app").hidden = r.status === 403; throw new Error(data.message || ("오류 " + r.status)); }
          $("app").hidden = false;
          $("period-label").textContent = "기간: " + data.period.from + " ~ " + data.period.to + " (한국 시간)";
          drawSummary(data);
          drawCharts(data);
          drawTables(data);
        });
      })
      .catch(function (e) { alertMsg(e.message); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("period"), year = new Date().getFullYear();
    form.elements.from.value = year + "-01-01";
    form.elements.to.value = year + "-12-31";
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      load(form.elements.from.value, form.elements.to.value);
    });
    load(form.elements.from.value, form.elements.to.value);
  });
})();
