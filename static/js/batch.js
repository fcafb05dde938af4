// Batch page: the progress bar follows typed `progress` messages for this job over the
// notification socket; when the job ends the page reloads to show the result table.
(function () {
  const root = document.getElementById("batch");
  if (!root) return;
  const job = Number(root.dataset.job);
  const finished = ["succeeded", "partial", "failed", "cancelled"];

  function show(msg) {
    const total = msg.total || 0;
    const pct = total ? Math.round(((msg.done + msg.failed) / total) * 100) : 0;
    document.getElementById("batch-bar").style.width = `${pct}%`;
    document.getElementById("batch-done").textContent = msg.done;
    document.getElementById("batch-failed").textContent = msg.failed;
    document.getElementById("batch-total").textContent = total;
    MaskPortal.badge(document.getElementById("batch-status"), msg.status);
    if (finished.includes(msg.status) && root.dataset.active === "1") {
      root.dataset.active = "0";
      const cancel = document.getElementById("batch-cancel");
      if (cancel) cancel.closest("form").remove();  // a finished batch has nothing to cancel
      setTimeout(() => location.reload(), 300);
    }
  }

  MaskPortal.on("progress", (msg) => {
    if (msg.kind === "batch" && Number(msg.job) === job) show(msg);
  });

  // A message sent before the socket opened is not replayed: poll the API while the job runs.
  async function poll() {
    if (root.dataset.active !== "1") return;
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) show(await response.json());
    } catch (e) { /* the socket still updates the page */ }
    setTimeout(poll, 3000);
  }
  setTimeout(poll, 3000);
})();
