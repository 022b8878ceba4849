/* Shared by both pages: the page's data, HTML escaping, label colours, and math-aware text rendering.
 * Every stored value reaches the page through JF.esc (or textContent), numbers included: a shared
 * store is not trusted, and SQLite keeps text in a number column.
 * Math is rendered with the vendored KaTeX where it is delimited ($$..$$, \[..\], \(..\)), in a
 * bare \boxed{...} (how models state answers), and in $..$ only when the inside looks like TeX:
 * GSM8K text is full of dollar amounts ("$2 and $3") that must stay text. */
"use strict";
window.JF = window.JF || {};
(function (JF) {
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  JF.esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ESC[c]);
  // The page's data: JSON in <script type="application/json" id="jf-data">, which the browser never runs.
  JF.data = () => JSON.parse(document.getElementById("jf-data").textContent);
  JF.LABELS = ["root", "valid", "solution", "invalid", "dead_end", "wrong_answer"];
  JF.labelClass = (label) => "L-" + (JF.LABELS.includes(label) ? label : "other");
  JF.fmt = (v, digits) => (v == null ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(digits == null ? 3 : digits) : String(v));

  const DELIMS = [["$$", "$$", true], ["\\[", "\\]", true], ["\\(", "\\)", false]];
  const TEXLIKE = /[\\^_{}]/;
  const MAX_MATH_TEXT = 50000; // longer texts are shown as text: KaTeX on a megabyte of model output would stall the page

  function katexHTML(tex, display) {
    if (!window.katex) return null;
    try {
      return window.katex.renderToString(tex, { displayMode: display, throwOnError: false, maxExpand: 200, maxSize: 20, strict: "ignore" });
    } catch (e) {
      return null;
    }
  }

  function balancedEnd(text, open) { // index of the brace closing text[open] === "{", or -1
    let depth = 0;
    for (let j = open; j < text.length; j++) {
      if (text[j] === "{") depth++;
      else if (text[j] === "}" && --depth === 0) return j;
    }
    return -1;
  }

  function nextMath(text, i) {
    for (const [open, close, display] of DELIMS) {
      if (text.startsWith(open, i)) {
        const j = text.indexOf(close, i + open.length);
        if (j > i + open.length) return { tex: text.slice(i + open.length, j), end: j + close.length, display };
      }
    }
    if (text[i] === "$" && text[i + 1] !== "$") {
      const j = text.indexOf("$", i + 1);
      const inner = j > 0 ? text.slice(i + 1, j) : "";
      if (inner && !inner.includes("\n") && TEXLIKE.test(inner)) return { tex: inner, end: j + 1, display: false };
    }
    if (text.startsWith("\\boxed{", i)) {
      const j = balancedEnd(text, i + 6);
      if (j > 0) return { tex: text.slice(i, j + 1), end: j + 1, display: false };
    }
    return null;
  }

  /* `text` as HTML: escaped, with its math rendered by KaTeX (the source stays on hover). */
  JF.mathHTML = function (text) {
    text = String(text == null ? "" : text);
    if (text.length > MAX_MATH_TEXT || !window.katex) return JF.esc(text);
    let out = "", plain = "", i = 0;
    while (i < text.length) {
      const c = text[i];
      const m = c === "$" || c === "\\" ? nextMath(text, i) : null;
      const html = m && katexHTML(m.tex, m.display);
      if (html) {
        out += JF.esc(plain) + '<span class="math" title="' + JF.esc(text.slice(i, m.end)) + '">' + html + "</span>";
        plain = "";
        i = m.end;
      } else {
        plain += c;
        i++;
      }
    }
    return out + JF.esc(plain);
  };
})(window.JF);
