"use strict";
(function () {
  const data = JSON.parse(document.getElementById("gallery-data").textContent);
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d) => (v === null || v === undefined ? "\u221e" : Number(v).toFixed(d));
  const metricText = (m) => (m ? "PSNR " + fmt(m.psnr, 2) + " \u00b7 SSIM " + fmt(m.ssim, 3) +
    " \u00b7 MAE " + fmt(m.mae, 1) : "");
  const dirName = { mr2ct: "MR \u2192 synthetic CT", ct2mr: "CT \u2192 synthetic MR" };
  const labels = data.models.map((m) => m.label);
  let current = -1;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function figure(src, alt, caption, isCt) {
    const fig = el("figure");
    const img = el("img", { src: src, alt: alt, width: String(data.size), height: String(data.size) });
    if (isCt) img.classList.add("ct");
    fig.appendChild(img);
    const cap = el("figcaption");
    const lines = Array.isArray(caption) ? caption : [caption];
    lines.forEach((line, i) => {
      if (i) cap.appendChild(el("br"));
      if (i === 0) cap.appendChild(el("b", {}, line)); else cap.appendChild(document.createTextNode(line));
    });
    fig.appendChild(cap);
    return fig;
  }

  function blank(text, wide) { return el("div", { class: wide === false ? "empty" : "empty wide" }, text); }

  function buildRow(row) {
    const sec = el("section", { class: "row", id: "row-" + row.id, tabindex: "-1" });
    sec.dataset.direction = row.direction;
    sec.appendChild(el("h2", {}, "Slice " + row.slice + " (patient " + row.patient + ") \u00b7 " +
      dirName[row.direction]));
    const grid = el("div", { class: "grid" });
    grid.style.gridTemplateColumns = "repeat(" + (2 + row.outputs.length) + ", minmax(120px, 200px))";
    const ctTarget = row.target_modality === "CT";
    grid.appendChild(figure(row.input, "input " + row.input_modality, "Input " + row.input_modality, !ctTarget));
    grid.appendChild(figure(row.gt, "real " + row.target_modality, "Ground truth " + row.target_modality, ctTarget));
    for (const c of row.outputs) {
      grid.appendChild(figure(c.img, c.model + " output", [c.model, metricText(c.gt)], ctTarget));
    }
    grid.appendChild(blank("difference vs ground truth"));
    for (const c of row.outputs) {
      grid.appendChild(figure(c.diff_gt, c.model + " minus ground truth", [c.model + " \u2212 ground truth"], false));
    }
    if (data.reference) {
      grid.appendChild(blank("difference vs " + data.reference));
      for (const c of row.outputs) {
        if (c.diff_ref) {
          grid.appendChild(figure(c.diff_ref, c.model + " minus " + data.reference,
            [c.model + " \u2212 " + data.reference, metricText(c.ref)], false));
        } else {
          grid.appendChild(blank(c.model === data.reference ? "reference" : "no reference output", false));
        }
      }
    }
    sec.appendChild(grid);
    sec.addEventListener("click", () => setCurrent(visibleRows().indexOf(sec), false));
    return sec;
  }

  function summaryTable() {
    const table = el("table");
    const head = el("tr");
    ["model", "direction", "n", "PSNR", "SSIM", "MAE"].forEach((h) => head.appendChild(el("th", {}, h)));
    if (data.reference) ["PSNR vs " + data.reference, "SSIM vs " + data.reference, "MAE vs " + data.reference]
      .forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    for (const s of data.summary) {
      const tr = el("tr");
      [s.model, dirName[s.direction], String(s.n), fmt(s.gt_psnr, 2), fmt(s.gt_ssim, 3), fmt(s.gt_mae, 2)]
        .forEach((v) => tr.appendChild(el("td", {}, v)));
      if (data.reference) {
        const none = s.model === data.reference;
        [s.ref_psnr, s.ref_ssim, s.ref_mae].forEach((v, i) =>
          tr.appendChild(el("td", {}, none ? "\u2014" : fmt(v, [2, 3, 2][i]))));
      }
      table.appendChild(tr);
    }
    const sec = $("summary");
    sec.appendChild(el("h2", {}, "Mean over " + data.n_slices + " slices (0..255 scale)"));
    sec.appendChild(table);
  }

  const rowNodes = data.rows.map((row) => ({ row: row, node: buildRow(row) }));
  const main = $("rows");

  function sortValue(row, metric, model) {
    const cells = row.outputs.filter((c) => model === "__mean__" || c.model === model);
    const vals = cells.map((c) => c.gt[metric]).filter((v) => v !== null && v !== undefined);
    if (!vals.length) return null;
    return vals.reduce((a, b) => a + b, 0) / vals.length;
  }

  function render() {
    const dir = $("direction").value, metric = $("sort").value, model = $("sortModel").value;
    const items = rowNodes.slice();
    if (metric !== "order") {
      const sign = metric === "mae" ? -1 : 1;  // worst first: low PSNR/SSIM, high MAE
      items.sort((a, b) => {
        const va = sortValue(a.row, metric, model), vb = sortValue(b.row, metric, model);
        if (va === null) return vb === null ? 0 : 1;
        if (vb === null) return -1;
        return sign * (va - vb);
      });
    }
    for (const it of items) {
      it.node.hidden = !(dir === "all" || it.row.direction === dir);
      main.appendChild(it.node);
    }
    setCurrent(0, false);
  }

  function visibleRows() { return Array.from(main.children).filter((n) => !n.hidden); }

  function setCurrent(i, scroll) {
    const rows = visibleRows();
    main.querySelectorAll(".row.current").forEach((n) => n.classList.remove("current"));
    if (!rows.length) { current = -1; return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    const node = rows[current];
    node.classList.add("current");
    if (scroll) {  // below the sticky header, not behind it
      node.focus({ preventScroll: true });
      const header = document.querySelector("header");
      window.scrollTo(0, node.getBoundingClientRect().top + window.scrollY - header.offsetHeight - 8);
    }
  }

  function applyWindow() {
    const key = $("window").value;
    const w = data.windows[key];
    const identity = w && Math.abs(w.slope - 1) < 1e-9 && Math.abs(w.intercept) < 1e-9;
    document.body.style.setProperty("--ct-filter", identity ? "none" : "url(#win-" + key + ")");
    document.body.dataset.window = key;
  }

  function cycle(select) {
    select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
    select.dispatchEvent(new Event("change"));
  }

  $("meta").textContent = data.data + " \u00b7 split " + data.split + " (patients " + data.patients.join(", ") +
    ") \u00b7 " + data.n_slices + " slices \u00b7 " + data.size + "\u00d7" + data.size +
    (data.reference ? " \u00b7 second difference map against " + data.reference : "");
  $("windowNote").textContent = data.window_note;
  $("diffNote").textContent = data.diff_note;
  for (const [key, w] of Object.entries(data.windows)) $("window").appendChild(el("option", { value: key }, w.name));
  $("sortModel").appendChild(el("option", { value: "__mean__" }, "mean of models"));
  labels.forEach((l) => $("sortModel").appendChild(el("option", { value: l }, l)));
  summaryTable();
  $("direction").addEventListener("change", render);
  $("sort").addEventListener("change", render);
  $("sortModel").addEventListener("change", render);
  $("window").addEventListener("change", applyWindow);
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA") return;
    const keys = {
      j: () => setCurrent(current + 1, true), ArrowDown: () => setCurrent(current + 1, true),
      k: () => setCurrent(current - 1, true), ArrowUp: () => setCurrent(current - 1, true),
      w: () => cycle($("window")), d: () => cycle($("direction")), s: () => cycle($("sort")),
      m: () => cycle($("sortModel")),
    };
    if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
  });
  applyWindow();
  render();
  document.body.dataset.ready = "1";
}());
