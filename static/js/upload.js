// Upload page: drag-and-drop into the file input, a list of the chosen files, and an upload
// progress bar (the form is posted with XHR so large uploads show progress; the server's
// redirect to the result or batch page is then followed).
(function () {
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("files");
  const list = document.getElementById("file-list");
  const bar = document.getElementById("upload-progress");
  if (!form || !input) return;

  function showFiles() {
    list.replaceChildren();
    Array.from(input.files).forEach((file) => {
      const li = document.createElement("li");
      li.textContent = `${file.name} (${Math.max(1, Math.round(file.size / 1024))} kB)`;
      list.appendChild(li);
    });
  }

  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("dragover")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      showFiles();
    }
  });
  input.addEventListener("change", showFiles);

  form.addEventListener("submit", (event) => {
    if (!window.XMLHttpRequest || !input.files.length) return; // let the browser post it
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    const fill = bar.querySelector(".progress-bar");
    bar.classList.remove("d-none");
    document.getElementById("upload-submit").disabled = true;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) fill.style.width = `${Math.round((e.loaded / e.total) * 100)}%`;
    });
    xhr.addEventListener("load", () => {
      if (xhr.responseURL && xhr.responseURL !== location.href && xhr.status < 400) {
        location.assign(xhr.responseURL);
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", () => {
      MaskPortal.toast("The upload failed; check your connection and try again.", "danger");
      document.getElementById("upload-submit").disabled = false;
    });
    xhr.open("POST", form.action || location.href);
    xhr.send(new FormData(form));
  });
})();
