// Pulse's only script: the pages work without it; it saves a person some clicks.
"use strict";

// While a run is queued or running, reload so the page follows the executors, unless someone
// is typing in a field.
if (document.body.dataset.live === "true") {
  setInterval(() => {
    const el = document.activeElement;
    if (!el || !["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName)) location.reload();
  }, 5000);
}

// Marking a task successful skips real work, so ask first.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// Forms marked data-autosubmit (the lineage graph's column) apply a choice at once; without
// the script their button does.
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  form.addEventListener("change", () => form.submit());
}
