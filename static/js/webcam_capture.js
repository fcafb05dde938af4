// Webcam capture for face enrolment: getUserMedia -> <video> -> canvas -> JPEG File appended to the
// form's hidden <input type=file name=webcam_photos>, so captures upload like any other photo.
(function () {
  document.querySelectorAll("[data-webcam]").forEach((box) => {
    const q = (name) => box.querySelector(`[data-webcam-${name}]`);
    const input = q("input"), video = q("video"), panel = q("panel"), shots = q("shots"), error = q("error");
    const files = new DataTransfer();
    let stream = null;

    function stop() {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      panel.hidden = true;
    }

    q("start").addEventListener("click", async () => {
      error.textContent = "";
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        error.textContent = "This browser cannot use a camera here (a secure https page is needed).";
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: false });
        video.srcObject = stream;
        panel.hidden = false;
      } catch (err) {
        error.textContent = `The camera could not be opened: ${err.message}`;
      }
    });

    q("stop").addEventListener("click", stop);

    q("capture").addEventListener("click", () => {
      if (!stream || !video.videoWidth) return;
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob((blob) => {
        const file = new File([blob], `webcam-${Date.now()}.jpg`, { type: "image/jpeg" });
        files.items.add(file);
        input.files = files.files;
        const img = document.createElement("img");
        img.src = URL.createObjectURL(blob);
        img.width = 80;
        img.className = "rounded border";
        img.title = "captured; uploaded with the form";
        shots.appendChild(img);
      }, "image/jpeg", 0.92);
    });

    window.addEventListener("beforeunload", stop);
  });
})();
