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
    loading: byId("loading"),
    map: byId("tracker-map"),
    mapEmpty: byId("map-empty"),
    detail: byId("tracker-detail"),
    detailHeading: byId("detail-heading"),
    detailBody: byId("detail-body"),
    detailClose: byId("detail-close"),
    runHint: byId("run-hint"),
  };

  const statusLabels = new Map(config.statuses.map((s) => [s.value, s.label]));
  const brandNames = new Map();
  // brand and run hold several ids (multi-select); the URL writes them as brand=1,2.
  const state = { brand: [], run: [], status: "", search: "", page: 1, size: config.defaultPageSize, all: false };
  let scope = null;
  let trackersRequest = null; // AbortController of the tracker list request in flight
  let allRuns = null; // every production run of the scope (one cached reference list)
  let detailRequest = null; // AbortController of the tracker detail request in flight
  let pending = 0; // requests in flight: the loading bar shows while any is
  let searchTimer = null;

  /* ---- URL <-> state ------------------------------------------------------------------- */

  function positiveInt(value, fallback) {
    const n = Number.parseInt(value, 10);
    return Number.isInteger(n) && n > 0 && String(n) === String(value).trim() ? n : fallback;
  }

  function idList(value) {
    return [...new Set((value || "").split(",").map((v) => v.trim()).filter((v) => /^\d+$/.test(v)))];
  }

  function readUrl() {
    const params = new URLSearchParams(window.location.search);
    const size = positiveInt(params.get("size"), config.defaultPageSize);
    const status = params.get("status") || "";
    return {
      brand: idList(params.get("brand")),
      run: idList(params.get("run")),
      status: statusLabels.has(status) ? status : "",
      search: (params.get("search") || "").trim(),
      page: positiveInt(params.get("page"), 1),
      size: config.pageSizes.includes(size) ? size : config.defaultPageSize,
      all: params.get("show") === "all",
    };
  }

  function urlFor(s) {
    const params = new URLSearchParams();
    if (s.brand.length) params.set("brand", s.brand.join(","));
    if (s.run.length) params.set("run", s.run.join(","));
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
    return Boolean(state.brand.length || state.run.length || state.status || state.search);
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

  /** Show the loading bar while any request is in flight. */
  function setPending(delta) {
    pending += delta;
    el.loading.hidden = pending === 0;
    el.root.setAttribute("aria-busy", String(pending > 0));
  }

  async function getJSON(url, signal) {
    setPending(1);
    try {
      return await fetchJSON(url, signal);
    } finally {
      setPending(-1);
    }
  }

  async function fetchJSON(url, signal) {
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
    map.clear();
    el.mapEmpty.hidden = false;
    el.emptyText.textContent =
      `Your scope has ${plural(scope.tracker_count, "tracker", "trackers")}. ` +
      "Choose a brand, production run or status to load trackers, or show all of them page by page.";
    setMode("empty");
    announce("Choose a filter to load trackers.");
  }

  /* ---- Reference data: brands and production runs --------------------------------------- */

  function fillSelect(select, items, selected, noun) {
    const options = items.map((item) => make("option", { value: String(item.id), text: item.name }));
    for (const id of selected) {
      if (!items.some((item) => String(item.id) === id)) {
        // A link naming an id outside the user's scope (or deleted): keep the filter visible, so
        // the empty result is explained rather than shown as "all".
        options.push(make("option", { value: id, text: `Unavailable ${noun} (#${id})` }));
      }
    }
    select.replaceChildren(...options);
    for (const option of select.options) option.selected = selected.includes(option.value);
  }

  function selectedIds(select) {
    return [...select.selectedOptions].map((option) => option.value);
  }

  async function loadBrands() {
    try {
      const items = await getJSON(config.api.brands); // a plain list of {id, name, client_id}
      brandNames.clear();
      for (const brand of items) brandNames.set(String(brand.id), brand.name);
      fillSelect(el.brand, items, state.brand, "brand");
    } catch (error) {
      showError(error, "Could not load brands");
    }
  }

  /** Offer the runs of the chosen brands (every run is one cached reference list, loaded once). */
  async function loadRuns() {
    if (!state.brand.length && !state.run.length) {
      fillSelect(el.run, [], [], "run");
      el.run.disabled = true;
      el.runHint.textContent = "(choose a brand first)";
      return;
    }
    if (allRuns === null) {
      el.run.disabled = true;
      try {
        allRuns = await getJSON(config.api.productionRuns);
      } catch (error) {
        showError(error, "Could not load production runs");
        return;
      }
    }
    const runs = state.brand.length ? allRuns.filter((run) => state.brand.includes(String(run.brand_id))) : allRuns;
    fillSelect(el.run, runs, state.run, "run");
    el.run.disabled = false;
    el.runHint.textContent = "(none chosen: all)";
  }

  /* ---- Statistics ---------------------------------------------------------------------- */

  /** A statistic card; a status card is a toggle button that filters the list by that status. */
  function statItem(label, value, modifier, status) {
    const content = [
      make("span", { class: "stat-value", text: formatCount(value) }),
      make("span", { class: "stat-label", text: label }),
    ];
    const classes = `stat${modifier ? " stat-" + modifier : ""}`;
    if (status === undefined) return make("li", {}, [make("div", { class: classes }, content)]);
    const pressed = state.status === status && status !== "";
    const attrs = { type: "button", class: `${classes} stat-button`, "aria-pressed": String(pressed), "data-status": status };
    const button = make("button", attrs, content);
    button.title = status ? `Show only "${label}" trackers` : "Show every status";
    button.addEventListener("click", () => change({ status: state.status === status ? "" : status }));
    return make("li", {}, [button]);
  }

  function filterParams() {
    const params = {};
    if (state.brand.length) params.brand_ids = state.brand.join(",");
    if (state.run.length) params.production_run_ids = state.run.join(",");
    if (state.search) params.search = state.search;
    return params;
  }

  let statsRequest = null;

  /** Load the statistics of the trackers matching the brand, run and search filters. */
  async function loadStats() {
    const key = new URLSearchParams(filterParams()).toString();
    if (key === el.stats.dataset.filters && !statsRequest) return; // a page change: same counts
    if (statsRequest) statsRequest.abort();
    const request = new AbortController();
    statsRequest = request;
    el.stats.setAttribute("aria-busy", "true");
    try {
      const stats = await getJSON(withQuery(config.api.stats, filterParams()), request.signal);
      // {"total", "by_status": {status: count}, "no_report_24h", "stale_after_hours", ...}
      const byStatus = stats.by_status || {};
      const items = [statItem("Trackers", stats.total, "total", "")];
      for (const { value, label } of config.statuses) items.push(statItem(label, byStatus[value] || 0, value, value));
      if (stats.no_report_24h !== undefined) {
        const hours = stats.stale_after_hours ?? config.staleAfterHours;
        items.push(statItem(`No report in ${hours} h`, stats.no_report_24h, "stale"));
      }
      el.stats.replaceChildren(...items);
      el.stats.dataset.filters = key;
    } catch (error) {
      if (error.name === "AbortError") return;
      el.stats.replaceChildren(make("li", { class: "stat stat-placeholder", text: `Statistics unavailable: ${error.message}` }));
    } finally {
      if (statsRequest === request) {
        statsRequest = null;
        el.stats.setAttribute("aria-busy", "false");
      }
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
    if (state.brand.length) params.set("brand_ids", state.brand.join(","));
    if (state.run.length) params.set("production_run_ids", state.run.join(","));
    if (state.status) params.set("status", state.status);
    if (state.search) params.set("search", state.search);
    return withQuery(config.api.trackers, params);
  }

  function statusBadge(status) {
    return make("span", { class: `badge badge-${status}`, text: statusLabels.get(status) || status });
  }

  function lastReportCell(value) {
    if (!value) return make("td", { class: "muted", "data-label": "Last report", text: "Never" });
    const date = new Date(value);
    return make("td", { "data-label": "Last report" }, [
      make("time", { datetime: value, title: dateFormat.format(date), text: relativeTime(date) }),
    ]);
  }

  function locationCell(location) {
    if (!location) return make("td", { class: "muted", "data-label": "Location", text: "No location yet" });
    const coords = `${Number(location.latitude).toFixed(4)}, ${Number(location.longitude).toFixed(4)}`;
    return make("td", { class: "location", "data-label": "Location" }, [
      make("span", { class: "city", text: location.nearest_city || "Unknown place" }),
      make("span", { class: "coords", title: "Latitude, longitude", text: coords }),
    ]);
  }

  function trackerRow(tracker) {
    const brandId = tracker.brand_id == null ? "" : String(tracker.brand_id);
    const open = make("button", { type: "button", class: "serial-link", "aria-label": `Open tracker ${tracker.serial}` }, [
      make("code", { text: tracker.serial }),
    ]);
    open.addEventListener("click", () => openDetail(tracker.id, open));
    return make("tr", { "data-tracker-id": String(tracker.id) }, [
      make("td", { class: "serial", "data-label": "Serial" }, [open]),
      make("td", { class: "name", "data-label": "Name", text: tracker.name }),
      make("td", { "data-label": "Brand", text: brandNames.get(brandId) || (brandId ? `Brand ${brandId}` : "—") }),
      make("td", { "data-label": "Status" }, [statusBadge(tracker.current_status)]),
      lastReportCell(tracker.last_report_received),
      locationCell(tracker.latest_location),
    ]);
  }

  function describe(tracker) {
    const when = tracker.last_report_received ? relativeTime(new Date(tracker.last_report_received)) : "never";
    return `${tracker.serial}: ${statusLabels.get(tracker.current_status) || tracker.current_status}, last report ${when}`;
  }

  function renderTrackers(data) {
    el.body.replaceChildren(...data.items.map(trackerRow));
    el.mapEmpty.hidden = true;
    map.showTrackers(data.items);
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
    loadStats();
    if (scope.lazy_mode && !hasFilter() && !state.all) showEmptyState();
    else loadTrackers();
  }

  /* ---- Controls ------------------------------------------------------------------------ */

  function syncControls() {
    if (brandNames.size) {
      const brands = [...brandNames].map(([id, name]) => ({ id, name }));
      fillSelect(el.brand, brands, state.brand, "brand"); // drops a stale "Unavailable"
    } else {
      for (const option of el.brand.options) option.selected = state.brand.includes(option.value);
    }
    if (!el.run.disabled) for (const option of el.run.options) option.selected = state.run.includes(option.value);
    el.status.value = state.status;
    if (document.activeElement !== el.search) el.search.value = state.search;
    el.pageSize.value = String(state.size);
    for (const card of el.stats.querySelectorAll(".stat-button")) {
      card.setAttribute("aria-pressed", String(Boolean(state.status) && card.dataset.status === state.status));
    }
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
    const brand = selectedIds(el.brand);
    const runs = allRuns ? allRuns.filter((r) => brand.includes(String(r.brand_id))).map((r) => String(r.id)) : [];
    change({ brand, run: state.run.filter((id) => runs.includes(id)) }); // keep runs of brands still chosen
    loadRuns();
  });
  el.run.addEventListener("change", () => change({ run: selectedIds(el.run) }));
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
    change({ brand: [], run: [], status: "", search: "", all: false });
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

  /* ---- Map and tracker detail ---------------------------------------------------------- */

  const map = window.TrackerMap.create(el.map, config.mapOutline, { onSelect: (id) => openDetail(id), describe });
  let detailOpener = null; // the control that opened the detail gets the focus back on close

  function detailRow(label, value) {
    return [make("dt", { text: label }), make("dd", {}, [value])];
  }

  function renderDetail(tracker) {
    el.detailHeading.textContent = `Tracker ${tracker.serial}`;
    const where = tracker.latest_location;
    const list = make("dl", { class: "detail-facts" }, [
      ...detailRow("Name", tracker.name),
      ...detailRow("Brand", tracker.brand_name),
      ...detailRow("Production run", tracker.production_run_name),
      ...detailRow("Status", statusBadge(tracker.current_status)),
      ...detailRow("Last report", tracker.last_report_received ? dateFormat.format(new Date(tracker.last_report_received)) : "Never"),
      ...detailRow(
        "Latest location",
        where ? `${where.nearest_city || "Unknown place"} (${Number(where.latitude).toFixed(4)}, ${Number(where.longitude).toFixed(4)})` : "No location yet",
      ),
    ]);
    const history = make(
      "ol",
      { class: "detail-history" },
      tracker.trail.map((p) =>
        make("li", {}, [
          make("time", { datetime: p.timestamp, text: dateFormat.format(new Date(p.timestamp)) }),
          make("span", { text: ` ${p.nearest_city || "Unknown place"}` }),
        ]),
      ),
    );
    const heading = make("h3", { text: `Recent reports (${tracker.trail.length}, newest first; the trail on the map)` });
    el.detailBody.replaceChildren(list, heading, tracker.trail.length ? history : make("p", { class: "muted", text: "No reports yet." }));
  }

  async function openDetail(id, opener) {
    if (detailRequest) detailRequest.abort();
    const request = new AbortController();
    detailRequest = request;
    detailOpener = opener || document.activeElement;
    el.detail.hidden = false;
    el.detail.dataset.trackerId = String(id);
    el.detailHeading.textContent = "Tracker";
    el.detailBody.replaceChildren(make("p", { class: "muted", text: "Loading the tracker…" }));
    el.detail.focus();
    try {
      const tracker = await getJSON(config.api.trackerDetail.replace("{id}", String(id)), request.signal);
      renderDetail(tracker);
      map.showTrail(tracker);
      announce(`Tracker ${tracker.serial} opened.`);
    } catch (error) {
      if (error.name === "AbortError") return;
      el.detailBody.replaceChildren(make("p", { class: "alert", text: `Could not load the tracker: ${error.message}` }));
    } finally {
      if (detailRequest === request) detailRequest = null;
    }
  }

  function closeDetail() {
    el.detail.hidden = true;
    map.showTrail(null);
    if (detailOpener && document.contains(detailOpener)) detailOpener.focus();
  }

  el.detailClose.addEventListener("click", closeDetail);
  el.detail.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeDetail();
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
