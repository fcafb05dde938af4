// Live video: the browser camera page (data-mode="browser") streams JPEG frames to /ws/live/ and
// draws the answers over the video; a camera page (data-mode="viewer") draws what /ws/cameras/<id>/
// sends. Binary frame = 4-byte big-endian frame id + JPEG. At most MAX_IN_FLIGHT frames are
// unanswered at any time, so a busy server slows the frame rate instead of growing a queue.
(function () {
  "use strict";
  const root = document.getElementById("live-root");
  if (!root) return;
  const MAX_IN_FLIGHT = 2;
  const MAX_W = 640;
  const MAX_H = 480;
  const COLORS = { with_mask: "#198754", without_mask: "#dc3545" };
  const $ = (id) => document.getElementById(id);
  const overlay = $("live-overlay");
  const ctx = overlay.getContext("2d");

  function socketUrl(path) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}`;
  }

  function setStatus(text) { $("live-status").textContent = text; }

  // Back to the figures of a page that has seen nothing yet (on Stop: no stale numbers).
  function resetStats() {
    answered.length = 0;
    ["live-fps-value", "live-rtt", "live-server"].forEach((id) => { if ($(id)) $(id).textContent = "–"; });
    $("live-faces").textContent = "0";
  }

  // Frames per second over the last second of answers.
  const answered = [];
  function countFrame() {
    const now = performance.now();
    answered.push(now);
    while (answered.length && now - answered[0] > 1000) answered.shift();
    $("live-fps-value").textContent = answered.length;
  }

  function drawFaces(msg, clear) {
    if (clear) ctx.clearRect(0, 0, overlay.width, overlay.height);
    const sx = overlay.width / msg.width;
    const sy = overlay.height / msg.height;
    ctx.lineWidth = Math.max(2, overlay.width / 240);
    ctx.font = `${Math.max(12, Math.round(overlay.width / 40))}px system-ui, sans-serif`;
    ctx.textBaseline = "bottom";
    msg.faces.forEach((face) => {
      const [x1, y1, x2, y2] = face.box;
      const color = COLORS[face.mask] || "#ffc107";
      ctx.strokeStyle = color;
      ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
      // a name only once confirmed; "identifying…" while a match is being confirmed
      const who = face.name || (face.recognition === "pending" ? "identifying…" : "unknown");
      const label = `${who} · ${face.mask === "with_mask" ? "mask" : "no mask"} ${Math.round(
        (face.mask === "with_mask" ? face.mask_score : 1 - face.mask_score) * 100)}%`;
      const width = ctx.measureText(label).width + 8;
      const height = parseInt(ctx.font, 10) + 6;
      const top = Math.max(height, y1 * sy);
      ctx.fillStyle = color;
      ctx.fillRect(x1 * sx, top - height, width, height);
      ctx.fillStyle = "#fff";
      ctx.fillText(label, x1 * sx + 4, top - 3);
    });
    overlay.dataset.faces = String(msg.faces.length);
    $("live-faces").textContent = msg.faces.length;
    if (msg.timings_ms) $("live-server").textContent = MaskPortal.duration(msg.timings_ms.total);
  }

  function addEvent(msg) {
    const list = $("live-events");
    const item = document.createElement("li");
    item.className = "list-group-item";
    const link = document.createElement("a");
    link.href = `/detections/${msg.log_id}/`;
    link.textContent = msg.summary;
    item.appendChild(link);
    const when = document.createElement("span");
    when.className = "text-muted ms-1";
    when.textContent = MaskPortal.time(msg.created_at || new Date().toISOString());
    item.appendChild(when);
    list.prepend(item);
    while (list.children.length > 50) list.lastChild.remove();
  }

  // --- viewer of a fixed (or browser) camera -------------------------------------------------
  function viewer() {
    const path = `/ws/cameras/${root.dataset.camera}/`;
    let retryMs = 1000;
    let drawing = false;
    let latest = null;

    function render(msg) {
      if (!msg.image) {
        ctx.fillStyle = "#222";
        ctx.fillRect(0, 0, overlay.width, overlay.height);
        drawFaces(msg, false);
        return;
      }
      drawing = true;
      const img = new Image();
      img.onload = () => {
        if (overlay.width !== msg.width || overlay.height !== msg.height) {
          overlay.width = msg.width;
          overlay.height = msg.height;
        }
        ctx.drawImage(img, 0, 0, overlay.width, overlay.height);
        drawFaces(msg, false);
        drawing = false;
        if (latest) { const next = latest; latest = null; render(next); }
      };
      img.onerror = () => { drawing = false; };
      img.src = msg.image;
    }

    function connect() {
      const socket = new WebSocket(socketUrl(path));
      socket.onopen = () => { retryMs = 1000; setStatus("Connected"); };
      socket.onmessage = (event) => {
        const msg = JSON.parse(event.data);
        if (msg.type === "frame") {
          countFrame();
          if (drawing) latest = msg; else render(msg);  // skip frames the page cannot keep up with
        } else if (msg.type === "detection") {
          addEvent(msg);
        } else if (msg.type === "alert") {
          MaskPortal.alert(msg);  // this camera's alerts, for the people watching it
        } else if (msg.type === "status") {
          setStatus(msg.text);  // the watcher's own state: playing, ended, reconnecting
        }
      };
      socket.onclose = (event) => {
        if (event.code === 4401) { setStatus("Not allowed"); return; }
        setStatus("Disconnected; retrying");
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 4000);
      };
    }
    connect();
  }

  // --- this browser's camera ----------------------------------------------------------------
  function browser() {
    const video = $("live-video");
    const button = $("live-start");
    const deviceSelect = $("live-device");
    const capture = document.createElement("canvas");
    const captureCtx = capture.getContext("2d");
    let stream = null;
    let socket = null;
    let running = false;
    let nextId = 1;
    let lastSent = 0;
    const inFlight = new Map(); // frame id -> send time

    async function listDevices() {
      const devices = await navigator.mediaDevices.enumerateDevices();
      const current = deviceSelect.value;
      deviceSelect.replaceChildren(new Option("Default camera", ""));
      devices.filter((d) => d.kind === "videoinput").forEach((d, i) => {
        deviceSelect.add(new Option(d.label || `Camera ${i + 1}`, d.deviceId));
      });
      deviceSelect.value = current;
    }

    async function openCamera() {
      const constraints = { width: { ideal: MAX_W }, height: { ideal: MAX_H } };
      if (deviceSelect.value) constraints.deviceId = { exact: deviceSelect.value };
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
      video.srcObject = stream;
      await video.play();
      await listDevices();
    }

    function openSocket() {
      const camera = $("live-camera").value;
      socket = new WebSocket(socketUrl(`/ws/live/${camera ? `?camera=${camera}` : ""}`));
      socket.binaryType = "arraybuffer";
      socket.onopen = () => setStatus("Streaming");
      socket.onmessage = (event) => onMessage(JSON.parse(event.data));
      socket.onclose = (event) => {
        inFlight.clear();
        if (!running) return;
        setStatus(event.code === 4401 ? "Not allowed" : "Disconnected; retrying");
        if (event.code !== 4401) setTimeout(() => { if (running) openSocket(); }, 2000);
      };
    }

    function onMessage(msg) {
      if (msg.type === "frame") {
        const sent = inFlight.get(msg.frame);
        inFlight.delete(msg.frame);
        if (sent !== undefined) $("live-rtt").textContent = MaskPortal.duration(performance.now() - sent);
        countFrame();
        drawFaces(msg, true);
      } else if (msg.type === "dropped") {
        inFlight.delete(msg.frame);
      } else if (msg.type === "error") {
        if (msg.frame !== undefined) inFlight.delete(msg.frame);
        setStatus(msg.message);
      } else if (msg.type === "detection") {
        addEvent(msg);
      }
    }

    function sendFrame() {
      const vw = video.videoWidth;
      const vh = video.videoHeight;
      if (!vw || !vh) return;
      const scale = Math.min(1, MAX_W / vw, MAX_H / vh);
      capture.width = Math.round(vw * scale);
      capture.height = Math.round(vh * scale);
      if (overlay.width !== vw || overlay.height !== vh) { overlay.width = vw; overlay.height = vh; }
      captureCtx.drawImage(video, 0, 0, capture.width, capture.height);
      const id = nextId++;
      inFlight.set(id, performance.now());
      capture.toBlob(async (blob) => {
        if (!blob || !socket || socket.readyState !== 1) { inFlight.delete(id); return; }
        const jpeg = new Uint8Array(await blob.arrayBuffer());
        const data = new Uint8Array(4 + jpeg.length);
        new DataView(data.buffer).setUint32(0, id);
        data.set(jpeg, 4);
        socket.send(data);
      }, "image/jpeg", 0.75);
    }

    function loop(now) {
      if (!running) return;
      // forget frames whose answer never came (socket reconnects), so the stream cannot stall
      inFlight.forEach((sent, id) => { if (now - sent > 3000) inFlight.delete(id); });
      const interval = 1000 / Number($("live-fps").value);
      if (socket && socket.readyState === 1 && inFlight.size < MAX_IN_FLIGHT && now - lastSent >= interval) {
        lastSent = now;
        sendFrame();
      }
      requestAnimationFrame(loop);
    }

    async function start() {
      try {
        setStatus("Opening camera…");
        await openCamera();
      } catch (err) {
        setStatus(`Camera unavailable: ${err.message || err.name}`);
        return;
      }
      running = true;
      openSocket();
      button.innerHTML = '<i class="bi bi-stop-fill"></i> Stop';
      requestAnimationFrame(loop);
    }

    function stop() {
      running = false;
      if (socket) socket.close();
      if (stream) stream.getTracks().forEach((t) => t.stop());
      ctx.clearRect(0, 0, overlay.width, overlay.height);
      overlay.dataset.faces = "0";
      inFlight.clear();
      resetStats();
      button.innerHTML = '<i class="bi bi-play-fill"></i> Start';
      setStatus("Stopped");
    }

    button.addEventListener("click", () => (running ? stop() : start()));
    deviceSelect.addEventListener("change", () => { if (running) openCamera(); });
    $("live-camera").addEventListener("change", () => { if (running && socket) socket.close(); });
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus("This browser cannot open a camera here (a camera needs HTTPS or localhost).");
      button.disabled = true;
    }
  }

  const controls = $("live-controls");
  if (controls) controls.addEventListener("submit", (event) => event.preventDefault());
  if (root.dataset.mode === "viewer") viewer(); else browser();
})();
