// Training job page: progress bar and live loss / accuracy charts (Chart.js) from the typed
// `progress` messages the job pushes after every epoch; the page reloads when the job ends.
(function () {
  const root = document.getElementById("training-job");
  if (!root) return;
  const job = Number(root.dataset.job);
  const finished = ["succeeded", "failed", "cancelled"];
  const history = JSON.parse(document.getElementById("job-history").textContent || "[]");
  const charts = {};

  function chart(id, title, keys) {
    if (!window.Chart) return null;
    return new Chart(document.getElementById(id), {
      type: "line",
      data: { labels: [], datasets: keys.map((key) => ({ label: key, data: [], tension: 0.2 })) },
      options: { animation: false, plugins: { title: { display: true, text: title } },
                 scales: { x: { title: { display: true, text: "epoch" } } } },
    });
  }
  charts.loss = chart("job-loss", "Loss", ["loss", "val_loss"]);
  charts.accuracy = chart("job-accuracy", "Accuracy", ["accuracy", "val_accuracy"]);

  function addEpoch(entry) {
    for (const c of Object.values(charts)) {
      if (!c || c.data.labels.includes(entry.epoch)) continue;
      c.data.labels.push(entry.epoch);
      c.data.datasets.forEach((ds) => ds.data.push(entry[ds.label] ?? null));
      c.update();
    }
    document.getElementById("job-epoch").textContent = `epoch ${entry.epoch} of ${entry.epochs} (${entry.phase})`;
  }
  history.forEach(addEpoch);

  function show(state) {
    const pct = Math.round((state.progress || 0) * 100);
    document.getElementById("job-bar").style.width = `${pct}%`;
    MaskPortal.badge(document.getElementById("job-status"), state.status);
    if (finished.includes(state.status) && root.dataset.active === "1") {
      root.dataset.active = "0";
      setTimeout(() => location.reload(), 300);
    }
  }

  MaskPortal.on("progress", (msg) => {
    if (msg.kind !== "training" || Number(msg.job) !== job) return;
    if (msg.epoch) addEpoch(msg.epoch);
    show(msg);
  });
  MaskPortal.on("model", (msg) => MaskPortal.toast && MaskPortal.toast(`Model ${msg.label} is now active.`, "success"));

  // Messages sent before the socket opened are not replayed: poll the API while the job runs.
  async function poll() {
    if (root.dataset.active !== "1") return;
    try {
      const response = await fetch(root.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const state = await response.json();
        (state.history || []).forEach(addEpoch);
        document.getElementById("job-log").textContent = state.log;
        show(state);
      }
    } catch (e) { /* the socket still updates the page */ }
    setTimeout(poll, 5000);
  }
  setTimeout(poll, 5000);
})();
