// One notification socket per page. Pages subscribe by message type:
//   MaskPortal.on("progress", msg => ...)
// Alerts become toasts for everyone watching.
(function () {
  const handlers = {};
  let socket = null;
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
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
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

  window.MaskPortal = {
    on(type, fn) { (handlers[type] = handlers[type] || []).push(fn); },
    send(obj) { if (socket && socket.readyState === 1) socket.send(JSON.stringify(obj)); },
    toast,
    badge,
    time,
  };
  MaskPortal.on("alert", (msg) => toast(msg.text, msg.level));
  connect();
})();
