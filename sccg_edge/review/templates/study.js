"use strict";
(function () {
  const data = JSON.parse(document.getElementById("study-data").textContent);
  const $ = (id) => document.getElementById(id);
  const n = data.items.length;
  const storageKey = "sccg-study/" + data.study + "/" + data.reader;
  const labelOf = {};
  data.levels.forEach((lv) => { labelOf[lv[0]] = lv[1]; });
  let store = null;
  try { store = window.localStorage; store.getItem(storageKey); } catch (e) { store = null; }
  let state = { answers: {}, position: 0 };
  if (store) {
    try {
      const saved = JSON.parse(store.getItem(storageKey) || "null");
      if (saved && typeof saved.answers === "object") state = saved;
    } catch (e) { state = { answers: {}, position: 0 }; }
  } else {
    $("storageNote").hidden = false;
  }

  function save() {
    if (!store) return;
    try { store.setItem(storageKey, JSON.stringify(state)); } catch (e) { $("storageNote").hidden = false; }
  }

  function entry(item) {
    if (!state.answers[item]) state.answers[item] = { score: null, comment: "" };
    return state.answers[item];
  }

  function answeredCount() {
    return data.items.filter((it) => state.answers[it.item] && state.answers[it.item].score !== null).length;
  }

  function updateProgress() {
    const done = answeredCount();
    $("progress").max = n;
    $("progress").value = done;
    $("progress").textContent = done + " of " + n;
    $("progressText").textContent = done + " of " + n + " answered";
    document.body.dataset.answered = String(done);
  }

  const radios = [];
  data.levels.forEach((lv, k) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "answer";
    input.value = String(lv[0]);
    input.id = "answer-" + lv[0];
    const text = document.createElement("span");
    text.textContent = " " + lv[1];
    const key = document.createElement("span");
    key.className = "key";
    key.textContent = "[" + (k + 1) + "]";
    label.append(input, text, key);
    $("answers").appendChild(label);
    input.addEventListener("change", () => choose(Number(input.value)));
    radios.push(input);
  });

  function choose(score) {
    const it = data.items[state.position];
    entry(it.item).score = score;
    radios.forEach((r) => { r.checked = Number(r.value) === score; });
    save();
    updateProgress();
  }

  function show(i) {
    state.position = Math.max(0, Math.min(n - 1, i));
    const it = data.items[state.position];
    const a = state.answers[it.item] || { score: null, comment: "" };
    $("image").src = "img/" + it.item + ".png";
    $("image").alt = "image " + (state.position + 1) + " of " + n + " (" + it.modality + ")";
    $("position").textContent = "Image " + (state.position + 1) + " of " + n;
    $("question").textContent = data.question.replace("{modality}", it.modality);
    radios.forEach((r) => { r.checked = a.score !== null && Number(r.value) === a.score; });
    $("comment").value = a.comment || "";
    document.body.dataset.position = String(state.position);
    document.body.dataset.item = it.item;
    save();
  }

  function nextUnanswered() {
    for (let k = 1; k <= n; k++) {
      const j = (state.position + k) % n;
      const a = state.answers[data.items[j].item];
      if (!a || a.score === null) { show(j); return; }
    }
  }

  function rows() {
    return data.items.map((it, k) => {
      const a = state.answers[it.item] || { score: null, comment: "" };
      return { position: k + 1, item: it.item, modality: it.modality, score: a.score,
        answer: a.score === null ? "" : labelOf[a.score], comment: a.comment || "" };
    });
  }

  function download(text, type, name) {
    const url = URL.createObjectURL(new Blob([text], { type: type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function exportNote() {
    const left = n - answeredCount();
    $("exportNote").textContent = left ? "Saved a partial file: " + left + " image(s) still unanswered."
      : "Saved. Send the file back; thank you.";
  }

  function fileName(ext) { return "answers-" + data.study + "-" + data.reader + "." + ext; }

  function exportJson() {
    const done = answeredCount();
    const out = { format: data.format, study: data.study, reader: data.reader, complete: done === n,
      n_items: n, n_answered: done, exported: new Date().toISOString(), answers: rows() };
    download(JSON.stringify(out, null, 1) + "\n", "application/json", fileName("json"));
    exportNote();
  }

  function csvField(v) {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }

  function exportCsv() {
    const head = ["study", "reader", "position", "item", "modality", "score", "answer", "comment"];
    const lines = [head.join(",")];
    for (const r of rows()) {
      lines.push([data.study, data.reader, r.position, r.item, r.modality, r.score, r.answer, r.comment]
        .map(csvField).join(","));
    }
    download(lines.join("\r\n") + "\r\n", "text/csv", fileName("csv"));
    exportNote();
  }

  $("reader").textContent = data.reader + " \u00b7 study " + data.study;
  $("comment").addEventListener("input", () => {
    entry(data.items[state.position].item).comment = $("comment").value;
    save();
  });
  $("prev").addEventListener("click", () => show(state.position - 1));
  $("next").addEventListener("click", () => show(state.position + 1));
  $("nextUnanswered").addEventListener("click", nextUnanswered);
  $("exportJson").addEventListener("click", exportJson);
  $("exportCsv").addEventListener("click", exportCsv);
  $("form").addEventListener("submit", (ev) => { ev.preventDefault(); show(state.position + 1); });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "TEXTAREA" || tag === "BUTTON") return;
    const k = Number(ev.key);
    if (k >= 1 && k <= radios.length) { ev.preventDefault(); choose(Number(radios[k - 1].value)); return; }
    if (ev.key === "ArrowRight" || ev.key === "Enter") { ev.preventDefault(); show(state.position + 1); }
    else if (ev.key === "ArrowLeft") { ev.preventDefault(); show(state.position - 1); }
    else if (ev.key === "u") { ev.preventDefault(); nextUnanswered(); }
  });
  show(typeof state.position === "number" ? state.position : 0);
  updateProgress();
  document.body.dataset.ready = "1";
}());
