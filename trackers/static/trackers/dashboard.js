/*
 * Tracker dashboard: reads the user's scope, then loads trackers at once (small scope) or waits
 * for a filter (large scope, "lazy mode"). The filters live in the URL query string, so a view
 * can be shared and the back button restores the previous one. Plain JS, no build step.
 */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const byId = (id) => document.getElementById(id);
  const el = {
    root: byId("dashboard"),
    scopeSummary: byId("scope-summary"),
    stats: byId("stats-strip"),
    filters: byId("filters"),
    brand: byId("filter-brand"),
    run: byId("filter-run"),
    status: byId("filter-status"),
    search: byId("filter-search"),
    reset: byId("filter-reset"),
    live: byId("live-status"),
    error: byId("error"),
    empty: byId("empty-state"),
    emptyText: byId("empty-text"),
    showAll: byId("show-all"),
    results: byId("results"),
    summary: byId("results-summary"),
    pageSize: byId("page-size"),
    table: byId("trackers-table"),
    body: byId("trackers-body"),
    noResults: byId("no-results"),
    prev: byId("page-prev"),
    next: byId("page-next"),
    pagination: byId("pagination"),
    pageInfo: byId("page-info"),
  };

  const statusLabels = new Map(config.statuses.map((s) => [s.value, s.label]));
  const brandNames = new Map();
  const state = { brand: "", run: "", status: "", search: "", page: 1, size: config.defaultPageSize, all: false };
  let scope = null;
  let trackersRequest = null; // AbortController of the tracker list request in flight
  let runsRequest = null; // AbortController of the production-run request in flight
  let runsLoadedFor = null; // the brand whose runs fill the run select ("" = all runs)
  let searchTimer = null;

  /* ---- URL <-> state ------------------------------------------------------------------- */

  function positiveInt(value, fallback) {
    const n = Number.parseInt(value, 10);
    return Number.isInteger(n) && n > 0 && String(n) === String(value).trim() ? n : fallback;
  }

  function idParam(value) {
    return value && /^\d+$/.test(value) ? value : "";
  }

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const size = positiveInt(params.get("size"), config.defaultPageSize);
    const status = params.get("status") || "";
    return {
      brand: idParam(params.get("brand")),
      run: idParam(params.get("run")),
      status: statusLabels.has(status) ? status : "",
      search: (params.get("search") || "").trim(),
      page: positiveInt(params.get("page"), 1),
      size: config.pageSizes.includes(size) ? size : config.defaultPageSize,
      all: params.get("show") === "all",
    };
  }

  function urlFor(s) {
    const params = new URLSearchParams();
    if (s.brand) params.set("brand", s.brand);
    if (s.run) params.set("run", s.run);
    if (s.status) params.set("status", s.status);
    if (s.search) params.set("search", s.search);
    if (s.all) params.set("show", "all");
    if (s.page > 1) params.set("page", String(s.page));
    if (s.size !== config.defaultPageSize) params.set("size", String(s.size));
    const query = params.toString();
    return window.location.pathname + (query ? "?" + query : "");
  }

  /** Record the current state in the URL: "push" makes a history entry, "replace" does not. */
  function writeUrl(mode) {
    const url = urlFor(state);
    if (url === window.location.pathname + window.location.search) return;
    if (mode === "replace") window.history.replaceState(null, "", url);
    else window.history.pushState(null, "", url);
  }

  function hasFilter() {
    return Boolean(state.brand || state.run || state.status || state.search);
  }

  /* ---- API --------------------------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function detailOf(body) {
    if (!body || typeof body !== "object") return "";
    if (typeof body.detail === "string") return body.detail;
    // DRF validation errors: {"param": ["message", ...], ...}
    return Object.entries(body)
      .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : value}`)
      .join("; ");
  }

  async function getJSON(url, signal) {
    const response = await fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal,
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null; // an error page that is not JSON: fall back to the status line
    }
    if (!response.ok) {
      throw new ApiError(response.status, detailOf(body) || `${response.status} ${response.statusText}`.trim());
    }
    return body;
  }

  function withQuery(path, params) {
    const query = new URLSearchParams(params).toString();
    return query ? `${path}?${query}` : path;
  }

  /* ---- Formatting ---------------------------------------------------------------------- */

  const numberFormat = new Intl.NumberFormat();
  const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const UNITS = [
    ["year", 365 * 24 * 3600],
    ["month", 30 * 24 * 3600],
    ["week", 7 * 24 * 3600],
    ["day", 24 * 3600],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relativeTime(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
    }
    return "just now";
  }

  function formatCount(n) {
    return numberFormat.format(n);
  }

  function plural(n, one, many) {
    return `${formatCount(n)} ${n === 1 ? one : many}`;
  }

  function make(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  /* ---- Messages and states ------------------------------------------------------------- */

  function announce(message) {
    el.live.textContent = message;
  }

  function showError(error, context) {
    let message = (context ? context + ": " : "") + (error.message || String(error));
    if (error.status === 401 || error.status === 403) {
      message = `${message} — your session may have ended; reload the page to log in again.`;
    }
    el.error.textContent = message;
    el.error.hidden = false;
    announce(message);
  }

  function clearError() {
    el.error.hidden = true;
    el.error.textContent = "";
  }

  function setMode(mode) {
    el.root.dataset.state = mode; // init | empty | loading | ready | error
    const loading = mode === "loading";
    el.table.setAttribute("aria-busy", String(loading));
    el.results.classList.toggle("is-loading", loading);
  }

  function showEmptyState() {
    if (trackersRequest) trackersRequest.abort();
    el.results.hidden = true;
    el.empty.hidden = false;
    el.emptyText.textContent =
      `Your scope has ${plural(scope.tracker_count, "tracker", "trackers")}. ` +
      "Choose a brand, production run or status to load trackers, or show all of them page by page.";
    setMode("empty");
    announce("Choose a filter to load trackers.");
  }

  /* ---- Reference data: brands and production runs --------------------------------------- */

  function fillSelect(select, items, placeholder, selected, noun) {
    const options = [make("option", { value: "", text: placeholder })];
    for (const item of items) options.push(make("option", { value: String(item.id), text: item.name }));
    if (selected && !items.some((item) => String(item.id) === selected)) {
      // A link naming an id outside the user's scope (or deleted): keep the filter visible, so
      // the empty result is explained rather than shown under "All".
      options.push(make("option", { value: selected, text: `Unavailable ${noun} (#${selected})` }));
    }
    select.replaceChildren(...options);
    select.value = selected;
  }

  async function loadBrands() {
    try {
      const items = await getJSON(config.api.brands); // a plain list of {id, name, client_id}
      brandNames.clear();
      for (const brand of items) brandNames.set(String(brand.id), brand.name);
      fillSelect(el.brand, items, "All brands", state.brand, "brand");
    } catch (error) {
      showError(error, "Could not load brands");
    }
  }

  async function loadRuns() {
    const brand = state.brand;
    if (runsRequest) runsRequest.abort(); // a slow answer for a brand left behind must not land
    if (!brand && !state.run) {
      runsLoadedFor = null;
      fillSelect(el.run, [], "Choose a brand first", "", "run");
      el.run.disabled = true;
      return;
    }
    if (runsLoadedFor === brand) {
      el.run.value = state.run;
      return;
    }
    const request = new AbortController();
    runsRequest = request;
    el.run.disabled = true;
    try {
      const params = brand ? { brand_id: brand } : {};
      const items = await getJSON(withQuery(config.api.productionRuns, params), request.signal);
      fillSelect(el.run, items, "All production runs", state.run, "run");
      runsLoadedFor = brand;
      el.run.disabled = false;
    } catch (error) {
      if (error.name !== "AbortError") showError(error, "Could not load production runs");
    } finally {
      if (runsRequest === request) runsRequest = null;
    }
  }

  /* ---- Statistics ---------------------------------------------------------------------- */

  function statItem(label, value, modifier) {
    return make("li", { class: `stat${modifier ? " stat-" + modifier : ""}` }, [
      make("span", { class: "stat-value", text: formatCount(value) }),
      make("span", { class: "stat-label", text: label }),
    ]);
  }

  async function loadStats() {
    try {
      const stats = await getJSON(config.api.stats);
      // {"total", "by_status": {status: count}, "no_report_24h", "stale_after_hours", ...}
      const byStatus = stats.by_status || {};
      const items = [statItem("Trackers", stats.total, "total")];
      for (const { value, label } of config.statuses) items.push(statItem(label, byStatus[value] || 0, value));
      if (stats.no_report_24h !== undefined) {
        const hours = stats.stale_after_hours ?? config.staleAfterHours;
        items.push(statItem(`No report in ${hours} h`, stats.no_report_24h, "stale"));
      }
      el.stats.replaceChildren(...items);
    } catch (error) {
      el.stats.replaceChildren(make("li", { class: "stat stat-placeholder", text: `Statistics unavailable: ${error.message}` }));
    } finally {
      el.stats.setAttribute("aria-busy", "false");
    }
  }

  /* ---- Tracker list -------------------------------------------------------------------- */

  function trackerQuery() {
    const params = new URLSearchParams({
      include_latest_location: "true",
      // Lazy mode asks the API for its lazy contract: it answers the empty page without a
      // query when no filter is set, so a stale request can never load the whole scope.
      lazy_load: scope.lazy_mode && !state.all ? "true" : "false",
      page: String(state.page),
      size: String(state.size),
    });
    if (state.brand) params.set("brand_ids", state.brand);
    if (state.run) params.set("production_run_ids", state.run);
    if (state.status) params.set("status", state.status);
    if (state.search) params.set("search", state.search);
    return withQuery(config.api.trackers, params);
  }

  function statusBadge(status) {
    return make("span", { class: `badge badge-${status}`, text: statusLabels.get(status) || status });
  }

  function lastReportCell(value) {
    if (!value) return make("td", { class: "muted", text: "Never" });
    const date = new Date(value);
    return make("td", {}, [make("time", { datetime: value, title: dateFormat.format(date), text: relativeTime(date) })]);
  }

  function locationCell(location) {
    if (!location) return make("td", { class: "muted", text: "No location yet" });
    const coords = `${Number(location.latitude).toFixed(4)}, ${Number(location.longitude).toFixed(4)}`;
    return make("td", { class: "location" }, [
      make("span", { class: "city", text: location.nearest_city || "Unknown place" }),
      make("span", { class: "coords", title: "Latitude, longitude", text: coords }),
    ]);
  }

  function trackerRow(tracker) {
    const brandId = tracker.brand_id == null ? "" : String(tracker.brand_id);
    return make("tr", { "data-tracker-id": String(tracker.id) }, [
      make("td", { class: "serial" }, [make("code", { text: tracker.serial })]),
      make("td", { text: tracker.name }),
      make("td", { text: brandNames.get(brandId) || (brandId ? `Brand ${brandId}` : "—") }),
      make("td", {}, [statusBadge(tracker.current_status)]),
      lastReportCell(tracker.last_report_received),
      locationCell(tracker.latest_location),
    ]);
  }

  function renderTrackers(data) {
    el.body.replaceChildren(...data.items.map(trackerRow));
    el.noResults.hidden = data.items.length > 0;
    const first = data.total ? (data.page - 1) * data.size + 1 : 0;
    const last = (data.page - 1) * data.size + data.items.length;
    const summary = data.total
      ? `Showing ${formatCount(first)}–${formatCount(last)} of ${plural(data.total, "tracker", "trackers")}`
      : "0 trackers";
    el.summary.textContent = summary;
    const pages = Math.max(data.pages, 1);
    el.pageInfo.textContent = `Page ${formatCount(data.page)} of ${formatCount(pages)}`;
    el.prev.disabled = data.page <= 1;
    el.next.disabled = data.page >= pages;
    el.pagination.hidden = pages <= 1;
    announce(summary + ".");
  }

  async function loadTrackers() {
    if (trackersRequest) trackersRequest.abort();
    const request = new AbortController();
    trackersRequest = request;
    el.empty.hidden = true;
    el.results.hidden = false;
    setMode("loading");
    announce("Loading trackers…");
    let data;
    try {
      data = await getJSON(trackerQuery(), request.signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      el.results.hidden = true; // rows of the previous filters would mislead under the new ones
      setMode("error");
      showError(error, "Could not load trackers");
      return;
    } finally {
      if (trackersRequest === request) trackersRequest = null;
    }
    clearError();
    if (data.items.length === 0 && data.total > 0 && state.page > data.pages) {
      // A shared link to a page that no longer exists: show the last page instead.
      state.page = data.pages;
      writeUrl("replace");
      return loadTrackers();
    }
    renderTrackers(data);
    setMode("ready");
  }

  /** Show what the current state asks for: the lazy empty state or the tracker list. */
  function refresh() {
    if (!scope) return;
    if (scope.lazy_mode && !hasFilter() && !state.all) showEmptyState();
    else loadTrackers();
  }

  /* ---- Controls ------------------------------------------------------------------------ */

  function syncControls() {
    if (brandNames.size) {
      const brands = [...brandNames].map(([id, name]) => ({ id, name }));
      fillSelect(el.brand, brands, "All brands", state.brand, "brand"); // drops a stale "Unavailable"
    } else {
      el.brand.value = state.brand;
    }
    el.status.value = state.status;
    if (document.activeElement !== el.search) el.search.value = state.search;
    el.pageSize.value = String(state.size);
    el.reset.disabled = !hasFilter() && !state.all;
  }

  /** Apply a change made by the user: update state, the URL (a history entry) and the page. */
  function change(patch) {
    Object.assign(state, { page: 1 }, patch);
    writeUrl("push");
    syncControls();
    refresh();
  }

  function commitSearch() {
    window.clearTimeout(searchTimer);
    const value = el.search.value.trim();
    if (value !== state.search) change({ search: value });
  }

  el.brand.addEventListener("change", () => {
    change({ brand: el.brand.value, run: "" });
    loadRuns();
  });
  el.run.addEventListener("change", () => change({ run: el.run.value }));
  el.status.addEventListener("change", () => change({ status: el.status.value }));
  el.search.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(commitSearch, config.searchDebounceMs);
  });
  el.filters.addEventListener("submit", (event) => {
    event.preventDefault(); // Enter in the search box searches at once
    commitSearch();
  });
  el.reset.addEventListener("click", () => {
    el.search.value = "";
    change({ brand: "", run: "", status: "", search: "", all: false });
    loadRuns();
  });
  el.showAll.addEventListener("click", () => change({ all: true }));
  el.pageSize.addEventListener("change", () => change({ size: Number(el.pageSize.value) }));
  el.prev.addEventListener("click", () => change({ page: Math.max(state.page - 1, 1) }));
  el.next.addEventListener("click", () => change({ page: state.page + 1 }));

  window.addEventListener("popstate", () => {
    window.clearTimeout(searchTimer);
    Object.assign(state, readUrl());
    el.search.value = state.search;
    syncControls();
    loadRuns();
    refresh();
  });

  /* ---- Start --------------------------------------------------------------------------- */

  function renderScopeSummary() {
    const parts = [
      plural(scope.tracker_count, "tracker", "trackers"),
      plural(scope.brand_count, "brand", "brands"),
      plural(scope.production_run_count, "production run", "production runs"),
    ];
    el.scopeSummary.textContent = `Your scope: ${parts.join(" · ")}`;
  }

  async function start() {
    Object.assign(state, readUrl());
    syncControls();
    loadStats();
    const brandsLoaded = loadBrands();
    loadRuns();
    try {
      scope = await getJSON(config.api.scope);
    } catch (error) {
      setMode("error");
      showError(error, "Could not load your data scope");
      return;
    }
    renderScopeSummary();
    await brandsLoaded; // so the first rows show brand names, not ids
    syncControls();
    refresh();
  }

  start();
})();
