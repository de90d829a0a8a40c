// The monitoring page: re-reads /api/health (staff session) every few seconds and updates the
// figures in place. Text only (textContent), never HTML from the response.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("monitoring-config").textContent);
  const root = document.getElementById("monitoring");
  const dash = "–";

  function text(value, unit) {
    if (value === null || value === undefined) return dash + (unit ? " " + unit : "");
    return unit ? ms(value) + " " + unit : String(value);
  }

  // Milliseconds with two decimals, as the server renders them (floatformat:2).
  function ms(value) {
    return value === null || value === undefined ? dash : Number(value).toFixed(2);
  }

  function bytes(n) {
    if (n < 1024) return n + " bytes";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / (1024 * 1024)).toFixed(1) + " MB";
  }

  function formatUptime(seconds) {
    const s = Math.floor(seconds);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    if (m) return m + " min " + (s % 60) + " s";
    return s + " s";
  }

  function cell(row, value, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (value instanceof Node) td.appendChild(value); else td.textContent = value;
    row.appendChild(td);
    return td;
  }

  function code(value) {
    const el = document.createElement("code");
    el.textContent = value;
    return el;
  }

  // Long SQL is shown truncated; the whole statement is one click (or Enter) away.
  const NAME_LIMIT = 90;

  function sqlName(name) {
    if (name.length <= NAME_LIMIT) return code(name);
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.appendChild(code(name.slice(0, NAME_LIMIT - 1) + "…"));
    details.append(summary, code(name));
    return details;
  }

  function percent(value) {
    return value === null || value === undefined ? dash : value + "%";
  }

  function rating(value) {
    const el = document.createElement("span");
    el.className = "rating";
    el.dataset.rating = value;
    el.textContent = value;
    return el;
  }

  function emptyRow(tbody, columns, message) {
    const row = document.createElement("tr");
    row.className = "empty";
    const td = cell(row, message);
    td.colSpan = columns;
    tbody.appendChild(row);
  }

  function renderStatus(report) {
    root.dataset.status = report.status;
    const badge = document.getElementById("status");
    badge.dataset.status = report.status;
    badge.textContent = report.status;
    const uptime = document.getElementById("uptime");
    uptime.dataset.seconds = report.uptime;
    uptime.textContent = formatUptime(report.uptime);
    const updated = document.getElementById("updated");
    updated.dateTime = report.timestamp;
    updated.textContent = new Date(report.timestamp).toLocaleTimeString();
    if (report.deployment) {
      document.getElementById("deployment-processes").textContent = report.deployment.processes;
      const since = document.getElementById("deployment-since");
      since.dateTime = report.deployment.since;
      since.textContent = report.deployment.since;
    }
  }

  function renderPerformance(perf) {
    const badge = document.getElementById("perf-rating");
    badge.dataset.rating = perf.rating;
    badge.textContent = perf.rating;
    document.querySelectorAll("#perf-figures [data-field]").forEach(function (dd) {
      dd.textContent = text(perf[dd.dataset.field], dd.dataset.unit);
    });
    const tbody = document.querySelector("#slowest tbody");
    tbody.replaceChildren();
    perf.topSlowest.forEach(function (row) {
      const tr = document.createElement("tr");
      cell(tr, sqlName(row.name), "name");
      cell(tr, row.kind);
      cell(tr, text(row.count), "num");
      cell(tr, ms(row.avgTime), "num");
      cell(tr, ms(row.p95), "num");
      cell(tr, ms(row.maxTime), "num");
      cell(tr, rating(row.rating));
      tbody.appendChild(tr);
    });
    if (!perf.topSlowest.length) emptyRow(tbody, 7, "No statements recorded yet.");
    const list = document.getElementById("regressions");
    list.replaceChildren();
    perf.regressions.forEach(function (r) {
      const li = document.createElement("li");
      li.appendChild(code(r.name));
      li.appendChild(document.createTextNode(
        ": median " + ms(r.baselineMedian) + " ms → " + ms(r.recentMedian) + " ms (×" + r.ratio + ")"));
      list.appendChild(li);
    });
    if (!perf.regressions.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "None: no name's recent median is at least twice its baseline.";
      list.appendChild(li);
    }
  }

  function renderCache(cache) {
    document.getElementById("cache-hit-rate").textContent =
      "hit rate " + percent(cache.hitRate);
    const state = [];
    if (cache.l1) state.push("L1 " + cache.l1.entries + " of " + cache.l1.maxEntries + " entries, " + bytes(cache.l1.bytes));
    Object.keys(cache.breakers || {}).forEach(function (name) {
      state.push(name + " breaker " + cache.breakers[name].state);
    });
    document.getElementById("cache-state").textContent = state.join(" · ");
    const tbody = document.querySelector("#cache-namespaces tbody");
    tbody.replaceChildren();
    const names = Object.keys(cache.namespaces || {}).sort();
    names.forEach(function (name) {
      const ns = cache.namespaces[name];
      const tr = document.createElement("tr");
      cell(tr, code(name), "name");
      cell(tr, percent(ns.hitRate), "num");
      cell(tr, text(ns.hits), "num");
      cell(tr, text(ns.misses), "num");
      cell(tr, text(ns.size && ns.size.l1), "num");
      cell(tr, Object.keys(ns.tiers || {}).map(function (tier) {
        return tier + " " + ns.tiers[tier].hits + "/" + ns.tiers[tier].misses;
      }).join(" · "));
      tbody.appendChild(tr);
    });
    if (!names.length) {
      emptyRow(tbody, 6, cache.available ? "No cache requests yet." : "Cache statistics are unavailable.");
    }
  }

  function renderDependencies(deps) {
    Object.keys(deps).forEach(function (name) {
      const dd = document.querySelector('[data-dependency="' + name + '"]');
      if (!dd) return;
      dd.dataset.status = deps[name].status;
      dd.textContent = deps[name].status +
        (deps[name].latencyMs === undefined ? "" : " · " + ms(deps[name].latencyMs) + " ms");
    });
  }

  /* ---- Charts of the last hour (every process, from the shared history) ---- */

  const charts = document.getElementById("monitoring-charts");

  function drawCharts(h) {
    const draw = window.MonitoringCharts.line;
    const named = (values) => Object.keys(values).map((name) => ({ name: name, values: values[name] }));
    draw(document.getElementById("chart-hit-tier"), {
      id: "hit-rate-tier", title: "Hit rate by tier", unit: "%", max: 100, times: h.times,
      series: named(h.hitRateByTier),
    });
    draw(document.getElementById("chart-hit-namespace"), {
      id: "hit-rate-namespace", title: "Hit rate by namespace (busiest)", unit: "%", max: 100, times: h.times,
      series: named(h.hitRateByNamespace),
    });
    draw(document.getElementById("chart-query"), {
      id: "query-ms", title: "SQL query time P50 / P95 / P99", unit: "ms", times: h.times,
      series: named(h.queryMs),
    });
    draw(document.getElementById("chart-invalidations"), {
      id: "invalidations", title: "Invalidations per second", unit: "/s", times: h.times,
      series: [{ name: "invalidations", values: h.invalidationsPerSecond }],
    });
    draw(document.getElementById("chart-outbox"), {
      id: "outbox-age", title: "Outbox: age of the oldest pending invalidation", unit: "s", times: h.times,
      series: [{ name: "oldest", values: h.outboxAgeSeconds }],
    });
    charts.setAttribute("aria-busy", "false");
    charts.dataset.points = String(h.times.length);
  }

  async function refreshCharts() {
    try {
      const response = await fetch(config.historyUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      drawCharts(await response.json());
    } catch (error) {
      document.getElementById("chart-hit-tier").textContent = "Charts unavailable (" + error.message + ").";
    }
  }

  function render(report) {
    renderStatus(report);
    if (report.performance) renderPerformance(report.performance);
    if (report.cache) renderCache(report.cache);
    if (report.dependencies) renderDependencies(report.dependencies);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
  }

  const refreshState = document.getElementById("refresh-state");

  async function refresh() {
    try {
      const response = await fetch(config.healthUrl, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 429) {
        refreshState.textContent = "· refresh throttled, retrying";
        return;
      }
      const report = await response.json();
      if (!report.status) throw new Error("HTTP " + response.status);
      render(report);
      refreshCharts();
      refreshState.textContent = report.performance ? "" : "· session expired: log in again for details";
    } catch (error) {
      refreshState.textContent = "· refresh failed (" + error.message + ")";
    }
  }

  document.getElementById("uptime").textContent =
    formatUptime(Number(document.getElementById("uptime").dataset.seconds));
  const updated = document.getElementById("updated");
  updated.textContent = new Date(updated.dateTime).toLocaleTimeString();
  refreshCharts();
  window.setInterval(refresh, Math.max(1, config.refreshSeconds) * 1000);
})();
