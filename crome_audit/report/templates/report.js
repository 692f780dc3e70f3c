/* crome-audit report: draws the plotly charts and runs the example browser.
   Text from results files is only ever inserted with textContent / text nodes, never innerHTML. */
(function () {
  "use strict";

  function readJson(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function node(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    return el;
  }

  // ---- charts: drawn when they come near the viewport (fast open), all at once before printing ---------
  performance.mark("crome:charts-start");
  var figures = readJson("figures-data") || {};
  var config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var pending = {};
  window.__cromeCharts = { expected: Object.keys(figures).length, rendered: 0 };

  // The legend sits under the plot and wraps to as many rows as the width needs: grow the chart by the
  // legend's real height so the plot area keeps its size (layout.meta: plot_h, axis_b from charts.py).
  function fitLegend(el) {
    var meta = el.layout && el.layout.meta;
    var lg = el.querySelector("g.legend");
    if (!meta || !meta.plot_h || !lg) { return Promise.resolve(); }
    var b = meta.axis_b + lg.getBBox().height + 8;
    var h = Math.round(meta.plot_h + el.layout.margin.t + b);
    if (Math.abs(h - el.layout.height) < 3) { return Promise.resolve(); }
    el.style.height = h + "px";
    return Plotly.relayout(el, { height: h, "margin.b": b });
  }

  function draw(id) {
    var el = document.getElementById(id);
    if (!pending[id] || !el || typeof Plotly === "undefined") { return; }
    delete pending[id];
    Plotly.newPlot(el, figures[id].data, figures[id].layout, config).then(function () {
      return fitLegend(el);
    }).then(function () {
      el.setAttribute("data-rendered", "1");
      window.__cromeCharts.rendered += 1;
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      document.querySelectorAll("div.chart[data-rendered]").forEach(function (el) {
        Plotly.Plots.resize(el).then(function () { return fitLegend(el); });
      });
    }, 200);
  });

  window.__cromeRenderAll = function () { Object.keys(pending).forEach(draw); };
  Object.keys(figures).forEach(function (id) { pending[id] = true; });
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { observer.unobserve(e.target); draw(e.target.id); }
      });
    }, { rootMargin: "400px 0px" });
    Object.keys(figures).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { observer.observe(el); }
    });
  } else {
    window.__cromeRenderAll();
  }
  window.addEventListener("beforeprint", window.__cromeRenderAll);
  performance.mark("crome:charts-end");

  // ---- example browser -------------------------------------------------------------------------------
  performance.mark("crome:examples-start");
  var ex = readJson("examples-data");
  var list = document.getElementById("ex-list");
  if (!ex || !list || !ex.runs.length) { return; }
  var S = ex.strings;
  var PAGE = 8;
  var runSel = document.getElementById("ex-run");
  var probeSel = document.getElementById("ex-probe");
  var query = document.getElementById("ex-q");
  var flippedOnly = document.getElementById("ex-flipped");
  var prev = document.getElementById("ex-prev");
  var next = document.getElementById("ex-next");
  var status = document.getElementById("ex-status");
  var page = 0;

  function perturbedText(e) {
    var o = S[e.o], out = "";
    e.d.forEach(function (seg) { out += (typeof seg === "string") ? seg : o.slice(seg[0], seg[1]); });
    return out;
  }

  function fillOriginal(pre, e) {
    var o = S[e.o], pos = 0;
    e.c.forEach(function (r) {
      if (r[0] > pos) { pre.appendChild(document.createTextNode(o.slice(pos, r[0]))); }
      pre.appendChild(node("mark", "del", o.slice(r[0], r[1])));
      pos = r[1];
    });
    if (pos < o.length) { pre.appendChild(document.createTextNode(o.slice(pos))); }
  }

  function fillPerturbed(pre, e) {
    var o = S[e.o];
    e.d.forEach(function (seg) {
      if (typeof seg === "string") { pre.appendChild(node("mark", "ins", seg)); }
      else { pre.appendChild(document.createTextNode(o.slice(seg[0], seg[1]))); }
    });
  }

  function fmt(v) { return (v === null || v === undefined) ? "—" : Number(v).toFixed(3); }

  ex.runs.forEach(function (r, i) {
    var opt = node("option", null, r.label);
    opt.value = String(i);
    runSel.appendChild(opt);
  });

  function fillProbes() {
    var run = ex.runs[Number(runSel.value)];
    var keep = probeSel.value;
    while (probeSel.firstChild) { probeSel.removeChild(probeSel.firstChild); }
    var all = node("option", null, "all probes");
    all.value = "*";
    probeSel.appendChild(all);
    run.probes.forEach(function (p, i) {
      var opt = node("option", null, p.name + " (" + (p.kind || "?") + ", " + p.examples.length + ")");
      opt.value = String(i);
      probeSel.appendChild(opt);
    });
    probeSel.value = "*";
    Array.prototype.forEach.call(probeSel.options, function (o) { if (o.value === keep) { probeSel.value = keep; } });
  }

  function selected() {
    var run = ex.runs[Number(runSel.value)];
    var probes = probeSel.value === "*" ? run.probes : [run.probes[Number(probeSel.value)]];
    var q = query.value.trim().toLowerCase();
    var out = [];
    probes.forEach(function (p) {
      p.examples.forEach(function (e) {
        if (flippedOnly.checked && !e.flip) { return; }
        if (q) {
          var hay = (S[e.p] + "\n" + S[e.o] + "\n" + perturbedText(e) + "\n" + e.id).toLowerCase();
          if (hay.indexOf(q) < 0) { return; }
        }
        out.push({ probe: p, e: e });
      });
    });
    return out;
  }

  function card(item) {
    var e = item.e, p = item.probe;
    var box = node("article", "ex");
    var head = node("div", "ex-head");
    head.appendChild(node("span", "probe", p.name));
    if (p.kind) { head.appendChild(node("span", "kind " + p.kind, p.kind)); }
    head.appendChild(node("span", null, "pair " + e.id + (e.side ? " · perturbed " + e.side : "")));
    var delta = (e.r0 !== null && e.r1 !== null) ? " (Δ " + (e.r1 - e.r0 >= 0 ? "+" : "") + (e.r1 - e.r0).toFixed(3) + ")" : "";
    head.appendChild(node("span", "rew", "reward " + fmt(e.r0) + " → " + fmt(e.r1) + delta + " · other side " + fmt(e.other)));
    head.appendChild(node("span", e.flip ? "badge" : "badge kept", e.flip ? "order flipped" : "order kept"));
    box.appendChild(head);
    var prompt = node("details", "ex-prompt");
    prompt.appendChild(node("summary", null, "Prompt"));
    prompt.appendChild(node("pre", "ex-text", S[e.p]));
    box.appendChild(prompt);
    var cols = node("div", "ex-cols");
    var left = node("div", "ex-col"), right = node("div", "ex-col");
    left.appendChild(node("h4", null, "Original"));
    right.appendChild(node("h4", null, "Perturbed"));
    var a = node("pre", "ex-text"), b = node("pre", "ex-text");
    fillOriginal(a, e);
    fillPerturbed(b, e);
    left.appendChild(a);
    right.appendChild(b);
    cols.appendChild(left);
    cols.appendChild(right);
    box.appendChild(cols);
    return box;
  }

  function render() {
    var items = selected();
    var pages = Math.max(1, Math.ceil(items.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    if (page < 0) { page = 0; }
    while (list.firstChild) { list.removeChild(list.firstChild); }
    items.slice(page * PAGE, (page + 1) * PAGE).forEach(function (it) { list.appendChild(card(it)); });
    if (!items.length) { list.appendChild(node("p", "empty", "No example matches.")); }
    status.textContent = items.length ? ("page " + (page + 1) + " of " + pages + " · " + items.length + " examples") : "";
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  runSel.addEventListener("change", function () { page = 0; fillProbes(); render(); });
  probeSel.addEventListener("change", function () { page = 0; render(); });
  query.addEventListener("input", function () { page = 0; render(); });
  flippedOnly.addEventListener("change", function () { page = 0; render(); });
  prev.addEventListener("click", function () { page -= 1; render(); });
  next.addEventListener("click", function () { page += 1; render(); });
  fillProbes();
  render();
  performance.mark("crome:examples-end");
}());
