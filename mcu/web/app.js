/*
 * MCU control room — the page a district-hall operator uses to run the conference.
 *
 * Plain JS, no build step, same-origin only. Contract: docs of the control API v1
 * (REST under /api/v1, SSE on /api/v1/events). The token comes from ?access_token=
 * in the page URL: fetches send it as "Authorization: Bearer", <img> and EventSource
 * carry it as a query parameter.
 *
 * State is one object (`S`) filled from the SSE `hello` event and patched by the
 * later events and by the API's answers; render functions redraw from it. All
 * user-controlled text (site names, labels) goes through textContent.
 *
 * Stable hooks for tests: #conn ("live" once the stream is up), #preview,
 * [data-slot=N] (drop target, data-showing=ID, .slot-name), [data-slot-mode=N],
 * [data-layout=NAME], [data-site-id=ID] (draggable card), [data-action=...].
 */
(function () {
  "use strict";

  var TOKEN = new URLSearchParams(location.search).get("access_token") || "";
  var API = "/api/v1";
  var MODES = ["auto", "site", "loudest", "rolling", "blank"];
  var LOG_MAX = 50;

  var S = {
    conf: null,        // last conference object (name, profiles, ...)
    layout: null,      // Layout
    slots: [],         // [Slot]
    sites: new Map(),  // id -> Site (kept in conference order)
    speaker: null,     // active speaker id
    settings: null,
    presets: [],       // from GET /layouts
  };

  var $ = function (id) { return document.getElementById(id); };

  /* ---------- small helpers ---------- */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function withToken(url) {
    return url + (url.indexOf("?") < 0 ? "?" : "&") + "access_token=" + encodeURIComponent(TOKEN);
  }

  function siteName(id) {
    if (id == null) return "";
    var s = S.sites.get(id);
    return s ? (s.label || s.name || id) : id;
  }

  function toast(msg, kind) {
    var t = el("div", "toast " + (kind || "error"), msg);
    $("toasts").appendChild(t);
    setTimeout(function () { t.classList.add("gone"); }, 4000);
    setTimeout(function () { t.remove(); }, 4500);
  }

  /* fetch wrapper: bearer header, JSON in and out, API errors become toasts. */
  function api(method, path, body) {
    var opt = { method: method, headers: { Authorization: "Bearer " + TOKEN } };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    return fetch(API + path, opt).then(function (r) {
      return r.text().then(function (txt) {
        var data = null;
        try { data = txt ? JSON.parse(txt) : null; } catch (e) { /* not JSON */ }
        if (!r.ok) {
          var err = data && data.error;
          var msg = err ? err.code + ": " + err.message : "HTTP " + r.status;
          throw new Error(msg);
        }
        return data;
      });
    }).catch(function (e) {
      toast(method + " " + path + " — " + e.message);
      throw e;
    });
  }

  function fmtKbps(bps) {
    return bps == null ? "–" : Math.round(bps / 1000) + " kbps";
  }

  /* loss is a fraction 0..1 (as in RTCP); shown as a percentage */
  function fmtLoss(loss) {
    return loss == null ? "–" : (loss * 100).toFixed(loss > 0 && loss < 0.1 ? 1 : 0) + "%";
  }

  function levelPct(dbfs) {
    if (dbfs == null || !isFinite(dbfs)) return 0;
    return Math.max(0, Math.min(100, (dbfs + 60) / 60 * 100));
  }

  var STATE_TEXT = { live: "live", no_signal: "no signal", waiting: "waiting" };

  /* ---------- slot diagram over the preview ---------- */

  var slotEls = [], slotKey = "";   // rebuilt only when the geometry changes

  function renderSlots() {
    var box = $("slots");
    var cells = (S.layout && S.layout.cells) || [];
    var key = JSON.stringify(cells);
    if (key !== slotKey) {
      slotKey = key;
      box.textContent = "";
      slotEls = cells.map(function (c, i) { return buildSlot(box, c, i); });
    }
    slotEls.forEach(function (x, i) {
      var slot = S.slots[i] || { index: i, mode: "auto", site: null, showing: null };
      x.slot = slot;
      x.d.className = "slot mode-" + slot.mode +
        (slot.showing && slot.showing === S.speaker ? " speaking" : "");
      x.d.dataset.showing = slot.showing || "";
      x.name.textContent = slot.showing ? siteName(slot.showing) : "—";
      x.d.title = "Slot " + i + " · " + slot.mode + (slot.showing ? " · " + siteName(slot.showing) : "");
      x.pinOpt.textContent = slot.site ? "site (pinned)" : "site";
      x.pinOpt.title = slot.site ? "pinned: " + siteName(slot.site) : "pin the site on screen now";
      if (document.activeElement !== x.sel) x.sel.value = slot.mode;
    });
  }

  function buildSlot(box, c, i) {
    var x = {};
    var d = x.d = el("div", "slot");
    d.dataset.slot = String(i);
    d.style.left = c.x * 100 + "%";
    d.style.top = c.y * 100 + "%";
    d.style.width = c.w * 100 + "%";
    d.style.height = c.h * 100 + "%";

    var bar = el("div", "slot-bar");
    bar.appendChild(el("span", "slot-idx", String(i)));
    var sel = x.sel = el("select", "slot-mode");
    sel.dataset.slotMode = String(i);
    sel.title = "Slot " + i + " mode";
    MODES.forEach(function (m) {
      var o = el("option", null, m);
      o.value = m;
      if (m === "site") x.pinOpt = o;
      sel.appendChild(o);
    });
    sel.addEventListener("change", function () {
      var m = sel.value, slot = x.slot;
      sel.blur();
      if (m !== "site") { putSlot(i, { mode: m }); return; }
      var id = slot.site || slot.showing;
      if (!id) { toast("Drag a site card onto slot " + i + " to pin it"); sel.value = slot.mode; return; }
      putSlot(i, { mode: "site", site: id });
    });
    bar.appendChild(sel);
    d.appendChild(bar);
    x.name = el("div", "slot-name");
    d.appendChild(x.name);

    d.addEventListener("dragover", function (e) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      d.classList.add("drop");
    });
    d.addEventListener("dragleave", function (e) {
      if (!d.contains(e.relatedTarget)) d.classList.remove("drop");
    });
    d.addEventListener("drop", function (e) {
      e.preventDefault();
      d.classList.remove("drop");
      var id = e.dataTransfer.getData("text/plain");
      if (!S.sites.has(id)) { toast("Not a site: " + id); return; }
      putSlot(i, { mode: "site", site: id });
    });
    box.appendChild(d);
    return x;
  }

  // The answer carries the operator's choice (mode, pinned site) at once; who is
  // showing changes only at the daemon's next tick, and the "slots" event says so. That
  // event may arrive before this answer, so the answer never overwrites "showing".
  function putSlot(i, body) {
    api("PUT", "/slots/" + i, body).then(function (slot) {
      if (slot && typeof slot.index === "number") {
        var cur = S.slots[slot.index];
        S.slots[slot.index] = cur
          ? Object.assign({}, cur, { mode: slot.mode, site: slot.site })
          : slot;
        recomputeSiteSlots();
        renderSlots();
        renderSites();
      }
    }).catch(function () { renderSlots(); });
  }

  /* ---------- layout picker ---------- */

  function miniature(cells) {
    var m = el("div", "mini");
    (cells || []).forEach(function (c) {
      var d = el("div", "mini-cell");
      d.style.left = c.x * 100 + "%";
      d.style.top = c.y * 100 + "%";
      d.style.width = c.w * 100 + "%";
      d.style.height = c.h * 100 + "%";
      m.appendChild(d);
    });
    return m;
  }

  function renderLayouts() {
    var box = $("layouts");
    box.textContent = "";
    var auto = el("button", "layout-btn");
    auto.type = "button";
    auto.dataset.layout = "auto";
    var am = el("div", "mini mini-auto", "A");
    auto.appendChild(am);
    auto.appendChild(el("span", "layout-name", "auto"));
    auto.title = "Automatic: the layout follows the number of live sites";
    box.appendChild(auto);
    S.presets.forEach(function (p) {
      var b = el("button", "layout-btn");
      b.type = "button";
      b.dataset.layout = p.name;
      b.title = p.name + " — " + p.slots + " slots";
      b.appendChild(miniature(p.cells));
      b.appendChild(el("span", "layout-name", p.name.replace("speaker", "spk")));
      box.appendChild(b);
    });
    box.querySelectorAll("[data-layout]").forEach(function (b) {
      b.addEventListener("click", function () {
        api("PUT", "/layout", { preset: b.dataset.layout }).then(applyLayoutEvent).catch(function () {});
      });
    });
    markLayout();
  }

  function markLayout() {
    var L = S.layout;
    document.querySelectorAll("#layouts [data-layout]").forEach(function (b) {
      var name = b.dataset.layout;
      var on = !!L && (name === "auto" ? !!L.auto : (!L.auto && L.preset === name));
      b.classList.toggle("active", on);
      b.classList.toggle("current", !!L && L.auto && L.preset === name);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    $("layout-current").textContent = L
      ? (L.auto ? "auto → " : "") + L.preset + " · " + L.slots + " slots" : "";
  }

  function applyLayoutEvent(ev) {
    if (!ev) return;
    if (ev.layout) S.layout = ev.layout;
    if (ev.slots) S.slots = ev.slots;
    recomputeSiteSlots();
    markLayout();
    renderSlots();
    renderSites();
  }

  /* ---------- site cards ---------- */

  var cards = new Map();   // id -> {root, parts...}

  function recomputeSiteSlots() {
    S.sites.forEach(function (s) { s.slots = []; });
    S.slots.forEach(function (sl, i) {
      var s = sl && sl.showing && S.sites.get(sl.showing);
      if (s) s.slots.push(i);
    });
  }

  function buildCard(site) {
    var c = {};
    var root = c.root = el("div", "card");
    root.dataset.siteId = site.id;
    root.draggable = true;
    root.addEventListener("dragstart", function (e) {
      e.dataTransfer.setData("text/plain", site.id);
      e.dataTransfer.effectAllowed = "move";
      root.classList.add("dragging");
    });
    root.addEventListener("dragend", function () { root.classList.remove("dragging"); });

    var thumb = el("div", "thumb");
    c.img = el("img");
    c.img.alt = "";
    c.img.draggable = false;
    c.img.addEventListener("load", function () { thumb.classList.remove("nopic"); c.busy = false; });
    c.img.addEventListener("error", function () { thumb.classList.add("nopic"); c.busy = false; });
    thumb.classList.add("nopic");
    thumb.appendChild(c.img);
    c.nopic = el("span", "nopic-text", "no picture");
    thumb.appendChild(c.nopic);
    c.onscreen = el("span", "onscreen");
    thumb.appendChild(c.onscreen);
    root.appendChild(thumb);

    var body = el("div", "card-body");
    var head = el("div", "card-head");
    c.name = el("span", "card-name");
    c.name.title = "Double-click to rename";
    c.name.addEventListener("dblclick", function () { startRename(site.id, c); });
    c.state = el("span", "state");
    head.appendChild(c.name);
    head.appendChild(c.state);
    body.appendChild(head);

    var meter = el("div", "meter");
    c.meter = el("div", "meter-fill");
    meter.appendChild(c.meter);
    body.appendChild(meter);

    c.stats = el("div", "card-stats");
    body.appendChild(c.stats);
    c.problem = el("div", "card-problem");
    body.appendChild(c.problem);

    var btns = el("div", "card-btns");
    c.aBtn = el("button", "btn small", "Mic");
    c.aBtn.type = "button";
    c.aBtn.dataset.action = "audio-mute";
    c.aBtn.addEventListener("click", function () { toggleMute(site.id, "audio_muted"); });
    c.vBtn = el("button", "btn small", "Cam");
    c.vBtn.type = "button";
    c.vBtn.dataset.action = "video-mute";
    c.vBtn.addEventListener("click", function () { toggleMute(site.id, "video_muted"); });
    var rn = el("button", "btn small ghost", "Edit");
    rn.title = "Rename (the label on the tile; empty restores the configured name)";
    rn.type = "button";
    rn.dataset.action = "rename";
    rn.addEventListener("click", function () { startRename(site.id, c); });
    btns.appendChild(c.aBtn);
    btns.appendChild(c.vBtn);
    btns.appendChild(rn);
    body.appendChild(btns);
    root.appendChild(body);
    return c;
  }

  function updateCard(site) {
    var c = cards.get(site.id);
    if (!c) return;
    if (!c.renaming) c.name.textContent = site.label || site.name;
    c.name.title = site.name + " (" + site.id + ") — double-click to rename";
    /* What keeps the site's media from being taken ("unsupported codec: H.265") says
     * more than "no signal": it takes the state's place while nothing is shown. */
    var problem = (site.video && site.video.problem) || (site.audio && site.audio.problem) || "";
    var down = site.state !== "live";
    c.state.textContent = down && problem ? problem : STATE_TEXT[site.state] || site.state || "?";
    c.state.title = c.state.textContent;
    c.state.className = "state st-" + (down && problem ? "problem" : site.state || "unknown");
    c.nopic.textContent = down && problem ? problem : "no picture";
    c.problem.textContent = !down && problem ? problem : "";
    c.root.classList.toggle("talking", !!site.talking && !site.audio_muted);
    c.root.classList.toggle("speaker", site.id === S.speaker);
    c.root.classList.toggle("down", site.state !== "live");
    c.meter.style.width = (site.audio_muted ? 0 : levelPct(site.audio_level_dbfs)) + "%";
    var v = site.video || {};
    c.stats.textContent = fmtKbps(v.bitrate_in_bps) + " · loss " + fmtLoss(v.loss);
    c.stats.title = "video in " + fmtKbps(v.bitrate_in_bps) + ", " + (v.fps != null ? Math.round(v.fps) : "–") +
      " fps, loss " + fmtLoss(v.loss) + (site.bitrate_out_bps != null ? "; out " + fmtKbps(site.bitrate_out_bps) : "");
    c.aBtn.classList.toggle("muted", !!site.audio_muted);
    c.aBtn.textContent = site.audio_muted ? "Mic off" : "Mic";
    c.aBtn.title = site.audio_muted ? "Unmute audio" : "Mute audio";
    c.vBtn.classList.toggle("muted", !!site.video_muted);
    c.vBtn.textContent = site.video_muted ? "Cam off" : "Cam";
    c.vBtn.title = site.video_muted ? "Show video" : "Hide video";
    var sl = site.slots || [];
    c.onscreen.textContent = sl.length ? "slot " + sl.join(",") : "";
  }

  function renderSites() {
    var box = $("sites");
    S.sites.forEach(function (site, id) {
      if (!cards.has(id)) {
        var c = buildCard(site);
        cards.set(id, c);
        box.appendChild(c.root);
        refreshSnapshot(id, c);
      }
      updateCard(site);
    });
    cards.forEach(function (c, id) {
      if (!S.sites.has(id)) { c.root.remove(); cards.delete(id); }
    });
    var live = 0;
    S.sites.forEach(function (s) { if (s.state === "live") live++; });
    $("site-count").textContent = live + " live / " + S.sites.size;
    $("speaker-now").textContent = S.speaker ? siteName(S.speaker) : "—";
  }

  function refreshSnapshot(id, c) {
    if (c.busy) return;
    c.busy = true;
    c.img.src = withToken(API + "/sites/" + encodeURIComponent(id) + "/snapshot.jpg?width=160&t=" + Date.now());
  }

  function toggleMute(id, field) {
    var s = S.sites.get(id);
    if (!s) return;
    var body = {};
    body[field] = !s[field];
    api("PUT", "/sites/" + encodeURIComponent(id), body).then(mergeSite).catch(function () {});
  }

  function startRename(id, c) {
    if (c.renaming) return;
    var s = S.sites.get(id);
    c.renaming = true;
    var input = el("input", "rename");
    input.value = s.label || s.name;
    input.placeholder = s.name;
    c.name.replaceWith(input);
    input.focus();
    input.select();
    var done = false;
    function finish(save) {
      if (done) return;
      done = true;
      c.renaming = false;
      input.replaceWith(c.name);
      if (save && input.value.trim() !== (s.label || s.name)) {
        api("PUT", "/sites/" + encodeURIComponent(id), { label: input.value.trim() })
          .then(mergeSite).catch(function () {});
      }
      updateCard(S.sites.get(id) || s);
    }
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter") finish(true);
      else if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", function () { finish(true); });
  }

  function mergeSite(patch) {
    if (!patch || !patch.id) return;
    var s = S.sites.get(patch.id);
    if (!s) return;
    Object.keys(patch).forEach(function (k) {
      if (k === "video" && s.video) Object.assign(s.video, patch.video);
      else if (k !== "slots") s[k] = patch[k];
    });
    updateCard(s);
    if (patch.label !== undefined) renderSlots();
  }

  /* ---------- settings ---------- */

  function renderSettings() {
    var f = $("settings");
    if (!S.settings) return;
    ["hold_ms", "rolling_interval_ms"].forEach(function (k) {
      if (document.activeElement !== f.elements[k]) f.elements[k].value = S.settings[k];
    });
    f.elements.pinned_in_loudest.checked = !!S.settings.pinned_in_loudest;
  }

  function initSettings() {
    var f = $("settings");
    f.addEventListener("submit", function (e) { e.preventDefault(); });
    f.addEventListener("change", function (e) {
      var t = e.target, body = {};
      if (t.type === "checkbox") body[t.name] = t.checked;
      else {
        var n = Number(t.value);
        if (t.value === "" || !isFinite(n) || n < 0) { toast(t.name + ": must be a number ≥ 0"); renderSettings(); return; }
        body[t.name] = Math.round(n);
      }
      api("PUT", "/settings", body).then(function (st) {
        S.settings = st;
        renderSettings();
      }).catch(function () { renderSettings(); });
    });
    $("keyframe").addEventListener("click", function () {
      api("POST", "/keyframe").then(function () { toast("Keyframe requested", "info"); }).catch(function () {});
    });
  }

  /* ---------- event log ---------- */

  function logEvent(kind, text) {
    var li = el("li", "log-" + kind);
    var d = new Date();
    var pad = function (n) { return String(n).padStart(2, "0"); };
    li.appendChild(el("time", null, pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds())));
    li.appendChild(el("span", "log-kind", kind));
    li.appendChild(el("span", "log-text", text));
    var log = $("log");
    log.insertBefore(li, log.firstChild);
    while (log.children.length > LOG_MAX) log.lastChild.remove();
  }

  function describeOperator(ev) {
    var d = ev.detail || {};
    switch (ev.action) {
      case "layout": return "layout → " + (d.preset || (d.regions ? d.regions.length + " custom regions" : "?"));
      case "slot": return "slot " + ev.target + " → " + (d.mode || "?") + (d.site ? " " + siteName(d.site) : "");
      case "site": return siteName(ev.target) + ": " + Object.keys(d).map(function (k) {
        return k + "=" + JSON.stringify(d[k]);
      }).join(", ");
      case "settings": return "settings: " + JSON.stringify(d);
      case "keyframe": return "keyframe requested";
      default: return (ev.action || "?") + " " + (ev.target || "") + " " + JSON.stringify(d);
    }
  }

  /* ---------- SSE ---------- */

  var es = null;

  function setConn(state) {
    var c = $("conn");
    c.textContent = state === "live" ? "live" : state === "off" ? "offline" : "connecting…";
    c.className = "conn conn-" + state;
  }

  function parse(e) {
    try { return JSON.parse(e.data); } catch (x) { return null; }
  }

  function onHello(conf) {
    S.conf = conf;
    S.layout = conf.layout;
    S.slots = conf.slots || [];
    S.speaker = conf.active_speaker || null;
    S.settings = conf.settings || null;
    S.sites = new Map();
    (conf.sites || []).forEach(function (s) { S.sites.set(s.id, s); });
    $("conf-name").textContent = conf.name || "";
    var p = (conf.profiles || [])[0];
    if (p && p.width && p.height) $("stage").style.aspectRatio = p.width + " / " + p.height;
    recomputeSiteSlots();
    renderSites();
    renderSlots();
    markLayout();
    renderSettings();
    setConn("live");
  }

  function connect() {
    if (es) es.close();
    setConn("wait");
    es = new EventSource(withToken(API + "/events"));
    es.addEventListener("hello", function (e) { var d = parse(e); if (d) onHello(d); });
    es.addEventListener("layout", function (e) { applyLayoutEvent(parse(e)); });
    es.addEventListener("slots", function (e) {
      var d = parse(e);
      if (d && d.slots) applyLayoutEvent({ slots: d.slots });
    });
    es.addEventListener("talker", function (e) {
      var d = parse(e);
      if (!d) return;
      S.speaker = d.site || null;
      S.sites.forEach(function (s) { s.active_speaker = s.id === S.speaker; updateCard(s); });
      renderSlots();
      $("speaker-now").textContent = S.speaker ? siteName(S.speaker) : "—";
      logEvent("talker", S.speaker ? siteName(S.speaker) + " speaking" : "nobody speaking");
    });
    es.addEventListener("site", function (e) {
      var d = parse(e);
      if (!d) return;
      mergeSite(d);
      renderSites();
      logEvent("site", siteName(d.id) + " " + (STATE_TEXT[d.state] || d.state));
    });
    es.addEventListener("stats", function (e) {
      var d = parse(e);
      if (d && d.sites) d.sites.forEach(mergeSite);
    });
    es.addEventListener("operator", function (e) {
      var d = parse(e);
      if (!d) return;
      if (d.action === "site" && d.detail) mergeSite(Object.assign({ id: d.target }, d.detail));
      if (d.action === "settings" && d.detail && S.settings) {
        Object.assign(S.settings, d.detail);
        renderSettings();
      }
      logEvent("operator", describeOperator(d));
    });
    es.addEventListener("error", function () {
      if (es.readyState === EventSource.CLOSED) {
        setConn("off");            // e.g. 401: the browser gives up, so retry ourselves
        setTimeout(connect, 3000);
      } else {
        setConn("wait");           // the browser reconnects by itself
      }
    });
  }

  /* ---------- images ---------- */

  function startPreview() {
    var img = $("preview"), started = 0;
    function next() {
      started = Date.now();
      img.src = withToken(API + "/preview.jpg?width=640&t=" + started);
    }
    function again() { setTimeout(next, Math.max(0, 500 - (Date.now() - started))); }
    img.addEventListener("load", function () { $("stage").classList.remove("nopic"); again(); });
    img.addEventListener("error", function () { $("stage").classList.add("nopic"); setTimeout(next, 1000); });
    next();
  }

  function startSnapshots() {
    setInterval(function () {
      if (document.hidden) return;
      cards.forEach(function (c, id) { refreshSnapshot(id, c); });
    }, 2000);
  }

  /* ---------- boot ---------- */

  function boot() {
    initSettings();
    api("GET", "/layouts").then(function (d) {
      S.presets = (d && d.presets) || [];
      renderLayouts();
    }).catch(function () { renderLayouts(); });
    renderLayouts();
    connect();
    startPreview();
    startSnapshots();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
