// The camera button of a scanning field (templates/_camera.html: a button[data-camera] names
// its field in the same form). The phone's or laptop's camera is read in the page by the
// vendored ZXing reader (zxing-reader.js and zxing_reader.wasm, served from here — never from
// a CDN) for a QR code, a DataMatrix or a Code 128. The text read goes into the field and the
// form is submitted, as a keyboard-wedge scanner's Enter would: the page's own handler (the
// scan station's queue, the stocktake's count) takes it from there. A GS1 symbol keeps what
// makes it GS1: its symbology identifier (]d2, ]Q3, ]C1) before the text, whose FNC1
// separators are ASCII GS (\x1d) — the server reads the AIs from that. The camera is stopped
// once a code is read, on the close button, on Escape and when the page is left.
(function () {
  "use strict";
  const FORMATS = ["QRCode", "DataMatrix", "Code128"];
  const GS1 = ["]d2", "]Q3", "]C1"];
  const EVERY_MS = 120; // between two frames read
  let reader = null;
  let open = null; // the camera view now open: { stop() }

  function loadReader() {
    if (reader) return reader;
    reader = new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = "/static/zxing-reader.js";
      script.onload = function () {
        const zxing = window.ZXingWASM;
        zxing.prepareZXingModule({
          overrides: {
            locateFile: function (path, prefix) {
              return path.endsWith(".wasm") ? "/static/" + path : prefix + path;
            },
          },
        });
        resolve(zxing);
      };
      script.onerror = function () {
        reader = null;
        reject(new Error("zxing-reader.js"));
      };
      document.head.appendChild(script);
    });
    return reader;
  }

  // the text a scanner would send for this symbol
  function scanned(result) {
    const id = result.symbologyIdentifier || "";
    return GS1.indexOf(id) >= 0 && !result.text.startsWith(id) ? id + result.text : result.text;
  }

  function deliver(button, text) {
    const form = button.form || button.closest("form");
    const field = form.elements[button.dataset.camera];
    field.value = text;
    field.focus();
    form.requestSubmit();
  }

  async function start(button) {
    if (open) open.stop();
    const view = document.createElement("div");
    view.className = "camera-view";
    view.setAttribute("role", "dialog");
    view.dataset.testid = "camera-view";
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    const hint = document.createElement("p");
    hint.className = "muted";
    hint.textContent = button.dataset.cameraHint;
    const close = document.createElement("button");
    close.type = "button";
    close.dataset.testid = "camera-close";
    close.textContent = button.dataset.cameraClose;
    view.append(video, hint, close);
    button.after(view);
    const canvas = document.createElement("canvas");
    const drawing = canvas.getContext("2d", { willReadFrequently: true });
    let stream = null;
    let timer = 0;
    let stopped = false;
    const state = {
      stop: function () {
        stopped = true;
        clearTimeout(timer);
        if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
        stream = null;
        video.srcObject = null;
        view.remove();
        if (open === state) open = null;
        button.hidden = false;
      },
    };
    open = state;
    button.hidden = true;
    close.addEventListener("click", function () {
      state.stop();
      const field = (button.form || button.closest("form")).elements[button.dataset.camera];
      field.focus();
    });

    function fail(error) {
      state.stop();
      const said = document.createElement("p");
      said.className = "error";
      said.setAttribute("role", "alert");
      said.dataset.testid = "camera-failed";
      const name = error && error.name;
      said.textContent =
        name === "NotAllowedError" || name === "SecurityError" ? button.dataset.cameraDenied
          : name === "NotFoundError" || name === "OverconstrainedError" ? button.dataset.cameraNone
            : button.dataset.cameraFailed;
      button.after(said);
      setTimeout(function () { said.remove(); }, 8000);
    }

    let zxing;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 } },
        audio: false,
      });
      if (stopped) {
        state.stop();
        return;
      }
      zxing = await loadReader();
    } catch (error) {
      fail(error);
      return;
    }
    if (stopped) return;
    video.srcObject = stream;
    try {
      await video.play();
    } catch (error) {
      fail(error);
      return;
    }

    async function frame() {
      if (stopped) return;
      const width = video.videoWidth;
      const height = video.videoHeight;
      if (width && height) {
        canvas.width = width;
        canvas.height = height;
        drawing.drawImage(video, 0, 0, width, height);
        let results = [];
        try {
          results = await zxing.readBarcodes(drawing.getImageData(0, 0, width, height), {
            formats: FORMATS,
            textMode: "Plain",
            tryHarder: true,
            maxNumberOfSymbols: 1,
          });
        } catch (error) {
          fail(error);
          return;
        }
        const found = results.find(function (r) { return r.isValid && r.text; });
        if (found && !stopped) {
          state.stop();
          deliver(button, scanned(found));
          return;
        }
      }
      if (!stopped) timer = setTimeout(frame, EVERY_MS);
    }
    frame();
  }

  const buttons = document.querySelectorAll("button[data-camera]");
  if (!buttons.length || !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return;
  buttons.forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { start(button); });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && open) open.stop();
  });
  window.addEventListener("pagehide", function () {
    if (open) open.stop();
  });
})();
