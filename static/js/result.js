// Result page: numbered face boxes drawn over the stored photo (and its enlarged copy), each box
// linked to its table row (hover or focus highlights both; a click on a box shows its row), and the
// review of the whole photo saved without leaving the page. The figures come from the page's
// `face-data` JSON and, after each save, from the review's JSON answer.
(function () {
  const dataEl = document.getElementById("face-data");
  if (!dataEl) return;
  let data = JSON.parse(dataEl.textContent);
  // A face narrower than this on screen is drawn with its number only, and the legend names it.
  const LABEL_MIN_PX = 90;
  const figures = Array.from(document.querySelectorAll(".photo-review"));
  const zoom = document.getElementById("photo-zoom");

  const maskWord = (face) => (face.mask === "with_mask" ? "mask" : "no mask");
  // A close-up in which no face was found is classified whole: its "box" is the whole photo, drawn
  // dashed (.face-box-whole_image) and named as such in its tag and the legend.
  const WHOLE_IMAGE = "whole_image";
  const WHOLE_IMAGE_NOTE = "whole image classified";
  const isWhole = (face) => face.fallback === WHOLE_IMAGE;
  const description = (face) => `${face.person || "unknown"} · ${maskWord(face)}${isWhole(face) ? ` · ${WHOLE_IMAGE_NOTE}` : ""}`;
  const label = (face) => `${face.n} ${description(face)}`;
  const colour = (face) => (face.unsure ? "unsure" : face.mask);

  function highlight(id, on) {
    document.querySelectorAll(`[data-face="${id}"]`).forEach((el) => el.classList.toggle("is-active", on));
  }

  function linkHover(el, id) {
    el.addEventListener("mouseenter", () => highlight(id, true));
    el.addEventListener("mouseleave", () => highlight(id, false));
    el.addEventListener("focusin", () => highlight(id, true));
    el.addEventListener("focusout", () => highlight(id, false));
  }

  // Draws the boxes of one figure; returns true when some face was too small for a label.
  function draw(figure) {
    const img = figure.querySelector("img");
    const layer = figure.querySelector(".face-layer");
    if (!img.complete || !img.naturalWidth || !data.width) return false;
    const scale = img.clientWidth / data.width;
    const numbersOnly = data.faces.some((f) => (f.box[2] - f.box[0]) * scale < LABEL_MIN_PX);
    layer.replaceChildren(...data.faces.map((face) => {
      const [x1, y1, x2, y2] = face.box;
      const box = document.createElement("button");
      box.type = "button";
      box.className = `face-box face-box-${colour(face)}${numbersOnly ? " numbers-only" : ""}`;
      if (face.fallback) box.classList.add(`face-box-${face.fallback}`);
      box.dataset.face = face.id;
      box.style.left = `${(x1 / data.width) * 100}%`;
      box.style.top = `${(y1 / data.height) * 100}%`;
      box.style.width = `${((x2 - x1) / data.width) * 100}%`;
      box.style.height = `${((y2 - y1) / data.height) * 100}%`;
      box.title = `${label(face)} · ${face.review_label}${face.fallback_label && !isWhole(face) ? ` · ${face.fallback_label}` : ""}`;
      box.setAttribute("aria-label", box.title);
      const tag = document.createElement("span");
      tag.className = "face-tag";
      tag.textContent = numbersOnly ? face.n : label(face);
      box.appendChild(tag);
      linkHover(box, face.id);
      box.addEventListener("click", (event) => {
        event.stopPropagation();
        if (zoom && zoom.contains(box)) bootstrap.Modal.getOrCreateInstance(zoom).hide();
        const row = document.getElementById(`face-${face.id}`);
        if (row) {
          row.scrollIntoView({ block: "nearest", behavior: "smooth" });
          highlight(face.id, true);
          setTimeout(() => highlight(face.id, false), 1500);
        }
      });
      return box;
    }));
    return numbersOnly;
  }

  // The legend beside a figure (below the photo, or beside the enlarged one) names the numbers.
  function drawLegend(legend, show) {
    if (!legend) return;
    legend.hidden = !show;
    legend.replaceChildren(...data.faces.map((face) => {
      const li = document.createElement("li");
      li.dataset.face = face.id;
      const swatch = document.createElement("span");
      swatch.className = `swatch swatch-${colour(face)}${isWhole(face) ? " swatch-whole_image" : ""}`;
      li.append(swatch, ` ${description(face)}`);
      linkHover(li, face.id);
      return li;
    }));
  }

  function legendOf(figure) {
    return figure.closest(".modal") ? figure.parentElement.querySelector(".face-legend") : document.getElementById("face-legend");
  }

  function redraw() {
    figures.forEach((figure) => {
      if (figure.closest(".modal") && !zoom.classList.contains("show")) return;
      drawLegend(legendOf(figure), draw(figure));
    });
  }

  figures.forEach((figure) => {
    const img = figure.querySelector("img");
    img.addEventListener("load", () => {
      figure.style.setProperty("--photo-aspect", img.naturalWidth / img.naturalHeight);
      redraw();
    });
    if (img.complete) figure.style.setProperty("--photo-aspect", img.naturalWidth / img.naturalHeight || 1.5);
    new ResizeObserver(() => drawLegend(legendOf(figure), draw(figure))).observe(figure);
  });
  const main = document.getElementById("photo");
  if (main && zoom) {
    main.addEventListener("click", () => bootstrap.Modal.getOrCreateInstance(zoom).show());
    zoom.addEventListener("shown.bs.modal", redraw);
  }
  document.querySelectorAll(".face-row").forEach((row) => linkHover(row, row.dataset.face));
  redraw();

  // --- review of the whole photo, saved in place ---------------------------------------------
  const form = document.getElementById("review-form");
  const status = document.getElementById("review-status");

  function showReview(result) {
    data = result;
    document.getElementById("summary").textContent = result.summary.charAt(0).toUpperCase() + result.summary.slice(1);
    const zoomSummary = document.getElementById("zoom-summary");
    if (zoomSummary) zoomSummary.textContent = result.summary;
    result.faces.forEach((face) => {
      const row = document.getElementById(`face-${face.id}`);
      if (!row) return;
      const mask = row.querySelector(`select[name="mask-${face.id}"]`);
      if (mask) mask.value = face.mask;
      const person = row.querySelector(`select[name="person-${face.id}"]`);
      if (person) person.value = face.person_id === null ? "" : String(face.person_id);
      row.querySelector(".face-number").className = `face-number face-number-${face.mask}`;
      const badge = row.querySelector(".review-badge");
      badge.className = `badge review-badge review-${face.review}`;
      badge.textContent = face.review_label;
    });
    redraw();
  }

  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new FormData(form);
      if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
      const buttons = form.querySelectorAll("button[type=submit]");
      buttons.forEach((b) => { b.disabled = true; });
      status.className = "small mb-2 text-muted";
      status.textContent = "Saving…";
      try {
        const response = await fetch(form.action, {
          method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
        });
        const result = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(result.detail || `The server answered ${response.status}.`);
        showReview(result);
        status.className = "small mb-2 text-success";
        status.textContent = result.message;
      } catch (error) {
        status.className = "small mb-2 text-danger";
        status.textContent = `Review not saved: ${error.message}`;
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }
})();
