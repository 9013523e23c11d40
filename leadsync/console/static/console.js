// leadsync console: live progress (server-sent events) and the mapping page's phone check.
// No framework, no inline script (the pages' Content-Security-Policy forbids them).
"use strict";

function followProgress(box) {
  const source = new EventSource(box.dataset.progress);
  const bar = box.querySelector("progress");
  const done = () => { source.close(); window.location.assign(box.dataset.next); };
  source.onmessage = (event) => {
    const state = JSON.parse(event.data);
    for (const el of box.querySelectorAll("[data-field]")) {
      const value = state[el.dataset.field];
      el.textContent = value === null || value === undefined ? "–" : String(value);
    }
    if (bar) {
      bar.max = state.total || 1;
      bar.value = state.total ? state.done : 0;
    }
    if (state.state !== "running") done();
  };
  source.addEventListener("end", done);
}

function checkPhones(form) {
  let ok = true;
  for (const file of form.querySelectorAll("[data-file]")) {
    const mapped = [...file.querySelectorAll("select")].some((s) => s.value === "number");
    const note = file.querySelector("[data-phone-missing]");
    if (note) note.hidden = mapped;
    ok = ok && mapped;
  }
  const button = form.querySelector("[data-continue]");
  if (button) button.disabled = !ok;
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-progress]");
  if (box) followProgress(box);
  const form = document.querySelector("form[data-mapping]");
  if (form) {
    form.addEventListener("change", () => checkPhones(form));
    checkPhones(form);
  }
});
