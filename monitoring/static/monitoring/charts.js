// Line charts as inline SVG, no library: window.MonitoringCharts.line(container, options).
// options: {title, unit, times: [epoch s], series: [{name, values: [number|null]}], max}. A null
// value is a gap (nothing counted in that bucket), never drawn as zero.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const W = 600, H = 180, LEFT = 60, RIGHT = 8, TOP = 10, BOTTOM = 22;
  const COLOURS = ["#2f6fe0", "#1f8a4c", "#c4321f", "#8a5cc2", "#c98a00", "#198a9a"];

  function node(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function html(tag, attrs, text) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function latest(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null && values[i] !== undefined) return values[i];
    return null;
  }

  function format(value, unit) {
    if (value === null) return "–";
    const rounded = Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2);
    return unit === "%" ? rounded + "%" : rounded + " " + unit;
  }

  function line(container, options) {
    const { title, unit, times, series } = options;
    const all = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
    const max = options.max !== undefined ? options.max : Math.max(1, ...all) * 1.1;
    const x = (i) => LEFT + (i * (W - LEFT - RIGHT)) / Math.max(times.length - 1, 1);
    const y = (v) => TOP + (1 - v / max) * (H - TOP - BOTTOM);
    const summary = series.map((s) => `${s.name} ${format(latest(s.values), unit)}`).join(", ");
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `${title}: latest ${summary || "no data"}` });
    for (const fraction of [0, 0.5, 1]) {
      const v = max * fraction;
      svg.append(node("line", { x1: LEFT, x2: W - RIGHT, y1: y(v), y2: y(v), class: "chart-grid" }));
      svg.append(node("text", { x: LEFT - 4, y: y(v) + 4, class: "chart-axis", "text-anchor": "end" }, format(v, unit)));
    }
    if (times.length) {
      svg.append(node("text", { x: LEFT, y: H - 6, class: "chart-axis" }, clock(times[0])));
      svg.append(node("text", { x: W - RIGHT, y: H - 6, class: "chart-axis", "text-anchor": "end" }, clock(times[times.length - 1])));
    }
    series.forEach((s, index) => {
      const colour = COLOURS[index % COLOURS.length];
      let points = [];
      const flush = () => {
        if (points.length === 1) svg.append(node("circle", { cx: points[0][0], cy: points[0][1], r: 2.5, fill: colour, "data-series": s.name }));
        if (points.length > 1) {
          svg.append(node("polyline", { points: points.map((p) => p.join(",")).join(" "), stroke: colour, class: "chart-line", "data-series": s.name }));
        }
        points = [];
      };
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) flush();
        else points.push([x(i).toFixed(1), y(v).toFixed(1)]);
      });
      flush();
    });
    const legend = html("ul", { class: "chart-legend" });
    series.forEach((s, index) => {
      const item = html("li");
      item.append(html("span", { class: "swatch", style: `background:${COLOURS[index % COLOURS.length]}` }));
      item.append(document.createTextNode(`${s.name} ${format(latest(s.values), unit)}`));
      legend.append(item);
    });
    const figure = html("figure", { class: "chart-figure", "data-chart": options.id || title });
    figure.append(html("figcaption", {}, title), svg, legend);
    container.replaceChildren(figure);
    return figure;
  }

  window.MonitoringCharts = { line };
})();
