// Dashboard: Chart.js trends from the figures rendered into the page, then live updates: every
// `detection` message adds a live event and (debounced) refreshes all figures from /api/v1/stats/,
// as does every job `progress` message (batches, face imports, training jobs: the Jobs panel).
(function () {
  const root = document.getElementById("dashboard");
  const initial = document.getElementById("dashboard-stats");
  if (!root || !initial) return;
  const charts = {};

  function pct(value) { return value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`; }

  function chart(id, rows, labelOf) {
    const data = {
      labels: rows.map(labelOf),
      datasets: [
        { type: "bar", label: "Faces", data: rows.map((r) => r.faces), backgroundColor: "rgba(13,110,253,.35)", yAxisID: "y" },
        { type: "line", label: "Compliance %", data: rows.map((r) => (r.compliance === null ? null : Math.round(r.compliance * 100))),
          borderColor: "#198754", yAxisID: "y1", spanGaps: true },
      ],
    };
    if (charts[id]) { charts[id].data = data; charts[id].update(); return; }
    if (!window.Chart) return;
    charts[id] = new Chart(document.getElementById(id), {
      data,
      options: { animation: false, scales: { y: { beginAtZero: true }, y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false } } } },
    });
  }

  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }

  function table(id, rows, key) {
    const body = document.querySelector(`#${id} tbody`);
    if (!rows.length) return;
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.append(cell(r[key]), cell(`${r.faces} faces`), cell(pct(r.compliance)));
      return tr;
    }));
  }

  function tiles(id, faces) {
    const box = document.getElementById(id);
    if (!faces.length) return;
    box.replaceChildren(...faces.map((f) => {
      const a = document.createElement("a");
      a.href = `/detections/${f.log_id}/`;
      a.title = `${f.created_at.slice(0, 16)} · ${f.person || "unknown"} · ${f.mask}`;
      if (f.crop) {
        const img = document.createElement("img");
        img.className = "thumb"; img.src = `/faces/${f.id}/crop.jpg`; img.alt = `face ${f.id}`;
        a.appendChild(img);
      } else {
        a.textContent = `#${f.log_id}`;
      }
      return a;
    }));
  }

  // The Jobs panel: batches, face imports and training jobs, each with the shared status badge.
  function jobs(stats) {
    const list = document.getElementById("jobs");
    const rows = [...stats.running_jobs, ...stats.recent_jobs];
    if (!rows.length) return;
    list.replaceChildren(...rows.map((job) => {
      const li = document.createElement("li");
      li.className = "job-row";
      li.dataset.kind = job.kind;
      const a = document.createElement("a");
      a.href = job.url;
      a.textContent = job.label;
      const badge = document.createElement("span");
      MaskPortal.badge(badge, job.status);
      const count = document.createElement("span");
      count.className = "text-muted";
      count.textContent = job.kind === "training" ? `${job.done}%` : `${job.done + job.failed}/${job.total}`;
      li.append(a, " ", badge, " ", count);
      return li;
    }));
  }

  function render(stats) {
    document.getElementById("stat-compliance").textContent = pct(stats.today.compliance);
    document.getElementById("stat-faces").textContent = stats.today.faces;
    document.getElementById("stat-masked").textContent = stats.today.masked;
    document.getElementById("stat-unmasked").textContent = stats.today.unmasked;
    document.getElementById("stat-unknown").textContent = stats.today.unknown;
    document.getElementById("stat-images").textContent = stats.today.images;
    chart("chart-hour", stats.by_hour, (r) => r.t.slice(11, 16));
    chart("chart-day", stats.by_day, (r) => r.t.slice(5, 10));
    table("by-source", stats.by_source, "source");
    table("by-camera", stats.by_camera, "camera");
    tiles("violations", stats.recent_violations);
    tiles("unknown-faces", stats.unknown_faces);
    jobs(stats);
    // while jobs run, refresh now and then: other users' jobs send their progress to them only
    clearTimeout(polling);
    if (stats.running_jobs.length) polling = setTimeout(refresh, 5000);
  }

  let polling = null;

  let pending = null;
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const response = await fetch(root.dataset.statsUrl, { headers: { Accept: "application/json" } });
      if (response.ok) render(await response.json());
    }, 500);
  }

  MaskPortal.on("detection", (msg) => {
    const list = document.getElementById("live-events");
    const empty = document.getElementById("live-empty");
    if (empty) empty.remove();
    const li = document.createElement("li");
    li.className = "live-event";
    const a = document.createElement("a");
    a.href = `/detections/${msg.log_id}/`;
    a.textContent = `${MaskPortal.time(msg.created_at)} ${msg.camera || msg.source || ""}: ${msg.summary || ""}`;
    li.appendChild(a);
    list.prepend(li);
    while (list.children.length > 15) list.lastElementChild.remove();
    refresh();
  });
  // a reviewed photo changes the compliance figures
  MaskPortal.on("review", refresh);
  // batch items send no per-image events: their progress messages refresh the figures; every
  // job's progress (batch, face import, training) refreshes the Jobs panel
  MaskPortal.on("progress", () => refresh());

  render(JSON.parse(initial.textContent));
})();
