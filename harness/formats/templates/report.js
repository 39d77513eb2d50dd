"use strict";
// The heatmap: only the cells in view are in the DOM (a lab of a thousand nodes has a million
// cells), redrawn on scroll, resize and filter changes.
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const P = { row: 0, col: 1, probe: 2, address: 3, expected: 4, observed: 5, why: 6, detail: 7 };
  if (data.compact) unpack(data).then((probesOf) => start(data, probesOf));
  else start(data, listed(data));

  // a small run's probes are listed, one row each: found by pair
  function listed(data) {
    const byPair = new Map();  // "r,c" -> probe rows
    for (const p of data.probes) {
      const key = p[P.row] + "," + p[P.col];
      if (!byPair.has(key)) byPair.set(key, []);
      byPair.get(key).push(p);
    }
    return (r, c) => byPair.get(r + "," + c);
  }

  // a big run's cells are columns of numbers, deflated (html_report.compact_heatmap): each
  // pair's run of cells is found once, its probe rows made when the pair is drawn or opened
  async function unpack(data) {
    const k = data.compact, n = k.count, width = data.cols.length;
    const packed = Uint8Array.from(atob(k.columns), (ch) => ch.charCodeAt(0));
    const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream("deflate"));
    const buffer = await new Response(stream).arrayBuffer();
    const [from, to, address, probe, expected, observed, verdict] =
      [0, 1, 2, 3, 4, 5, 6].map((i) => new Uint32Array(buffer, i * n * 4, n));
    const first = new Int32Array(data.rows.length * width).fill(-1);
    const end = new Int32Array(data.rows.length * width);
    for (let i = 0; i < n; i++) {
      const key = from[i] * width + to[i];
      if (first[key] < 0) first[key] = i;
      end[key] = i + 1;
    }
    return (r, c) => {
      const key = r * width + c;
      if (first[key] < 0) return undefined;
      const found = [];
      for (let i = first[key]; i < end[key]; i++) {
        const seen = k.observations[observed[i]];
        found.push([r, c, k.probes[probe[i]], k.addresses[address[i]], k.states[expected[i]],
          seen[0], k.verdicts[verdict[i]], seen[1]]);
      }
      return found;
    };
  }

  function start(data, probesOf) {
    const CELL = 20;
    const rows = data.rows, cols = data.cols;
    const protocols = new Set(
      (data.compact ? data.compact.probes : data.probes.map((p) => p[P.probe]))
        .map((text) => text.split("/")[0]));
    const $ = (id) => document.getElementById(id);
    const wrap = $("wrap"), canvas = $("canvas");
    const fProto = $("f-proto"), fPort = $("f-port"), fGroup = $("f-group"), fWrong = $("f-wrong");
    for (const name of [...protocols].sort()) fProto.add(new Option(name, name));
    const groups = new Set();
    for (const c of cols) for (const g of c.groups) groups.add(g);
    for (const name of [...groups].sort()) fGroup.add(new Option(name, name));

    function isWrong(p) { return p[P.observed] !== p[P.expected] && p[P.observed] !== "not-run"; }
    function matches(p) {
      const proto = fProto.value, port = fPort.value.trim();
      const [pp, pn] = p[P.probe].split("/");
      if (proto && pp !== proto) return false;
      if (port && pn !== port) return false;
      return true;
    }
    // what a cell shows under the filters: null when no probe of it is shown
    function summary(r, c) {
      const all = probesOf(r, c);
      if (!all) return null;
      const shown = all.filter(matches);
      if (!shown.length) return null;
      const states = new Set(shown.map((p) => p[P.observed]));
      const state = states.size === 1 ? [...states][0] : "mixed";
      const wrong = shown.some(isWrong);
      const notRun = shown.some((p) => p[P.observed] === "not-run");
      if (data.mode === "diff") {
        const kinds = new Set(shown.map((p) => p[P.detail]));
        return { state, wrong, notRun, shown, change: kinds.has("opened") ? "opened" : kinds.has("closed") ? "closed" : kinds.has("reason") ? "reason" : "" };
      }
      return { state, wrong, notRun, shown, change: "" };
    }

    let viewRows = [], viewCols = [], headW = 120, headH = 100;
    function measure() {
      const group = fGroup.value, onlyWrong = fWrong.checked;
      viewCols = cols.map((_, i) => i).filter((i) => !group || cols[i].groups.includes(group));
      viewRows = rows.map((_, i) => i);
      if (onlyWrong) {
        const keepR = new Set(), keepC = new Set();
        for (const r of viewRows) for (const c of viewCols) {
          const s = summary(r, c);
          if (s && (s.wrong || s.change)) { keepR.add(r); keepC.add(c); }
        }
        viewRows = viewRows.filter((r) => keepR.has(r));
        viewCols = viewCols.filter((c) => keepC.has(c));
      }
      const longest = (list) => list.reduce((m, x) => Math.max(m, x.label.length), 4);
      headW = Math.min(260, 7 * longest(viewRows.map((i) => rows[i]))) + 12;
      headH = Math.min(200, 7 * longest(viewCols.map((i) => cols[i]))) + 12;
      canvas.style.width = headW + viewCols.length * CELL + "px";
      canvas.style.height = headH + viewRows.length * CELL + "px";
      $("shown").textContent = viewRows.length + " sources × " + viewCols.length + " targets shown";
    }

    function label(node) {
      const span = document.createElement("span");
      span.textContent = node.name + (node.readable ? " " + node.readable : "");
      if (node.groups.length) {
        const g = document.createElement("span");
        g.className = "g";
        g.textContent = " " + node.groups.join(", ");
        span.appendChild(g);
      }
      return span;
    }

    let focusKey = null;
    function draw() {
      const top = wrap.scrollTop, left = wrap.scrollLeft;
      const h = wrap.clientHeight, w = wrap.clientWidth;
      const r0 = Math.max(0, Math.floor((top) / CELL) - 1);
      const r1 = Math.min(viewRows.length, Math.ceil((top + h) / CELL) + 1);
      const c0 = Math.max(0, Math.floor((left) / CELL) - 1);
      const c1 = Math.min(viewCols.length, Math.ceil((left + w) / CELL) + 1);
      const frag = document.createDocumentFragment();
      const rowHead = document.createElement("div");
      rowHead.className = "rowhead";
      Object.assign(rowHead.style, { left: left + "px", top: "0px", width: headW + "px", height: canvas.style.height });
      const colHead = document.createElement("div");
      colHead.className = "colhead";
      Object.assign(colHead.style, { left: "0px", top: top + "px", width: canvas.style.width, height: headH + "px" });
      // one header per visible row and column: placed along its axis, named with its groups
      function header(strip, node, role, style) {
        const d = document.createElement("div");
        Object.assign(d.style, style);
        d.title = node.title;
        d.appendChild(label(node));
        d.setAttribute("role", role);
        strip.appendChild(d);
      }
      for (let i = r0; i < r1; i++) {
        header(rowHead, rows[viewRows[i]], "rowheader", { top: headH + i * CELL + "px", width: headW + "px" });
      }
      for (let j = c0; j < c1; j++) {
        header(colHead, cols[viewCols[j]], "columnheader", { left: headW + j * CELL + "px", height: headH + "px" });
      }
      for (let i = r0; i < r1; i++) {
        for (let j = c0; j < c1; j++) {
          const r = viewRows[i], c = viewCols[j];
          const s = summary(r, c);
          if (!s) continue;
          if (fWrong.checked && !s.wrong && !s.change) continue;
          const el = document.createElement("div");
          const some = s.state !== "mixed" ? "" : s.shown.some((p) => p[P.observed] === "open") ?
            " some-open" : s.shown.some((p) => p[P.observed] === "closed") ? " some-closed" : "";
          el.className = "cell s-" + s.state + some + (s.wrong ? " wrong" : "") +
            (s.change === "opened" ? " opened" : s.change === "closed" ? " closed-change" : "");
          el.style.top = headH + i * CELL + "px";
          el.style.left = headW + j * CELL + "px";
          el.tabIndex = 0;
          el.setAttribute("role", "gridcell");
          el.dataset.from = rows[r].name;
          el.dataset.to = cols[c].name;
          el.dataset.state = s.state;
          el.dataset.i = i; el.dataset.j = j;
          if (s.wrong) el.dataset.wrong = "true";
          if (s.notRun) el.dataset.notRun = "true";
          if (s.change) el.dataset.change = s.change;
          el.textContent = s.wrong ? "✕" : s.notRun ? "!" : s.change === "opened" ? "+" : s.change === "closed" ? "−" : "";
          el.title = rows[r].name + " → " + cols[c].name + ": " + s.state + (s.wrong ? " (wrong)" : "");
          el.setAttribute("aria-label", el.title);
          frag.appendChild(el);
        }
      }
      const corner = document.createElement("div");
      corner.className = "corner";
      Object.assign(corner.style, { left: left + "px", top: top + "px", width: headW + "px", height: headH + "px" });
      corner.textContent = "from ↓  to →";
      canvas.replaceChildren(frag, rowHead, colHead, corner);
      if (focusKey) {
        const el = canvas.querySelector(`.cell[data-i="${focusKey[0]}"][data-j="${focusKey[1]}"]`);
        if (el) el.focus({ preventScroll: true });
      }
    }

    function openDetail(el) {
      const r = rows.findIndex((n) => n.name === el.dataset.from);
      const c = cols.findIndex((n) => n.name === el.dataset.to);
      const s = summary(r, c);
      if (!s) return;
      $("detail-title").textContent = el.dataset.from + " → " + el.dataset.to;
      const body = $("detail-rows");
      body.replaceChildren();
      const bad = (p) => isWrong(p) || p[P.observed] === "not-run";
      const ordered = [...s.shown.filter(bad), ...s.shown.filter((p) => !bad(p))];  // wrong first
      for (const p of ordered) {
        const tr = document.createElement("tr");
        if (bad(p)) tr.className = "bad";
        const observed = p[P.observed] + (data.mode !== "diff" && p[P.detail] ? " (" + p[P.detail] + ")" : "");
        for (const text of [p[P.probe], p[P.address], p[P.expected], observed, p[P.why]]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        }
        tr.lastChild.className = "why";
        body.appendChild(tr);
      }
      const detail = $("detail");
      detail.hidden = false;
      detail.dataset.from = el.dataset.from;
      detail.dataset.to = el.dataset.to;
      $("detail-close").focus();
      lastCell = [el.dataset.i, el.dataset.j];
    }
    let lastCell = null;
    function closeDetail() {
      $("detail").hidden = true;
      if (lastCell) { focusKey = lastCell; draw(); }
    }

    canvas.addEventListener("click", (e) => {
      const el = e.target.closest(".cell");
      if (el) openDetail(el);
    });
    canvas.addEventListener("keydown", (e) => {
      const el = e.target.closest(".cell");
      if (!el) return;
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(el); return; }
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      const m = moves[e.key];
      if (!m) return;
      e.preventDefault();
      const i = Math.min(viewRows.length - 1, Math.max(0, +el.dataset.i + m[0]));
      const j = Math.min(viewCols.length - 1, Math.max(0, +el.dataset.j + m[1]));
      focusKey = [String(i), String(j)];
      const y = headH + i * CELL, x = headW + j * CELL;
      if (y < wrap.scrollTop + headH) wrap.scrollTop = y - headH;
      if (y + CELL > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = y + CELL - wrap.clientHeight;
      if (x < wrap.scrollLeft + headW) wrap.scrollLeft = x - headW;
      if (x + CELL > wrap.scrollLeft + wrap.clientWidth) wrap.scrollLeft = x + CELL - wrap.clientWidth;
      draw();
    });
    $("detail-close").addEventListener("click", closeDetail);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("detail").hidden) closeDetail(); });
    let pending = false;
    wrap.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; focusKey = null; draw(); });
    });
    window.addEventListener("resize", () => draw());
    for (const control of [fProto, fPort, fGroup, fWrong]) {
      control.addEventListener("input", () => { focusKey = null; measure(); draw(); });
    }
    measure();
    draw();
    document.body.dataset.ready = "true";
  }
})();
