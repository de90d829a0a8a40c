/*
 * The dashboard's map: a land outline shipped with the project (trackers/europe-outline.json,
 * built by tools/build_map_outline.py from Natural Earth), drawn as inline SVG, with one point
 * per tracker coloured by status and a tracker's trail. No tiles, no request off the machine.
 * Exposes window.TrackerMap.create(svg, outlineUrl, {onSelect, describe}).
 */
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";

  function svgNode(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function create(svg, outlineUrl, options) {
    let outline = null;
    const layers = { land: svgNode("g", { class: "map-land" }), trail: svgNode("g", { class: "map-trail" }), points: svgNode("g", { class: "map-points" }) };
    svg.append(layers.land, layers.trail, layers.points);

    const ready = fetch(outlineUrl, { credentials: "same-origin" })
      .then((response) => response.json())
      .then((data) => {
        outline = data;
        svg.setAttribute("viewBox", `0 0 ${data.width} ${data.height}`);
        // Clip to the box: the outline's margin must not show when the map is letterboxed.
        const clip = svgNode("clipPath", { id: "tracker-map-clip" });
        clip.append(svgNode("rect", { width: data.width, height: data.height }));
        svg.prepend(clip);
        layers.land.setAttribute("clip-path", "url(#tracker-map-clip)");
        layers.land.append(svgNode("rect", { class: "map-sea", width: data.width, height: data.height }));
        layers.land.append(svgNode("path", { d: data.path, class: "map-path" }));
      });

    function project(latitude, longitude) {
      const box = outline.box;
      const x = (longitude - box.west) * box.cosLat * box.scale;
      const y = (box.north - latitude) * box.scale;
      return [Math.min(Math.max(x, 0), outline.width), Math.min(Math.max(y, 0), outline.height)];
    }

    function activate(event, id) {
      if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      options.onSelect(id);
    }

    /** Draw one point per tracker with a location (coloured by status, keyboard reachable). */
    async function showTrackers(trackers) {
      await ready;
      const nodes = [];
      for (const tracker of trackers) {
        const where = tracker.latest_location;
        if (!where) continue;
        const [x, y] = project(where.latitude, where.longitude);
        const label = options.describe(tracker);
        const point = svgNode("circle", {
          cx: x.toFixed(1), cy: y.toFixed(1), r: 4.5,
          class: `map-point status-${tracker.current_status}`,
          "data-tracker-id": String(tracker.id),
          tabindex: "0",
          role: "button",
          "aria-label": label,
        });
        point.append(svgNode("title", {}));
        point.firstChild.textContent = label;
        point.addEventListener("click", (event) => activate(event, tracker.id));
        point.addEventListener("keydown", (event) => activate(event, tracker.id));
        nodes.push(point);
      }
      layers.points.replaceChildren(...nodes);
    }

    /** Draw a tracker's trail (newest first) and mark it as selected; null clears it. */
    async function showTrail(tracker) {
      await ready;
      for (const node of layers.points.querySelectorAll(".is-selected")) node.classList.remove("is-selected");
      if (!tracker) {
        layers.trail.replaceChildren();
        return;
      }
      const selected = layers.points.querySelector(`[data-tracker-id="${tracker.id}"]`);
      if (selected) selected.classList.add("is-selected");
      const points = tracker.trail.map((p) => project(p.latitude, p.longitude).map((v) => v.toFixed(1)).join(","));
      const nodes = [];
      if (points.length > 1) nodes.push(svgNode("polyline", { points: points.join(" "), class: "trail-line" }));
      tracker.trail.forEach((p, index) => {
        const [x, y] = project(p.latitude, p.longitude);
        nodes.push(svgNode("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: index === 0 ? 3.5 : 2, class: "trail-point" }));
      });
      layers.trail.replaceChildren(...nodes);
    }

    function clear() {
      layers.points.replaceChildren();
      layers.trail.replaceChildren();
    }

    return { showTrackers, showTrail, clear, ready };
  }

  window.TrackerMap = { create };
})();
