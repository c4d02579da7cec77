/* The mapper view: renders the JSON of /mapper/api/... and refreshes it while the run is live. */
(function () {
  "use strict";
  var REFRESH_MS = 3000;
  var root = (document.currentScript && document.currentScript.src || "").replace(/\/static\/mapper\.js.*$/, "");
  var rootPath = new URL(root || location.origin + "/mapper", location.href).pathname.replace(/\/$/, "");
  var airflowBase = rootPath.replace(/\/mapper$/, "");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function num(v) { return v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US"); }
  function secs(v) {
    if (v === null || v === undefined) return "—";
    var s = Math.max(Math.round(v), 0);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + ("0" + (s % 60)).slice(-2) + " s";
    return Math.floor(s / 3600) + " h " + ("0" + Math.floor((s % 3600) / 60)).slice(-2) + " min";
  }
  function stat(key, label, value) {
    return el("div", { class: "stat" }, [el("div", { class: "k", text: label }), el("div", { class: "v", "data-field": key, text: value })]);
  }
  function api(method, path, body) {
    return fetch(airflowBase + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined
    }).then(function (r) { if (!r.ok) throw new Error(method + " " + path + ": HTTP " + r.status); return r; });
  }
  // The Airflow UI shows this page in a sandboxed iframe without "allow-modals": confirm() and alert() do nothing
  // there. A button asks on the page instead: the first click arms it ("Confirm: ..."), a second click within
  // ARM_MS sends the call. The state lives outside the DOM, so the refresh that re-renders the page keeps it.
  var ARM_MS = 10000, armed = {}, outcome = {};
  function action(label, call, what) {
    var id = call.method + " " + call.path;
    var isArmed = armed[id] && Date.now() - armed[id] < ARM_MS;
    var b = el("button", { type: "button", title: what, "data-action": label,
                           text: outcome[id] || (isArmed ? "Confirm: " + label : label) });
    b.addEventListener("click", function () {
      if (!(armed[id] && Date.now() - armed[id] < ARM_MS)) {
        armed[id] = Date.now(); b.textContent = "Confirm: " + label; return;
      }
      delete armed[id]; b.textContent = label + ": sending";
      api(call.method, call.path, call.body)
        .then(function () { outcome[id] = label + ": sent"; b.textContent = outcome[id]; })
        .catch(function (e) { outcome[id] = label + ": " + e.message; b.textContent = outcome[id]; });
    });
    return b;
  }
  function logLink(dagId, runId, group, c) {
    var href = airflowBase + "/dags/" + encodeURIComponent(dagId) + "/runs/" + encodeURIComponent(runId) +
      "/tasks/" + encodeURIComponent(group + ".load_chunk") + "/mapped/" + c.map_index;
    return el("a", { href: href, target: "_top", text: "log" });
  }
  function chunkTable(run, g) {
    var head = el("tr", {}, ["#", "Range", "State", "Try", "Rows", "Seconds", "Path", "", ""].map(function (h, i) {
      return el("th", { class: i === 4 || i === 5 ? "num" : "", text: h });
    }));
    var rows = g.chunk_rows.map(function (c) {
      var stop = null;
      if (c.state === "running") {
        var call = JSON.parse(JSON.stringify(g.rest.stop_chunk));
        call.path = call.path.replace("{map_index}", c.map_index).replace(/^\/api/, "/api");
        stop = action("Stop", call, "Stop " + c.label);
      }
      var rowsText = num(c.rows) + (c.state === "running" && c.rows_estimated ? " of ~" + num(c.rows_estimated) : "") +
        (c.rows_rolled_back ? " (" + num(c.rows_rolled_back) + " read, rolled back)" : "");
      return el("tr", { "data-chunk": String(c.map_index), "data-state": c.state }, [
        el("td", { text: String(c.map_index) }), el("td", { text: c.label }),
        el("td", {}, [el("span", { class: "badge " + c.state, "data-field": "chunk-state", text: c.state + (c.phase ? " (" + c.phase + ")" : c.progress_status === "stopped" && c.state !== "running" ? " (stopped)" : "") })]),
        el("td", { text: c.try_number === null || c.try_number === undefined ? "—" : String(c.try_number) }),
        el("td", { class: "num", "data-field": "chunk-rows", text: rowsText }),
        el("td", { class: "num", text: c.seconds === null || c.seconds === undefined ? "—" : c.seconds.toFixed(c.seconds < 10 ? 2 : 1) }),
        el("td", { text: c.path + (c.from_ledger ? " (ledger)" : "") }),
        el("td", {}, [logLink(run.dag_id, run.run_id, g.group, c)]), el("td", {}, [stop])
      ]);
    });
    return el("table", { class: "chunks" }, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }
  function groupCard(run, g) {
    var pct = g.rows.percent === null ? 0 : g.rows.percent;
    var ch = g.chunks, cnt = g.counters;
    var restText = Object.keys(g.rest).map(function (k) {
      var c = g.rest[k]; return "# " + k + "\n" + c.method + " " + c.path + "\n" + JSON.stringify(c.body);
    }).join("\n\n");
    var buttons = el("div", {}, [
      g.live ? action("Stop run", g.rest.stop_run, "Mark the run failed (stops every running chunk)") : null,
      g.status === "stopped" ? action("Resume run", g.rest.resume_after_run_stop, "Clear " + g.group + ".load_chunk with downstream") : null,
      g.status === "failed" ? action("Resume failed chunks", g.rest.resume_failed_chunks, "Clear the failed tasks with downstream") : null
    ]);
    return el("section", { class: "group", "data-group": g.group }, [
      el("div", { class: "group-head" }, [
        el("h2", { text: g.group }), el("span", { class: "badge " + g.status.split(" ")[0], "data-field": "status", text: g.status }),
        el("span", { class: "muted", text: (g.load_strategy || "") + " → " + (g.target_table || "") + (g.mapref ? "  (mapref " + g.mapref + ")" : "") })
      ]),
      el("div", { class: "bar " + g.status.split(" ")[0] }, [el("div", { style: "width:" + pct + "%" })]),
      el("div", { "data-field": "rows-line" }, [
        num(g.rows.so_far) + " of ~" + num(g.rows.estimated) + " rows" + (g.rows.percent === null ? "" : " (" + g.rows.percent + "%)")
      ]),
      el("div", { class: "stats" }, [
        stat("chunks-done", "chunks done", ch.done + " / " + ch.planned), stat("chunks-running", "running", String(ch.running)),
        stat("chunks-failed", "failed", String(ch.failed)), stat("chunks-waiting", "waiting", String(ch.waiting)),
        stat("rows-so-far", "rows so far", num(g.rows.so_far)), stat("rows-estimated", "estimated", num(g.rows.estimated)),
        stat("rows-per-s", "rows/s", num(g.rows.per_s)), stat("eta", "ETA", secs(g.rows.eta_s)),
        stat("inserted", "inserted", num(cnt.inserted)), stat("updated", "updated", num(cnt.updated)),
        stat("expired", "expired", num(cnt.expired)), stat("unchanged", "unchanged", num(cnt.unchanged)),
        stat("rejected", "rejected", num(cnt.rejected)), stat("deleted", "deleted", num(cnt.deleted)),
        stat("checkpoint-before", "checkpoint before", g.checkpoint.before || "—"),
        stat("checkpoint-after", "checkpoint after", g.checkpoint.after || "—")
      ]),
      buttons,
      chunkTable(run, g),
      el("details", {}, [el("summary", { text: "Stop and resume through the REST API" }), el("pre", { text: restText })])
    ]);
  }
  function showError(target, e) {
    target.replaceChildren(el("p", { class: "error", "data-field": "error", text: e.message }));
  }
  function load(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + (r.status === 403 ? ": you may not read this DAG's runs" : ""));
      return r.json();
    });
  }
  function runPage() {
    var parts = location.pathname.split("/runs/")[1].split("/");
    var dagId = decodeURIComponent(parts[0]), runId = decodeURIComponent(parts.slice(1).join("/"));
    var target = document.getElementById("groups");
    function tick() {
      load(rootPath + "/api/dags/" + encodeURIComponent(dagId) + "/runs/" + encodeURIComponent(runId)).then(function (run) {
        document.getElementById("run-title").textContent = run.dag_id + " / " + run.run_id;
        var st = document.getElementById("run-state"); st.textContent = run.state; st.className = "badge " + run.state;
        document.getElementById("refreshed").textContent = run.live ? "live, refreshed " + new Date().toLocaleTimeString() : "";
        document.body.setAttribute("data-live", run.live ? "true" : "false");
        target.replaceChildren.apply(target, run.groups.length ? run.groups.map(function (g) { return groupCard(run, g); })
          : [el("p", { class: "muted", text: "No MapperOperator in this run." })]);
        if (run.live) setTimeout(tick, REFRESH_MS);
      }).catch(function (e) { showError(target, e); });
    }
    tick();
  }
  function runsPage() {
    var body = document.querySelector("#runs tbody");
    load(rootPath + "/api/runs?limit=50").then(function (data) {
      body.replaceChildren.apply(body, data.runs.map(function (r) {
        var s = r.summary || {};
        var href = airflowBase + "/dags/" + encodeURIComponent(r.dag_id) + "/runs/" + encodeURIComponent(r.run_id) + "/plugin/mapper_run";
        return el("tr", { "data-run": r.run_id }, [
          el("td", { text: r.dag_id }), el("td", {}, [el("a", { href: href, target: "_top", text: r.run_id })]),
          el("td", { text: r.group }), el("td", {}, [el("span", { class: "badge " + r.state, text: r.state })]),
          el("td", { text: s.status || "—" }), el("td", { class: "num", text: num(s.rows_read) }),
          el("td", { class: "num", text: num(s.rows_inserted) }), el("td", { class: "num", text: num(s.rows_updated) }),
          el("td", { class: "num", text: s.chunks_planned === undefined ? "—" : s.chunks_succeeded + " / " + s.chunks_planned }),
          el("td", { text: r.start_date ? new Date(r.start_date).toLocaleString() : "—" })
        ]);
      }));
      if (!data.runs.length) body.replaceChildren(el("tr", {}, [el("td", { colspan: "10", class: "muted", text: "No mapper runs yet." })]));
    }).catch(function (e) { body.replaceChildren(el("tr", {}, [el("td", { colspan: "10", class: "error", text: e.message })])); });
  }
  window.MapperView = { runPage: runPage, runsPage: runsPage };
})();
