/* One search tree: drawn left to right (one row per visible leaf, a parent halfway between its first
 * and last child), coloured by label, collapsible; the shortcut path highlighted, the journey's visit
 * order numbered on its nodes; a clicked node's details and rollouts, and the tree's trajectories,
 * beside it.
 *
 * Speed: a tree of a few thousand nodes is drawn as ONE innerHTML string (the browser parses it in
 * one go, far faster than creating elements one by one) and events are handled by delegation on the
 * <svg>; selecting a node changes two class attributes, never redraws. */
"use strict";
(function () {
  const T0 = performance.now();
  const JF = window.JF, T = JF.data();
  const $ = (id) => document.getElementById(id);
  const COLW = 215, ROWH = 26, PAD = 28, TEXT_CHARS = 30;

  const byId = new Map(), kids = new Map();
  let root = null;
  for (const n of T.nodes) {
    byId.set(n.id, n);
    kids.set(n.id, []);
  }
  for (const n of T.nodes) { // nodes come in creation order, so children stay in creation order
    if (n.parent_id == null || !byId.has(n.parent_id)) { if (root == null) root = n.id; } else kids.get(n.parent_id).push(n.id);
  }
  const size = new Map(); // nodes in each subtree, for "+N" on collapsed nodes
  for (let i = T.nodes.length - 1; i >= 0; i--) {
    const id = T.nodes[i].id;
    size.set(id, 1 + kids.get(id).reduce((a, k) => a + size.get(k), 0));
  }
  const solvedBelow = new Set(); // nodes with a solution in their subtree
  for (const n of T.nodes) if (n.label === "solution") for (let p = n.id; p != null && !solvedBelow.has(p); p = byId.get(p).parent_id) solvedBelow.add(p);

  const highlight = new Set(T.shortcut.node_ids);
  let numbering = new Map(); // node id -> "3" or "3,7": its place(s) in the numbered trajectory
  let numberedBy = null;
  const collapsed = new Set();
  let depthLimit = null, selected = null;
  const pos = new Map();

  function setNumbering(traj) {
    numbering = new Map();
    numberedBy = traj ? traj.kind + " #" + traj.idx : null;
    if (!traj) return;
    traj.node_ids.forEach((id, i) => numbering.set(id, numbering.has(id) ? numbering.get(id) + "," + (i + 1) : String(i + 1)));
  }

  function visibleKids(id) {
    if (collapsed.has(id) || (depthLimit != null && byId.get(id).depth >= depthLimit)) return [];
    return kids.get(id);
  }

  function layout() {
    pos.clear();
    let row = 0, maxDepth = 0;
    const place = (id) => {
      const ks = visibleKids(id), d = byId.get(id).depth;
      maxDepth = Math.max(maxDepth, d);
      let y;
      if (!ks.length) y = row++;
      else {
        for (const k of ks) place(k);
        y = (pos.get(ks[0]).r + pos.get(ks[ks.length - 1]).r) / 2;
      }
      pos.set(id, { r: y, x: PAD + d * COLW, y: PAD + 14 + y * ROWH });
    };
    if (root != null) place(root);
    return { rows: row, maxDepth };
  }

  function short(text) {
    text = (text || "").replace(/\s+/g, " ").trim();
    return text.length > TEXT_CHARS ? text.slice(0, TEXT_CHARS - 1) + "…" : text;
  }

  // Only the rows in and near the viewport are in the DOM (plus the highlighted, numbered and
  // selected nodes, always): drawing a 4,096-node tree whole took about a second of parsing and
  // SVG text layout; a window of rows takes a few milliseconds whatever the tree's size.
  let drawn = null; // [first row, last row] of the window drawn last

  function rowWindow() {
    const c = $("canvas"), rows = Math.ceil(c.clientHeight / ROWH) || 40;
    const first = Math.floor((c.scrollTop - PAD) / ROWH);
    return [first - rows, first + 2 * rows];
  }

  function drawWindow(force) {
    const [lo, hi] = rowWindow();
    if (!force && drawn && lo >= drawn[0] && hi <= drawn[1]) return;
    const margin = Math.round((hi - lo) / 3);
    drawn = [lo - margin, hi + margin];
    const [a, b] = drawn;
    const edges = [], hlEdges = [], nodes = [];
    for (const [id, p] of pos) {
      const n = byId.get(id), always = highlight.has(id) || numbering.has(id) || id === selected;
      if (n.parent_id != null && pos.has(n.parent_id)) {
        const q = pos.get(n.parent_id);
        if (Math.max(p.r, q.r) >= a && Math.min(p.r, q.r) <= b || always) {
          (highlight.has(id) ? hlEdges : edges).push("M" + q.x + " " + q.y + "V" + p.y + "H" + (p.x - 6));
        }
      }
      if (!always && (p.r < a || p.r > b)) continue;
      const hidden = kids.get(id).length && !visibleKids(id).length ? size.get(id) - 1 : 0;
      const cls = "n " + JF.labelClass(n.label) + (highlight.has(id) ? " hl" : "") + (id === selected ? " sel" : "") +
        (n.first_error ? " fe" : "");
      const num = numbering.get(id);
      nodes.push('<g class="' + cls + '" data-id="' + JF.esc(id) + '" transform="translate(' + JF.esc(p.x) + "," + JF.esc(p.y) + ')"><circle r="6"></circle>' +
        '<text x="9" y="-7">' + (num ? '<tspan class="ord">' + JF.esc(num) + "</tspan> " : "") +
        JF.esc(n.parent_id == null ? "problem" : short(n.text)) + "</text>" +
        (hidden ? '<text class="more" x="10" y="4">▸ +' + JF.esc(hidden) + "</text>" : "") + "</g>");
    }
    $("tree").innerHTML = '<path class="edge" d="' + edges.join("") + '"></path><path class="edge hl" d="' + hlEdges.join("") + '"></path>' + nodes.join("");
  }

  function draw() {
    const { rows, maxDepth } = layout();
    const svg = $("tree");
    svg.setAttribute("width", PAD * 2 + (maxDepth + 1) * COLW);
    svg.setAttribute("height", PAD * 2 + 14 + Math.max(rows, 1) * ROWH);
    drawWindow(true);
  }

  function kv(name, value) {
    return value == null || value === "" ? "" : "<tr><th>" + JF.esc(name) + "</th><td>" + JF.esc(value) + "</td></tr>";
  }

  function pathTo(id) {
    const out = [];
    // bounded: parent ids that a store got wrong could form a cycle
    for (let p = id; p != null && byId.has(p) && out.length <= T.nodes.length; p = byId.get(p).parent_id) out.push(p);
    return out.reverse();
  }

  function showDetails(id) {
    const n = byId.get(id);
    const rollouts = T.rollouts[String(id)] || [];
    const right = rollouts.filter((r) => r.is_correct).length;
    let html = '<h2>node <span id="node-id">' + JF.esc(id) + '</span> <span id="node-label" class="badge ' + JF.labelClass(n.label) + '">' +
      JF.esc(n.label) + "</span>" + (highlight.has(id) ? ' <span class="badge hlb">on the highlighted path</span>' : "") +
      (numbering.has(id) ? ' <span class="badge ordb">' + JF.esc(numberedBy) + " step " + JF.esc(numbering.get(id)) + "</span>" : "") + "</h2>" +
      '<div id="node-text" class="step">' + (n.parent_id == null ? JF.mathHTML(T.problem.text) : JF.mathHTML(n.text)) + "</div>" +
      '<table class="kv">' + kv("reason", n.reason) + kv("depth", n.depth) + kv("seq (creation order)", n.seq) + kv("value", JF.fmt(n.value)) +
      kv("visits", n.visits) + kv("logprob", n.logprob == null ? null : JF.fmt(n.logprob)) + kv("reward", n.reward) +
      kv("Monte-Carlo value", n.mc_value) + kv("Monte-Carlo hard", n.mc_hard) + kv("identical samples", n.count > 1 ? n.count : null) +
      kv("expansions", n.expansions) + kv("finish reason", n.finish_reason) + kv("first error on its path", n.first_error ? "yes" : null) +
      kv("state after the step", n.state) + kv("children", kids.get(id).length) + "</table>";
    if (kids.get(id).length) html += '<button id="toggle-node">' + (collapsed.has(id) ? "expand" : "collapse") + " this subtree (" + JF.esc(size.get(id) - 1) + " nodes)</button>";
    const path = pathTo(id).slice(1);
    if (path.length) {
      html += "<h3>path from the root</h3><ol class=\"path\">" + path.map((p) => '<li class="' + JF.labelClass(byId.get(p).label) +
        '"><a data-go="' + JF.esc(p) + '">' + JF.mathHTML(byId.get(p).text) + "</a></li>").join("") + "</ol>";
    }
    if (rollouts.length) {
      html += "<h3>rollouts: " + JF.esc(right) + " of " + JF.esc(rollouts.length) + " reached the answer</h3>" + rollouts.map((r) =>
        '<details class="rollout ' + (r.is_correct ? "ok" : "bad") + '"><summary>#' + JF.esc(r.idx) + " " + (r.is_correct ? "✓ correct" : "✗ wrong") +
        ", answer <code>" + JF.esc(r.answer == null ? "none" : r.answer) + "</code>, " + JF.esc(JF.fmt(r.n_tokens)) + " tokens" +
        (r.finish_reason ? ", " + JF.esc(r.finish_reason) : "") + '</summary><div class="step">' + JF.mathHTML(r.text) + "</div></details>").join("");
    }
    $("details").innerHTML = html;
    const t = $("toggle-node");
    if (t) t.onclick = () => { toggle(id); showDetails(id); };
  }

  function select(id, scroll) {
    const svg = $("tree");
    const old = selected != null && svg.querySelector('g[data-id="' + selected + '"]');
    if (old) old.classList.remove("sel");
    selected = id;
    let g = svg.querySelector('g[data-id="' + id + '"]');
    if (!g) { // outside the drawn window, or hidden under a collapsed ancestor or the depth limit
      if (!pos.has(id)) {
        for (const p of pathTo(id)) collapsed.delete(p);
        if (depthLimit != null && byId.get(id).depth > depthLimit) { depthLimit = null; $("depth-limit").value = ""; }
        draw();
      } else drawWindow(true);
      g = svg.querySelector('g[data-id="' + id + '"]');
    }
    if (g) g.classList.add("sel");
    if (scroll) {
      const p = pos.get(id), c = $("canvas");
      c.scrollTo({ left: Math.max(0, p.x - 80), top: Math.max(0, p.y - c.clientHeight / 2) });
    }
    showDetails(id);
  }

  function toggle(id) {
    if (!kids.get(id).length) return;
    if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
    draw();
  }

  function trajectories() {
    const list = T.trajectories;
    let html = "<h2>trajectories of this tree</h2>";
    if (!list.length) html += '<p class="meta">None stored (run <code>journeyforge linearize</code> for this run).</p>';
    html += list.map((t, i) => '<div class="traj" data-kind="' + JF.esc(t.kind) + '"><div class="traj-head"><b>' + JF.esc(t.kind) + " #" + JF.esc(t.idx) +
      "</b> · " + JF.esc(JF.fmt(t.n_steps)) + " steps · " + JF.esc(JF.fmt(t.n_backtracks)) + " backtracks" + (t.n_tokens != null ? " · " + JF.esc(t.n_tokens) + " tokens" : "") +
      " · " + (t.is_correct ? '<span class="yes">correct</span>' : '<span class="no">not verified</span>') +
      ' <button data-number="' + JF.esc(i) + '">number its steps on the tree</button></div><div class="step">' + JF.mathHTML(t.text) + "</div></div>").join("");
    $("trajectories").innerHTML = html;
  }

  // The run's place in a self-evolution run (runs.round, runs.model): shown as text, like every stored value.
  function lineage() {
    const parts = [];
    if (T.round != null) parts.push('<span id="tree-round">round ' + JF.esc(T.round) + "</span>");
    if (T.model != null) {
      parts.push('grown by <code id="tree-model"' + (T.model_sha256 ? ' title="sha256 ' + JF.esc(T.model_sha256) + '"' : "") + ">" +
        JF.esc(T.model) + "</code>" + (T.model_sha256_short ? " (sha256 " + JF.esc(T.model_sha256_short) + "…)" : ""));
    }
    return parts.join(" · ");
  }

  // The same problem's trees in the evolve run's rounds; their pages sit beside this one.
  function rounds() {
    const list = T.rounds || [];
    if (list.length < 2) return;
    $("rounds").innerHTML = "same problem in every round: " + list.map((r) => {
      const text = "round " + JF.esc(JF.fmt(r.round)) + " (tree " + JF.esc(r.tree_id) + ", " +
        (r.solved ? '<span class="yes">solved</span>' : '<span class="no">unsolved</span>') + ")";
      if (!Number.isInteger(r.tree_id) || r.tree_id === T.id) return '<b class="here">' + text + "</b>";
      return '<a data-round-tree="' + JF.esc(r.tree_id) + '" href="' + JF.esc(r.tree_id) + '.html" title="' + JF.esc(r.run) + '">' +
        text + "</a>";
    }).join(" · ");
    $("rounds").hidden = false;
  }

  function header() {
    $("title").textContent = "tree " + T.id + " · " + T.problem.key;
    $("problem").innerHTML = JF.mathHTML(T.problem.text) + (T.problem.answer != null ? ' <span class="meta">gold answer: <code>' + JF.esc(T.problem.answer) + "</code></span>" : "");
    const solved = T.nodes.some((n) => n.label === "solution");
    $("tree-meta").innerHTML = [T.run && "run " + JF.esc(T.run), lineage(), "status " + JF.esc(T.status), JF.esc(T.nodes.length) + " nodes",
      solved ? '<span class="yes">solved</span>' : '<span class="no">unsolved</span>',
      '<span class="hlkey"></span> highlighted: ' + JF.esc(T.shortcut.source) + (T.shortcut.node_ids.length ? " (" + JF.esc(T.shortcut.node_ids.length) + " steps)" : ""),
      numberedBy ? '<span class="ord">1 2 3</span> numbered: visit order of ' + JF.esc(numberedBy) : "no journey stored"].filter(Boolean).join(" · ");
    for (const [el, id] of [["prev", T.prev], ["next", T.next]]) {
      if (Number.isInteger(id)) $(el).href = id + ".html"; else $(el).classList.add("off");
    }
    rounds();
    const labels = [...new Set(T.nodes.map((n) => n.label))];
    $("legend").innerHTML = labels.map((l) => '<span class="' + JF.labelClass(l) + '"><i class="dot"></i>' + JF.esc(l) + "</span>").join(" ");
  }

  function tip(e) {
    const g = e.target.closest && e.target.closest("g.n"), box = $("tip");
    if (!g) { box.hidden = true; return; }
    const n = byId.get(Number(g.dataset.id));
    box.innerHTML = "<b>" + JF.esc(n.label) + "</b> · value " + JF.esc(JF.fmt(n.value)) + " · visits " + JF.esc(JF.fmt(n.visits)) +
      (n.logprob != null ? " · logprob " + JF.esc(JF.fmt(n.logprob)) : "") + (n.mc_value != null ? " · MC value " + JF.esc(JF.fmt(n.mc_value)) : "") +
      (n.reason ? "<br>" + JF.esc(n.reason) : "") + '<div class="tip-text">' + JF.esc((n.parent_id == null ? T.problem.text : n.text || "").slice(0, 300)) + "</div>";
    box.hidden = false;
    box.style.left = Math.min(e.clientX + 14, window.innerWidth - 380) + "px";
    box.style.top = e.clientY + 14 + "px";
  }

  // Wiring.
  const journey = T.journey && T.trajectories.find((t) => t.kind === "journey" && t.idx === T.journey.idx);
  setNumbering(journey || null);
  header();
  if (root == null) {
    $("canvas").innerHTML = '<p class="meta">This tree has no nodes yet (status ' + JF.esc(T.status) + ").</p>";
  } else {
    draw();
    const svg = $("tree");
    svg.addEventListener("click", (e) => {
      const more = e.target.closest("text.more"), g = e.target.closest("g.n");
      if (!g) return;
      const id = Number(g.dataset.id);
      if (more) toggle(id);
      select(id, false);
    });
    svg.addEventListener("dblclick", (e) => {
      const g = e.target.closest("g.n");
      if (g) { toggle(Number(g.dataset.id)); select(Number(g.dataset.id), false); }
    });
    svg.addEventListener("mouseover", tip);
    svg.addEventListener("mouseleave", () => { $("tip").hidden = true; });
    const c = $("canvas"), r = pos.get(root);
    c.scrollTop = Math.max(0, r.y - c.clientHeight / 2);
    drawWindow(false);
    let pending = false;
    c.addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawWindow(false); });
    });
  }
  trajectories();
  $("details").addEventListener("click", (e) => { const a = e.target.closest("a[data-go]"); if (a) select(Number(a.dataset.go), true); });
  $("trajectories").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-number]");
    if (!b) return;
    setNumbering(T.trajectories[Number(b.dataset.number)]);
    header();
    draw();
    if (selected != null) select(selected, false);
  });
  $("expand-all").onclick = () => { collapsed.clear(); depthLimit = null; $("depth-limit").value = ""; draw(); if (selected != null) select(selected, false); };
  $("collapse-failures").onclick = () => {
    for (const n of T.nodes) if (kids.get(n.id).length && !solvedBelow.has(n.id) && !highlight.has(n.id)) collapsed.add(n.id);
    for (const p of pathTo(selected)) collapsed.delete(p);
    draw();
    if (selected != null) select(selected, false);
  };
  $("depth-limit").oninput = (e) => { const v = parseInt(e.target.value, 10); depthLimit = v > 0 ? v : null; draw(); };
  // Time to first render: from navigation start (performance.now()'s origin) to the first frame that
  // shows the tree (a rAF callback runs before that frame is painted; the timeout after it).
  requestAnimationFrame(() => setTimeout(() => {
    window.JF_RENDER_MS = performance.now();
    window.JF_SCRIPT_MS = performance.now() - T0;
    document.body.dataset.rendered = "1";
  }, 0));
})();
