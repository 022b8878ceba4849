/* The run's index: summary numbers, charts, and a sortable, filterable table of its trees.
 * Filters and sort order live in the URL's #fragment, so the back button from a tree restores them. */
"use strict";
(function () {
  const JF = window.JF, D = JF.data();
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 1000; // rows drawn at once; a filter narrows a bigger run
  const state = { solved: "", journey: false, label: "invalid", min: 0, text: "", sort: "id", desc: false };

  function card(name, value) {
    return '<div class="card"><div class="v">' + JF.esc(value) + '</div><div class="k">' + JF.esc(name) + "</div></div>";
  }

  function summary() {
    const s = D.summary, r = D.run;
    $("run-name").textContent = r.name;
    document.title = "journeyforge view · " + r.name;
    $("run-meta").textContent = [r.round != null && "round " + r.round + (r.evolve != null ? " of evolve run " + r.evolve : ""),
      r.model != null && "grown by " + r.model + (r.model_sha256_short ? " (sha256 " + r.model_sha256_short + "…)" : ""),
      r.task && "task " + r.task, "explore run #" + r.explore_run_id + " (" + r.status + ")",
      r.created_at && "started " + r.created_at.slice(0, 19), "store " + r.store].filter(Boolean).join(" · ");
    let html = card("trees", s.trees) + card("finished", s.done) + card("solved", s.solved) + card("nodes", s.nodes) +
      card("largest tree", s.largest_tree + " nodes");
    for (const lab of D.labels) html += '<div class="card ' + JF.labelClass(lab) + '"><div class="v">' + JF.esc(s.labels[lab] || 0) +
      '</div><div class="k"><i class="dot"></i>' + JF.esc(lab) + "</div></div>";
    for (const k of D.kinds) html += card(k + " trajectories", s.trajectories[k] || 0);
    const st = r.stats || {};
    if (st.waves != null) html += card("waves", st.waves);
    if (st.generated_tokens != null) html += card("tokens generated", st.generated_tokens);
    if (st.seconds != null) html += card("explore seconds", st.seconds);
    if (st.rollouts) html += card("rollouts", st.rollouts);
    $("summary").innerHTML = html;
    $("plots").innerHTML = D.plots.map((p) => '<figure><img src="' + JF.esc(p.src) + '" alt="' + JF.esc(p.title) +
      '"><figcaption>' + JF.esc(p.title) + "</figcaption></figure>").join("");
    let extra = "";
    if (D.rounds.length) {
      extra += "<h2>Rounds of this evolve run</h2><table class=\"small\" id=\"rounds\"><tr><th>round</th><th>run</th><th>grown by</th>" +
        "<th>trees</th><th>solved</th><th>trees of the problems shown here</th></tr>" +
        D.rounds.map((x) => "<tr" + (x.shown ? ' class="here"' : "") + "><td>" + JF.esc(JF.fmt(x.round)) + "</td><td>" + JF.esc(x.run) +
          (x.shown ? ' <span class="meta">(this page)</span>' : "") + "</td><td><code>" + JF.esc(x.model == null ? "–" : x.model) + "</code>" +
          (x.model_sha256_short ? ' <span class="meta">sha256 ' + JF.esc(x.model_sha256_short) + "…</span>" : "") + "</td><td>" +
          JF.esc(x.trees) + "</td><td>" + JF.esc(x.solved) + "</td><td>" + JF.esc(x.linked) + "</td></tr>").join("") + "</table>";
    }
    if (D.evals.length) {
      extra += "<h2>Evaluation</h2><table class=\"small\"><tr><th>model</th><th>problems</th><th>correct</th><th>accuracy %</th><th>mean tokens</th></tr>" +
        D.evals.map((e) => "<tr><td>" + JF.esc(e.model) + "</td><td>" + JF.esc(e.problems) + "</td><td>" + JF.esc(e.correct) + "</td><td>" +
          JF.esc(e.accuracy) + "</td><td>" + JF.esc(e.mean_tokens) + "</td></tr>").join("") + "</table>";
    }
    if (D.export) {
      extra += "<h2>Export</h2><p class=\"meta\">" + JF.esc(D.export.dir) + "</p><p>" + Object.entries(D.export.configs)
        .map(([name, splits]) => "<code>" + JF.esc(name) + "</code> " + Object.entries(splits).map(([k, v]) => JF.esc(k) + ": " + JF.esc(JF.fmt(v))).join(", "))
        .join(" · ") + "</p>" + (D.export.stats_table ? "<pre>" + JF.esc(D.export.stats_table) + "</pre>" : "");
    }
    $("extra").innerHTML = extra;
  }

  const COLUMNS = [
    ["id", "tree", (t) => t.id],
    ["problem", "problem", (t) => t.problem.toLowerCase()],
    ["status", "status", (t) => t.status],
    ["nodes", "nodes", (t) => t.nodes],
    ["depth", "depth", (t) => t.depth],
    ["solved", "solved", (t) => (t.solved ? 1 : 0)],
    ["labels", "labels", (t) => t.labels[state.label] || 0],
    ["best_value", "best value", (t) => (t.best_value == null ? -Infinity : t.best_value)],
  ].concat(D.kinds.map((k) => ["kind:" + k, k, (t) => t.trajectories[k] || 0]))
    .concat(D.rounds.length ? [["rounds", "other rounds", (t) => t.rounds.filter((r) => r.solved).length]] : []);

  // The same problem's trees in the other rounds, linked (their pages are in this site).
  function otherRounds(t) {
    return t.rounds.map((r) => {
      const text = "round " + JF.esc(JF.fmt(r.round)) + (r.solved ? " ✓" : " ✗");
      return Number.isInteger(r.tree_id) ? '<a data-round-tree="' + JF.esc(r.tree_id) + '" href="trees/' + JF.esc(r.tree_id) + '.html">' + text + "</a>" : text;
    }).join(" · ");
  }

  function header() {
    $("trees").tHead.innerHTML = "<tr>" + COLUMNS.map(([key, name]) => '<th data-sort="' + JF.esc(key) + '"' +
      (state.sort === key ? ' class="' + (state.desc ? "desc" : "asc") + '"' : "") + ">" + JF.esc(name) + "</th>").join("") + "</tr>";
  }

  function labelBar(labels) {
    const total = Object.values(labels).reduce((a, b) => a + b, 0) || 1;
    const parts = D.labels.filter((l) => labels[l]).map((l) => '<i class="' + JF.labelClass(l) + '" style="width:' +
      JF.esc((100 * labels[l] / total).toFixed(1)) + '%"></i>').join("");
    const text = D.labels.filter((l) => labels[l]).map((l) => l + " " + labels[l]).join(", ");
    return '<span class="bar" title="' + JF.esc(text) + '">' + parts + '</span> <span class="meta">' + JF.esc(text) + "</span>";
  }

  function matches(t) {
    if (state.solved === "solved" && !t.solved) return false;
    if (state.solved === "unsolved" && t.solved) return false;
    if (state.journey && !t.trajectories.journey) return false;
    if (state.min > 0 && (t.labels[state.label] || 0) < state.min) return false;
    if (state.text) {
      const q = state.text.toLowerCase();
      if (!(t.problem.toLowerCase().includes(q) || t.key.toLowerCase().includes(q) || t.steps.toLowerCase().includes(q))) return false;
    }
    return true;
  }

  function draw() {
    const col = COLUMNS.find((c) => c[0] === state.sort) || COLUMNS[0];
    const key = col[2], sign = state.desc ? -1 : 1;
    const rows = D.trees.filter(matches).sort((a, b) => { const x = key(a), y = key(b); return x < y ? -sign : x > y ? sign : a.id - b.id; });
    header();
    $("trees").tBodies[0].innerHTML = rows.slice(0, MAX_ROWS).map((t) =>
      '<tr data-tree="' + JF.esc(t.id) + '" class="' + (t.solved ? "solved" : "unsolved") + '"><td><a href="trees/' + JF.esc(t.id) + '.html">' + JF.esc(t.id) +
      '</a></td><td class="problem-cell"><a href="trees/' + JF.esc(t.id) + '.html">' + JF.esc(t.problem.length > 160 ? t.problem.slice(0, 157) + "..." : t.problem) +
      '</a><div class="meta">' + JF.esc(t.key) + "</div></td><td>" + JF.esc(t.status) + "</td><td>" + JF.esc(t.nodes) + "</td><td>" + JF.esc(t.depth) +
      "</td><td>" + (t.solved ? '<span class="yes">yes</span>' : '<span class="no">no</span>') + "</td><td>" + labelBar(t.labels) +
      "</td><td>" + JF.esc(JF.fmt(t.best_value)) + "</td>" + D.kinds.map((k) => "<td>" + JF.esc(t.trajectories[k] || 0) + "</td>").join("") +
      (D.rounds.length ? "<td>" + otherRounds(t) + "</td>" : "") + "</tr>").join("");
    $("f-count").textContent = rows.length + " of " + D.trees.length + " trees";
    $("more").textContent = rows.length > MAX_ROWS ? "showing the first " + MAX_ROWS + "; narrow the filters to see the rest" : "";
    history.replaceState(null, "", "#" + new URLSearchParams(Object.entries(state).map(([k, v]) => [k, String(v)])).toString());
  }

  function restore() {
    const p = new URLSearchParams(location.hash.slice(1));
    for (const k of Object.keys(state)) {
      if (!p.has(k)) continue;
      const v = p.get(k);
      state[k] = typeof state[k] === "boolean" ? v === "true" : typeof state[k] === "number" ? Number(v) || 0 : v;
    }
    if (!D.labels.includes(state.label)) state.label = D.labels.includes("invalid") ? "invalid" : D.labels[0] || "";
    $("f-solved").value = state.solved;
    $("f-journey").checked = state.journey;
    $("f-min").value = state.min;
    $("f-text").value = state.text;
    $("f-label").innerHTML = D.labels.map((l) => "<option>" + JF.esc(l) + "</option>").join("");
    $("f-label").value = state.label;
  }

  summary();
  restore();
  $("f-solved").onchange = (e) => { state.solved = e.target.value; draw(); };
  $("f-journey").onchange = (e) => { state.journey = e.target.checked; draw(); };
  $("f-min").oninput = (e) => { state.min = Number(e.target.value) || 0; draw(); };
  $("f-label").onchange = (e) => { state.label = e.target.value; draw(); };
  let timer = null;
  $("f-text").oninput = (e) => { clearTimeout(timer); timer = setTimeout(() => { state.text = e.target.value.trim(); draw(); }, 150); };
  $("trees").tHead.onclick = (e) => {
    const th = e.target.closest("th");
    if (!th) return;
    if (state.sort === th.dataset.sort) state.desc = !state.desc;
    else { state.sort = th.dataset.sort; state.desc = th.dataset.sort !== "id" && th.dataset.sort !== "problem"; }
    draw();
  };
  draw();
  document.body.dataset.ready = "1";
})();
