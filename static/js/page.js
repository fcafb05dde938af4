// Behaviour every page shares, declared in the markup with data- attributes, so that the
// Content-Security-Policy can forbid inline scripts, inline event handlers and style attributes.
(() => {
  "use strict";

  // <div class="progress-bar" data-width="42"> is drawn 42% wide.
  const drawWidths = (root) => {
    root.querySelectorAll("[data-width]").forEach((el) => {
      const value = Number(el.dataset.width);
      el.style.width = `${Number.isFinite(value) ? Math.max(0, Math.min(100, value)) : 0}%`;
    });
  };

  // <form data-form-controls> gives its fields Bootstrap's classes.
  const styleFields = (root) => {
    root.querySelectorAll("form[data-form-controls]").forEach((form) => {
      form.querySelectorAll("input, select, textarea").forEach((el) => {
        if (el.type === "checkbox" || el.type === "radio") el.classList.add("form-check-input");
        else if (el.tagName === "SELECT") el.classList.add("form-select");
        else if (el.type !== "hidden") el.classList.add("form-control");
      });
    });
  };

  document.addEventListener("DOMContentLoaded", () => {
    drawWidths(document);
    styleFields(document);
  });

  // <select data-autosubmit> submits its form when changed.
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-autosubmit]") && event.target.form) event.target.form.submit();
  });

  // <form data-confirm="Really?"> asks before submitting; <form data-no-submit> never submits.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("[data-no-submit]")) event.preventDefault();
    else if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Progress of a training-pool import: <div class="progress-bar" data-import-progress="import">.
  document.addEventListener("DOMContentLoaded", () => {
    const bar = document.querySelector("[data-import-progress]");
    if (!bar || !window.MaskPortal) return;
    window.MaskPortal.on("progress", (msg) => {
      if (msg.kind !== bar.dataset.importProgress) return;
      bar.closest(".progress").classList.remove("d-none");
      bar.style.width = `${msg.total ? Math.round((msg.done / msg.total) * 100) : 100}%`;
      document.getElementById("import-counts").textContent = msg.error
        ? msg.error
        : `${msg.done} of ${msg.total}: ${msg.added || 0} added, ${msg.duplicates || 0} duplicates, ${msg.failed} failed`;
    });
  });
})();
