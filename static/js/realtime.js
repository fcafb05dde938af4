// One notification socket per page. Pages subscribe by message type:
//   MaskPortal.on("progress", msg => ...)
// Alerts are for the pages that watch events (the dashboard: data-alerts="dashboard"; a camera's
// page gets its camera's alerts on its own socket and calls MaskPortal.alert): they gather in one
// dismissible box with a count and the latest few, never a stack of toasts over every page.
(function () {
  const handlers = {};
  let socket = null;
  const MAX_RETRY_MS = 4000;
  let retryMs = 1000;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/notifications/`);
    socket.onopen = () => { retryMs = 1000; };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      (handlers[msg.type] || []).forEach((fn) => fn(msg));
      (handlers["*"] || []).forEach((fn) => fn(msg));
    };
    socket.onclose = (event) => {
      if (event.code === 4401) return; // logged out
      // Back off, but never beyond a few seconds: after an outage (1013: the message service is
      // down) the page is live again within seconds of the service's return.
      setTimeout(connect, retryMs + Math.random() * 500);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  }

  function toast(text, level) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = `toast align-items-center text-bg-${level === "danger" || level === "critical" ? "danger" : level || "secondary"} border-0`;
    el.setAttribute("role", "alert");
    const body = document.createElement("div");
    body.className = "d-flex";
    const text_el = document.createElement("div");
    text_el.className = "toast-body";
    text_el.textContent = text;
    body.appendChild(text_el);
    el.appendChild(body);
    box.appendChild(el);
    new bootstrap.Toast(el, { delay: 6000 }).show();
  }

  // A status badge drawn as the `status_badge` template tag draws it (colours and words from the
  // page's "status-badges" JSON, rendered by the `status_badges` tag).
  let badges = null;
  function badge(el, status) {
    if (!el) return;
    if (badges === null) {
      const data = document.getElementById("status-badges");
      badges = data ? JSON.parse(data.textContent) : {};
    }
    const style = badges[status] || { colour: "secondary", word: status };
    el.className = `badge text-bg-${style.colour}`;
    el.dataset.status = status;
    el.textContent = style.word;
  }

  // Times as the `when` template filter writes them: local time, YYYY-MM-DD HH:MM.
  function time(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  const ALERTS_SHOWN = 3;
  let alerts = [];
  function alert(msg) {
    const box = document.getElementById("toasts");
    if (!box) return;
    alerts = [msg, ...alerts].slice(0, 50);
    let panel = document.getElementById("alert-group");
    if (!panel) {
      panel = document.createElement("div");
      panel.id = "alert-group";
      panel.className = "toast show border-danger bg-body";
      panel.setAttribute("role", "alert");
      panel.innerHTML = '<div class="toast-header"><i class="bi bi-exclamation-triangle-fill text-danger me-2"></i>' +
        '<strong class="me-auto" id="alert-count"></strong>' +
        '<button type="button" class="btn-close" id="alert-dismiss" aria-label="Dismiss"></button></div>' +
        '<ul class="toast-body list-unstyled mb-0 small" id="alert-list"></ul>';
      box.appendChild(panel);
      document.getElementById("alert-dismiss").addEventListener("click", () => { alerts = []; panel.remove(); });
    }
    document.getElementById("alert-count").textContent = `${alerts.length} alert${alerts.length === 1 ? "" : "s"}`;
    document.getElementById("alert-list").replaceChildren(...alerts.slice(0, ALERTS_SHOWN).map((a) => {
      const li = document.createElement("li");
      const link = document.createElement(a.log_id ? "a" : "span");
      if (a.log_id) link.href = `/detections/${a.log_id}/`;
      link.className = a.level === "danger" ? "text-danger" : "";
      link.textContent = `${a.camera ? `${a.camera}: ` : ""}${a.text}`;
      li.appendChild(link);
      return li;
    }), ...(alerts.length > ALERTS_SHOWN ? [Object.assign(document.createElement("li"), {
      className: "text-muted", textContent: `and ${alerts.length - ALERTS_SHOWN} more`,
    })] : []));
  }

  // Durations as the `duration_ms` template filter writes them: "< 1 ms", "42 ms", "1.3 s".
  function duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return "–";
    if (ms < 1) return "< 1 ms";
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  window.MaskPortal = {
    on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    send(obj) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(obj)); },
    toast,
    alert,
    badge,
    time,
    duration,
  };
  if (document.querySelector('[data-alerts="dashboard"]')) MaskPortal.on("alert", alert);
  let pausedShown = false;
  MaskPortal.on("error", (msg) => {
    if (msg.code !== "realtime_unavailable" || pausedShown) return;
    pausedShown = true; // once per outage, not at every reconnection attempt
    toast(msg.message, "warning");
  });
  MaskPortal.on("*", (msg) => { if (msg.type !== "error") pausedShown = false; });
  connect();
})();
