// mqsim playback: draws the stages of a report page from the data sim/viz/playback.py wrote
// (Playback.to_data), frame by frame, the way sim/viz/animate.py draws them with matplotlib.
// No library and nothing fetched: the page works opened from file://.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000, STRIP_H = 80, PAD = 24;
  const DOT = ["#1b4f72", "#b9770e", "#b03a2e"];
  const STATE = { idle: "#ffffff", busy: "#1e8449", slow: "#b9770e", disconnected: "#808b96",
                  down: "#808b96", crashed: "#000000" };
  const STATES = ["idle", "busy", "slow", "disconnected", "down", "crashed"];
  const MEMBER = ["#1b4f72", "#7d3c98", "#1e8449", "#b9770e", "#2874a6", "#a04000", "#5d6d7e"];
  const INK = "#2e4053", FAINT = "#d5d8dc", MUTED = "#808b96";

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  // The last index i with sorted[i] <= t, or -1.
  function lastAtOrBefore(sorted, t) {
    let lo = 0, hi = sorted.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] <= t) lo = mid + 1; else hi = mid; }
    return lo - 1;
  }

  function clockText(t) {
    if (t < 100) return t.toFixed(1) + " s";
    const minutes = Math.floor(t / 60), seconds = t - 60 * minutes;
    if (minutes < 60) return minutes + " min " + seconds.toFixed(1) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min " + Math.floor(seconds) + " s";
  }

  class Stage {
    constructor(data, host) {
      this.data = data;
      // As tall as its busiest column needs.
      this.stageH = Math.min(520, Math.max(230, 130 + 100 * data.rows));
      const svg = el("svg", { viewBox: `0 0 ${W} ${this.stageH + STRIP_H + 30}`, class: "stage",
                              role: "img", "aria-label": data.title }, host);
      this.svg = svg;
      const defs = el("defs", {}, svg);
      const marker = el("marker", { id: "arrow-" + Stage.count, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                    markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: FAINT }, marker);
      this.arrow = "url(#arrow-" + Stage.count + ")";
      Stage.count += 1;
      const title = el("text", { x: PAD, y: 18, class: "stage-title" }, svg);
      title.textContent = data.title;
      this.alerts = el("text", { x: W - PAD, y: 18, "text-anchor": "end", class: "alerts" }, svg);
      this.nodes = {};
      for (const node of data.nodes) this.nodes[node.id] = node;
      this.members = {};
      data.members.forEach((m, i) => { this.members[m] = MEMBER[i % MEMBER.length]; });
      this.drawEdges();
      for (const node of data.nodes) this.drawNode(node);
      this.bars = data.bars.map((bar) => this.drawBar(bar));
      this.replicas = data.replicas.map((r) => {
        const slot = this.nodes[r.node].slots[r.slot];
        return el("circle", { cx: this.x(slot.x), cy: this.y(slot.y), r: 7, fill: "#fff",
                              stroke: INK, "stroke-width": 2, class: "replica" }, svg);
      });
      this.dotLayer = el("g", { class: "dots" }, svg);
      this.active = []; this.next = 0; this.activeAt = -Infinity;
      this.dots = [];
      this.paths = data.paths.map((p) => this.measure(p));
      this.drawStrip();
    }

    x(u) { return PAD + u * (W - 2 * PAD); }
    y(v) { return 40 + v * (this.stageH - 60); }

    measure(points) {
      const xy = points.map(([u, v]) => [this.x(u), this.y(v)]);
      const lengths = [0];
      for (let i = 1; i < xy.length; i++) {
        lengths.push(lengths[i - 1] + Math.hypot(xy[i][0] - xy[i - 1][0], xy[i][1] - xy[i - 1][1]));
      }
      return { xy, lengths };
    }

    along(path, fraction) {
      const { xy, lengths } = path;
      const total = lengths[lengths.length - 1];
      if (xy.length === 1 || total <= 0) return xy[xy.length - 1];
      const at = Math.min(Math.max(fraction, 0), 1) * total;
      let i = Math.min(lastAtOrBefore(lengths, at), xy.length - 2);
      const step = lengths[i + 1] - lengths[i];
      const f = step > 0 ? (at - lengths[i]) / step : 0;
      return [xy[i][0] + f * (xy[i + 1][0] - xy[i][0]), xy[i][1] + f * (xy[i + 1][1] - xy[i][1])];
    }

    drawEdges() {
      for (const edge of this.data.edges) {
        const [x0, y0] = [this.x(edge.from[0]), this.y(edge.from[1])];
        const [x1, y1] = [this.x(edge.to[0]), this.y(edge.to[1])];
        const len = Math.hypot(x1 - x0, y1 - y0) || 1;
        const [ux, uy] = [(x1 - x0) / len, (y1 - y0) / len];
        const a = [x0 + 28 * ux, y0 + 28 * uy], b = [x1 - 40 * ux, y1 - 40 * uy];
        const attrs = { stroke: FAINT, "stroke-width": 1.6, fill: "none", "marker-end": this.arrow };
        if (edge.dashed) {
          attrs["stroke-dasharray"] = "5 4";
          const mx = (a[0] + b[0]) / 2 - 0.3 * (b[1] - a[1]), my = (a[1] + b[1]) / 2 + 0.3 * (b[0] - a[0]);
          attrs.d = `M ${a[0]} ${a[1]} Q ${mx} ${my} ${b[0]} ${b[1]}`;
        } else {
          attrs.d = `M ${a[0]} ${a[1]} L ${b[0]} ${b[1]}`;
        }
        el("path", attrs, this.svg);
      }
    }

    drawNode(node) {
      const cx = this.x(node.x), cy = this.y(node.y);
      const w = node.w * (W - 2 * PAD), h = node.h * (this.stageH - 60);
      let under = 26;
      if (node.kind === "producer" || node.kind === "client") {
        el("circle", { cx, cy, r: 14, fill: "#fff", stroke: INK, "stroke-width": 2 }, this.svg);
      } else if (node.kind === "exchange") {
        el("path", { d: `M ${cx} ${cy - 15} L ${cx + 15} ${cy} L ${cx} ${cy + 15} L ${cx - 15} ${cy} Z`,
                     fill: "#fff", stroke: INK, "stroke-width": 2 }, this.svg);
      } else {
        el("rect", { x: cx - w / 2, y: cy - h / 2, width: w, height: h, rx: 4, fill: "#fff",
                     stroke: INK, "stroke-width": 1.6 }, this.svg);
        under = h / 2 + 14;
      }
      const label = el("text", { x: cx, y: cy + under, "text-anchor": "middle", class: "label" }, this.svg);
      label.textContent = node.label;
      node.px = { cx, cy, w, h };
    }

    drawBar(bar) {
      const node = this.nodes[bar.node].px;
      const found = { bar };
      if (bar.kind === "queue") {
        found.left = node.cx - node.w / 2 + 6;
        found.width = node.w - 12;
        found.bottom = node.cy + node.h / 2 - 4;
        found.height = node.h - 8;
        found.ready = el("rect", { x: found.left, width: found.width, y: found.bottom, height: 0,
                                   fill: "#1b4f72", class: "bar-fill" }, this.svg);
        found.flight = el("rect", { x: found.left, width: found.width, y: found.bottom, height: 0,
                                    fill: "#85c1e9", class: "bar-fill" }, this.svg);
        found.text = el("text", { x: node.cx, y: node.cy - node.h / 2 - 6, "text-anchor": "middle",
                                  class: "value" }, this.svg);
      } else if (bar.kind === "partition") {
        const slot = this.nodes[bar.node].slots[bar.slot];
        const count = this.nodes[bar.node].slots.length;
        const thick = Math.min(0.8 * node.h / count, 16);
        found.left = node.cx - node.w / 2 + 8;
        found.width = node.w - 16;
        const top = this.y(slot.y) - thick / 2;
        el("rect", { x: found.left, y: top, width: found.width, height: thick, fill: "#f4f6f7",
                     stroke: FAINT }, this.svg);
        found.fill = el("rect", { x: found.left, y: top, width: 0, height: thick, fill: "#1b4f72",
                                  class: "bar-fill" }, this.svg);
        const p = el("text", { x: found.left - 4, y: top + thick / 2 + 4, "text-anchor": "end",
                               class: "value" }, this.svg);
        p.textContent = "p" + bar.slot;
        found.text = el("text", { x: node.cx + node.w / 2 + 6, y: top + thick / 2 + 4,
                                  class: "value" }, this.svg);
      } else {
        found.left = node.cx - node.w / 2 + 6;
        found.width = node.w - 12;
        el("rect", { x: found.left, y: node.cy - 8, width: found.width, height: 16, fill: "#f4f6f7",
                     stroke: FAINT }, this.svg);
        found.fill = el("rect", { x: found.left, y: node.cy - 8, width: 0, height: 16, fill: "#1e8449",
                                  class: "bar-fill" }, this.svg);
        found.text = el("text", { x: node.cx, y: node.cy - node.h / 2 - 6, "text-anchor": "middle",
                                  class: "value" }, this.svg);
      }
      return found;
    }

    drawStrip() {
      const d = this.data, top = this.stageH + 10, left = PAD + 40, right = W - PAD;
      const span = d.end - d.start || 1;
      this.tx = (t) => left + (t - d.start) / span * (right - left);
      const g = el("g", { class: "strip" }, this.svg);
      const times = d.backlog.times, values = d.backlog.values;
      const peak = Math.max(1, ...values) * 1.15;
      const ty = (v) => top + STRIP_H - v / peak * STRIP_H;
      for (const [start, end, label] of d.faults) {
        if (end > start) {
          el("rect", { x: this.tx(Math.max(start, d.start)), y: top,
                       width: Math.max(1, this.tx(Math.min(end, d.end)) - this.tx(Math.max(start, d.start))),
                       height: STRIP_H, fill: "#b03a2e", opacity: 0.15 }, g);
        } else {
          el("line", { x1: this.tx(start), x2: this.tx(start), y1: top, y2: top + STRIP_H,
                       stroke: "#b03a2e", "stroke-dasharray": "2 2" }, g);
        }
        const t = el("text", { x: this.tx(Math.max(start, d.start)) + 3, y: top + 11, class: "fault" }, g);
        t.textContent = label;
      }
      for (const [start, end] of d.rebalances) {
        el("rect", { x: this.tx(Math.max(start, d.start)), y: top,
                     width: Math.max(1, this.tx(Math.min(end, d.end)) - this.tx(Math.max(start, d.start))),
                     height: STRIP_H, fill: "#7d3c98", opacity: 0.15 }, g);
      }
      const points = times.map((t, i) => `${this.tx(t).toFixed(1)},${ty(values[i]).toFixed(1)}`);
      el("polyline", { points: points.join(" "), fill: "none", stroke: INK, "stroke-width": 1.5 }, g);
      el("line", { x1: left, x2: right, y1: top + STRIP_H, y2: top + STRIP_H, stroke: MUTED }, g);
      const axis = el("text", { x: left - 6, y: top + STRIP_H / 2, "text-anchor": "end", class: "value" }, g);
      axis.textContent = "backlog";
      const from = el("text", { x: left, y: top + STRIP_H + 14, class: "value" }, g);
      from.textContent = clockText(d.start);
      const to = el("text", { x: right, y: top + STRIP_H + 14, "text-anchor": "end", class: "value" }, g);
      to.textContent = clockText(d.end);
      this.cursor = el("line", { x1: left, x2: left, y1: top, y2: top + STRIP_H, stroke: "#b03a2e",
                                 "stroke-width": 2, class: "cursor" }, g);
    }

    dot(i) {
      while (this.dots.length <= i) {
        this.dots.push(el("circle", { r: 4, class: "dot", visibility: "hidden" }, this.dotLayer));
      }
      return this.dots[i];
    }

    replicaState(r, t) {
      let worst = "idle";
      for (const [start, end, kind] of r.faults) {
        if (start <= t && t < end && STATES.indexOf(kind) > STATES.indexOf(worst)) worst = kind;
      }
      if (worst !== "idle" && worst !== "slow") return worst;
      const busy = lastAtOrBefore(r.holdStarts, t) - lastAtOrBefore(r.holdEnds, t);
      if (busy > 0) return worst === "slow" ? "slow" : "busy";
      return worst;
    }

    show(t) {
      const d = this.data, moves = d.moves;
      // Moves are sorted by start: those begun by t and not yet ended are on their way. They
      // are kept as an active set, updated as time goes on (rebuilt when it goes back).
      if (t < this.activeAt) { this.active = []; this.next = 0; }
      while (this.next < moves.start.length && moves.start[this.next] <= t) {
        this.active.push(this.next++);
      }
      this.active = this.active.filter((i) => moves.end[i] > t);
      this.activeAt = t;
      let shown = 0;
      for (const i of this.active) {
        const span = moves.end[i] - moves.start[i];
        const [px, py] = this.along(this.paths[moves.path[i]], span > 0 ? (t - moves.start[i]) / span : 1);
        const dot = this.dot(shown++);
        dot.setAttribute("cx", px.toFixed(1));
        dot.setAttribute("cy", py.toFixed(1));
        dot.setAttribute("fill", DOT[moves.tone[i]]);
        dot.setAttribute("visibility", "visible");
      }
      for (let i = shown; i < this.dots.length; i++) this.dots[i].setAttribute("visibility", "hidden");
      const owners = {};
      for (const [node, slot, member, start, end] of d.assignments) {
        if (start <= t && t < (end === null ? Infinity : end)) owners[node + "/" + slot] = member;
      }
      for (const found of this.bars) {
        const bar = found.bar;
        const i = lastAtOrBefore(bar.times, t);
        const value = i >= 0 ? bar.values[i] : 0, extra = i >= 0 ? bar.extra[i] : 0;
        const share = Math.min(value / bar.capacity, 1);
        if (bar.kind === "queue") {
          const scale = found.height / bar.capacity;
          found.ready.setAttribute("y", found.bottom - value * scale);
          found.ready.setAttribute("height", value * scale);
          found.flight.setAttribute("y", found.bottom - (value + extra) * scale);
          found.flight.setAttribute("height", extra * scale);
          found.text.textContent = value.toFixed(0) + " ready" + (extra ? ", " + extra.toFixed(0) + " unacked" : "");
        } else if (bar.kind === "partition") {
          found.fill.setAttribute("width", found.width * share);
          const owner = owners[bar.node + "/" + bar.slot];
          found.fill.setAttribute("fill", owner ? (this.members[owner] || MUTED) : MUTED);
          found.text.textContent = "lag " + value.toFixed(0) + (owner ? " → " + owner : "");
        } else {
          found.fill.setAttribute("width", found.width * share);
          found.fill.setAttribute("fill", share >= 0.999 ? "#b03a2e" : "#1e8449");
          found.text.textContent = "busy " + value.toFixed(0) + "/" + bar.capacity.toFixed(0) +
            (extra ? ", " + extra.toFixed(0) + " waiting" : "");
        }
      }
      const owned = new Set(Object.values(owners));
      d.replicas.forEach((r, i) => {
        const circle = this.replicas[i];
        circle.setAttribute("fill", STATE[this.replicaState(r, t)]);
        const member = owned.has(r.name) || d.assignments.length === 0;
        circle.setAttribute("stroke", member ? (this.members[r.name] || INK) : FAINT);
      });
      const alerts = [];
      for (const [start, end, label] of d.faults) {
        if (start <= t && t < Math.max(end, start + 4 * d.minHop)) alerts.push(label);
      }
      for (const [start, end, label] of d.rebalances) if (start <= t && t < end) alerts.push(label);
      this.alerts.textContent = alerts.join("   ");
      const x = this.tx(Math.min(Math.max(t, d.start), d.end)).toFixed(1);
      this.cursor.setAttribute("x1", x);
      this.cursor.setAttribute("x2", x);
    }
  }
  Stage.count = 0;

  // Cursors over the chart images: where their time axes are, from data-axes.
  function chartCursors() {
    const found = [];
    for (const figure of document.querySelectorAll("figure.chart[data-axes]")) {
      const axes = JSON.parse(figure.getAttribute("data-axes"));
      const holder = figure.querySelector(".chart-image");
      for (const a of axes) {
        const line = document.createElement("div");
        line.className = "chart-cursor";
        line.style.top = (100 * a.top) + "%";
        line.style.height = (100 * (a.bottom - a.top)) + "%";
        holder.appendChild(line);
        found.push({ a, line });
      }
    }
    return (t) => {
      for (const { a, line } of found) {
        const inside = t >= a.t0 && t <= a.t1;
        line.style.display = inside ? "block" : "none";
        line.style.left = (100 * (a.left + (t - a.t0) / (a.t1 - a.t0) * (a.right - a.left))) + "%";
      }
    };
  }

  function start() {
    const source = document.getElementById("playback-data");
    if (!source) return;
    const all = JSON.parse(source.textContent);
    const host = document.getElementById("stages");
    const stages = all.map((data) => new Stage(data, host));
    const t0 = Math.min(...all.map((d) => d.start)), t1 = Math.max(...all.map((d) => d.end));
    const play = document.getElementById("play"), scrub = document.getElementById("scrub");
    const clock = document.getElementById("clock"), speed = document.getElementById("speed");
    const cursors = chartCursors();
    scrub.min = t0; scrub.max = t1; scrub.step = (t1 - t0) / 1000; scrub.value = t0;
    let now = t0, playing = false, last = null;
    function show(t) {
      now = Math.min(Math.max(t, t0), t1);
      for (const stage of stages) stage.show(now);
      clock.textContent = "t = " + clockText(now);
      scrub.value = now;
      cursors(now);
    }
    function tick(stamp) {
      if (!playing) return;
      if (last !== null) {
        const next = now + (stamp - last) / 1000 * Number(speed.value);
        show(next);
        if (next >= t1) { playing = false; play.textContent = "Play"; }
      }
      last = stamp;
      if (playing) requestAnimationFrame(tick);
    }
    play.addEventListener("click", () => {
      playing = !playing;
      play.textContent = playing ? "Pause" : "Play";
      if (playing) {
        if (now >= t1) show(t0);
        last = null;
        requestAnimationFrame(tick);
      }
    });
    scrub.addEventListener("input", () => show(Number(scrub.value)));
    show(t0);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
