// Bulk-import page: progress bar, badge and "Running: accepted 2, rejected 1" follow the typed
// `progress` messages of this import; the page reloads with the full report when it ends.
(function () {
  const root = document.getElementById("face-import");
  if (!root) return;
  const job = Number(root.dataset.job);
  const finished = ["succeeded", "failed", "cancelled"];

  MaskPortal.on("progress", (msg) => {
    if (msg.kind !== "face_import" || Number(msg.job) !== job) return;
    const pct = msg.total ? Math.round((100 * (msg.done + msg.failed)) / msg.total) : 0;
    const bar = document.getElementById("import-bar");
    bar.style.width = `${pct}%`;
    bar.textContent = `${pct}%`;
    const badge = document.getElementById("import-badge");
    MaskPortal.badge(badge, msg.status);
    document.getElementById("import-status").textContent =
      `${badge.textContent}: accepted ${msg.done}, rejected ${msg.failed}`;
    if (finished.includes(msg.status) && root.dataset.active === "1") {
      root.dataset.active = "0";
      location.reload();
    }
  });
})();
