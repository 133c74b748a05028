// mlplat web UI: run selection, charts drawn as SVG from the page's JSON, live sweep refresh.
// No library and no request to any other host (the server's Content-Security-Policy forbids it).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#0969da", "#1a7f37", "#cf222e", "#9a6700", "#8250df", "#bf3989", "#0a3069", "#57606a"];

function el(tag, attrs, parent, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function clear(svg) { while (svg.firstChild) svg.removeChild(svg.firstChild); }
function num(v) { return typeof v === "number" && isFinite(v); }
function fmt(v) { return num(v) ? (Math.abs(v) >= 1000 || Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v); }
function dataOf(id) { const n = document.getElementById(id); return n ? JSON.parse(n.textContent) : null; }

// a linear scale, or a point scale for text values
function scale(values, lo, hi) {
  const nums = values.filter(num);
  if (nums.length && nums.length === values.filter(v => v !== null && v !== undefined).length) {
    let min = Math.min(...nums), max = Math.max(...nums);
    if (min === max) { min -= 0.5; max += 0.5; }
    const f = v => num(v) ? lo + (v - min) / (max - min) * (hi - lo) : null;
    f.ticks = [min, (min + max) / 2, max];
    return f;
  }
  const cats = [...new Set(values.filter(v => v !== null && v !== undefined).map(String))].sort();
  const f = v => v === null || v === undefined ? null
    : lo + (cats.length > 1 ? cats.indexOf(String(v)) / (cats.length - 1) : 0.5) * (hi - lo);
  f.ticks = cats.slice(0, 12);
  return f;
}

function axisLabels(svg, x, y0, y1, s) {
  el("line", {x1: x, x2: x, y1: y0, y2: y1, class: "axis"}, svg);
  for (const t of s.ticks) { const y = s(t); if (y !== null) el("text", {x: x + 4, y: y + 4}, svg, fmt(t)); }
}

// horizontal bars: [{feature|key, importance|value}]
function bars(svg, items) {
  clear(svg);
  const width = +svg.getAttribute("width"), max = Math.max(...items.map(i => i.value), 1e-12);
  svg.setAttribute("height", 16 + 16 * items.length);
  items.forEach((it, i) => {
    el("text", {x: 4, y: 20 + i * 16}, svg, it.label.slice(0, 34));
    el("rect", {x: 230, y: 10 + i * 16, height: 12, width: Math.max(1, (width - 300) * it.value / max), fill: COLORS[0]}, svg);
    el("text", {x: 236 + (width - 300) * it.value / max, y: 20 + i * 16}, svg, fmt(it.value));
  });
}

// runs as polylines across one axis per dimension; dims: [{name, values[]}]
function parallel(svg, dims, colorBy) {
  clear(svg);
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height"), top = 24, bottom = h - 16;
  if (dims.length < 2 || !dims[0].values.length) { el("text", {x: 10, y: 20}, svg, "nothing to draw: needs a param that varies and a metric"); return; }
  const step = (w - 80) / (dims.length - 1);
  const scales = dims.map(d => scale(d.values, bottom, top));
  dims.forEach((d, i) => { el("text", {x: 20 + i * step, y: 14}, svg, d.name.slice(0, 24)); axisLabels(svg, 20 + i * step, top, bottom, scales[i]); });
  const c = colorBy ? scale(colorBy, 0, 1) : null;
  for (let r = 0; r < dims[0].values.length; r++) {
    const pts = dims.map((d, i) => [20 + i * step, scales[i](d.values[r])]).filter(p => p[1] !== null);
    if (pts.length < 2) continue;
    const t = c ? c(colorBy[r]) : 0;
    el("polyline", {points: pts.map(p => p.join(",")).join(" "), class: "line",
      style: `stroke:hsl(${210 - 200 * (t ?? 0)},70%,45%)`}, svg);
  }
}

function scatter(svg, xs, ys, xname, yname) {
  clear(svg);
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  const sx = scale(xs, 60, w - 20), sy = scale(ys, h - 30, 20);
  el("line", {x1: 60, x2: w - 20, y1: h - 30, y2: h - 30, class: "axis"}, svg);
  axisLabels(svg, 60, 20, h - 30, sy);
  sx.ticks.forEach(t => { const x = sx(t); if (x !== null) el("text", {x: x - 10, y: h - 14}, svg, fmt(t)); });
  el("text", {x: w / 2, y: h - 2}, svg, xname);
  el("text", {x: 64, y: 12}, svg, yname);
  xs.forEach((x, i) => { const px = sx(x), py = sy(ys[i]); if (px !== null && py !== null) el("circle", {cx: px, cy: py, r: 3.5, class: "dot", "fill-opacity": 0.6}, svg); });
}

// one column per run: mean +- std bar and the fold values as dots
function errorbars(svg, items) {
  clear(svg);
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  const all = items.flatMap(i => [i.mean - (i.std || 0), i.mean + (i.std || 0), ...(i.folds || [])]).filter(num);
  if (!all.length) { el("text", {x: 10, y: 20}, svg, "no values for this metric"); return; }
  const sy = scale(all, h - 20, 14), step = (w - 80) / Math.max(items.length, 1);
  axisLabels(svg, 50, 14, h - 20, sy);
  items.forEach((it, i) => {
    const x = 60 + step * (i + 0.5);
    if (!num(it.mean)) return;
    if (num(it.std)) el("line", {x1: x, x2: x, y1: sy(it.mean - it.std), y2: sy(it.mean + it.std), stroke: COLORS[0], "stroke-width": 2}, svg);
    el("circle", {cx: x, cy: sy(it.mean), r: 3.5, fill: COLORS[0]}, svg).appendChild(el("title", {}, null, `${it.id}: ${fmt(it.mean)} ± ${fmt(it.std)}`));
    (it.folds || []).filter(num).forEach(f => el("circle", {cx: x + 5, cy: sy(f), r: 1.8, fill: COLORS[1], "fill-opacity": 0.7}, svg));
  });
}

// trial values in job order, and the best so far as a step line
function historyChart(svg, trials, maximize) {
  clear(svg);
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height");
  const done = trials.filter(t => num(t.primary_value));
  if (!done.length) { el("text", {x: 10, y: 20}, svg, "no finished trial yet"); return; }
  const xs = done.map((t, i) => num(t.job_num) ? t.job_num : i), ys = done.map(t => t.primary_value);
  const sx = scale(xs, 60, w - 20), sy = scale(ys, h - 24, 14);
  axisLabels(svg, 50, 14, h - 24, sy);
  let best = null; const pts = [];
  done.forEach((t, i) => {
    best = best === null ? ys[i] : (maximize ? Math.max(best, ys[i]) : Math.min(best, ys[i]));
    pts.push([sx(xs[i]), sy(best)]);
    el("circle", {cx: sx(xs[i]), cy: sy(ys[i]), r: 3, class: "dot trial"}, svg);
  });
  el("polyline", {points: pts.map(p => p.join(",")).join(" "), fill: "none", stroke: COLORS[2], "stroke-width": 1.5}, svg);
  el("text", {x: w - 160, y: 14}, svg, `best so far: ${fmt(best)}`);
}

function statusStrip(svg) {
  const statuses = JSON.parse(svg.dataset.checks), times = JSON.parse(svg.dataset.times), kinds = JSON.parse(svg.dataset.kinds);
  const w = +svg.getAttribute("width"), sx = scale(times, 20, w - 20), color = {ok: COLORS[1], passed: COLORS[1], warning: COLORS[3], warn: COLORS[3]};
  ["drift", "performance", "latency"].forEach((k, row) => el("text", {x: 0, y: 16 + row * 20}, svg, k[0]));
  statuses.forEach((s, i) => {
    const row = Math.max(0, ["drift", "performance", "latency"].indexOf(kinds[i]));
    el("rect", {x: (sx(times[i]) ?? 20) - 4, y: 6 + row * 20, width: 8, height: 14, fill: color[s] || COLORS[2]}, svg)
      .appendChild(el("title", {}, null, `${kinds[i]} ${s} ${new Date(times[i] * 1000).toISOString()}`));
  });
}

// -- pages -------------------------------------------------------------------------------------
function runsPage() {
  const form = document.getElementById("select");
  if (!form) return;
  const picks = () => [...form.querySelectorAll("input.pick")];
  const update = () => {
    const n = picks().filter(p => p.checked).length;
    document.getElementById("compare").disabled = n < 2 || n > 500;
    document.getElementById("selected").textContent = n ? `${n} selected` : "select 2 to 500 runs";
  };
  form.addEventListener("change", update);
  const all = document.getElementById("select-all");
  if (all) all.addEventListener("change", () => { picks().forEach(p => { p.checked = all.checked; }); update(); });
  update();
}

function cell(tag, text, cls) {
  const td = document.createElement(tag);
  td.textContent = text === null || text === undefined ? "" : (typeof text === "number" ? fmt(text) : String(text));
  if (cls) td.className = cls;
  return td;
}

function compareTables(d) {
  const short = d.ids.map(id => id.slice(0, 8));
  for (const id of ["params", "metrics"]) {
    const head = document.querySelector(`#${id} thead`), tr = document.createElement("tr");
    tr.appendChild(cell("th", id === "params" ? "param" : "metric"));
    short.forEach((s, i) => { const th = cell("th", "", "mono"); const a = document.createElement("a"); a.href = `/runs/${d.ids[i]}`; a.textContent = s; th.appendChild(a); tr.appendChild(th); });
    head.appendChild(tr);
  }
  const body = document.querySelector("#params tbody"), frag = document.createDocumentFragment();
  const row = (label, values, differs, key) => {
    const tr = document.createElement("tr");
    tr.className = differs ? "diff" : "same";
    if (key) tr.dataset.key = key;
    tr.appendChild(cell("th", label));
    values.forEach(v => tr.appendChild(cell("td", typeof v === "object" && v !== null ? JSON.stringify(v) : v, "num")));
    frag.appendChild(tr);
  };
  for (const key of ["dataset", "model", "experiment"]) {
    const values = d.runs.map(r => r[key]);
    row(key, values, new Set(values).size > 1);
  }
  const diffP = new Set(d.differing_params), diffT = new Set(d.differing_tags);
  for (const [k, values] of Object.entries(d.params)) row(k, values, diffP.has(k), k);
  for (const [k, values] of Object.entries(d.tags)) row(`tag ${k}`, values, diffT.has(k));
  body.appendChild(frag);
  const mbody = document.querySelector("#metrics tbody"), mfrag = document.createDocumentFragment();
  for (const [name, m] of Object.entries(d.metrics)) {
    const cv = document.createElement("tr"), ho = document.createElement("tr");
    cv.appendChild(cell("th", `${name} (cv)`));
    ho.appendChild(cell("th", `${name} (holdout)`));
    d.ids.forEach((_, i) => {
      cv.appendChild(cell("td", num(m.cv[i]) ? fmt(m.cv[i]) + (num(m.std[i]) ? ` ± ${m.std[i].toPrecision(3)}` : "") : "", "num"));
      ho.appendChild(cell("td", m.holdout[i], "num"));
    });
    mfrag.appendChild(cv);
    mfrag.appendChild(ho);
  }
  mbody.appendChild(mfrag);
}

function comparePage() {
  const d = dataOf("compare-data");
  if (!d) return;
  compareTables(d);
  const only = document.getElementById("only-diff");
  only.addEventListener("change", () => document.body.classList.toggle("only-diff", only.checked));
  const metricSel = document.getElementById("metric"), xSel = document.getElementById("xparam");
  const draw = () => {
    const m = metricSel.value, cells = d.metrics[m] || {cv: [], std: [], folds: []};
    errorbars(document.getElementById("errorbars"), d.ids.map((id, i) => ({id, mean: cells.cv[i], std: cells.std[i], folds: cells.folds[i]})));
    const keys = d.differing_params.length ? d.differing_params : Object.keys(d.params);
    const metricValues = d.ids.map((_, i) => cells.cv[i] ?? null);
    const dims = keys.slice(0, 12).map(k => ({name: k, values: d.params[k]}));
    dims.push({name: m, values: metricValues});
    parallel(document.getElementById("parallel"), dims, metricValues);
    const xk = xSel.value;
    if (xk) scatter(document.getElementById("scatter"), d.params[xk] || [], metricValues, xk, m);
  };
  metricSel.addEventListener("change", draw);
  xSel.addEventListener("change", draw);
  draw();
}

function drawSweep(d) {
  historyChart(document.getElementById("history"), d.trials, d.direction === "maximize");
  const imp = Object.entries(d.importances || {}).map(([label, value]) => ({label, value}));
  const impSvg = document.getElementById("importance");
  if (imp.length) bars(impSvg, imp); else { clear(impSvg); el("text", {x: 10, y: 20}, impSvg, "needs an Optuna study with at least two finished trials"); }
  const done = d.trials;
  const dims = d.keys.slice(0, 12).map(k => ({name: k, values: done.map(t => t.params[k] ?? null)}));
  const metric = done.map(t => t.primary_value ?? null);
  dims.push({name: d.metric || "metric", values: metric});
  parallel(document.getElementById("sweep-parallel"), dims, metric);
}

function renderTrials(d) {
  const body = document.querySelector("#trials tbody");
  body.textContent = "";
  for (const t of d.trials) {
    const tr = document.createElement("tr");
    const cells = [t.job_num ?? "", null, t.status, num(t.primary_value) ? t.primary_value.toFixed(4) : "",
      d.keys.map(k => `${k}=${t.params[k] ?? ""}`).join(" ")];
    cells.forEach((c, i) => {
      const td = document.createElement("td");
      if (i === 1) { const a = document.createElement("a"); a.href = `/runs/${t.id}`; a.textContent = t.id.slice(0, 12); td.className = "mono"; td.appendChild(a); }
      else if (i === 2) { const s = document.createElement("span"); s.className = "badge " + ({done: "ok", failed: "bad", crashed: "bad"}[c] || ""); s.textContent = c; td.appendChild(s); }
      else td.textContent = c;
      if (i === 0 || i === 3) td.className = "num";
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  const counts = d.counts || {};
  const cards = document.querySelectorAll("#sweep-cards .card .v");
  [d.trials.length, counts.done || 0, counts.running || 0, (counts.failed || 0) + (counts.crashed || 0)].forEach((v, i) => { if (cards[i]) cards[i].textContent = v; });
  const st = document.querySelector("#sweep-status .badge");
  st.textContent = d.sweep.status;
  st.className = "badge " + ({done: "ok", failed: "bad", crashed: "bad"}[d.sweep.status] || "");
}

function sweepPage() {
  const d = dataOf("sweep-data");
  if (!d) return;
  drawSweep(d);
  const note = document.getElementById("refresh-note");
  if (note.dataset.status !== "running") return;
  const every = Math.max(0.5, +note.dataset.refresh) * 1000;
  const tick = async () => {
    try {
      const r = await fetch(`/api/v1/sweeps/${encodeURIComponent(note.dataset.sweep)}`, {headers: {Accept: "application/json"}});
      if (r.ok) {
        const fresh = await r.json();
        renderTrials(fresh);
        drawSweep(fresh);
        note.dataset.updated = String(Date.now());
        if (fresh.sweep.status !== "running") { note.textContent = `finished (${fresh.sweep.status})`; note.dataset.status = fresh.sweep.status; return; }
        note.textContent = `refreshing every ${every / 1000} s while the sweep runs · ${fresh.trials.length} trials`;
      }
    } catch (e) { note.textContent = "refresh failed; retrying"; }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("a[data-back]").forEach(a => a.addEventListener("click", ev => {
    if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
  }));
  const imp = dataOf("importances-data");
  if (imp) bars(document.getElementById("importances"), imp.map(i => ({label: i.feature, value: i.importance})));
  document.querySelectorAll("svg.status-strip").forEach(statusStrip);
  runsPage();
  comparePage();
  sweepPage();
  document.body.dataset.ready = "1";
});
