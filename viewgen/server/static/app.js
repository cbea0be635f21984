// viewgen web demo: one WebSocket per tab; the server generates, this page shows and steers.
// Protocol: see viewgen/server/sessions.py (JSON text messages + one binary message per frame).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const view = $("view");
  const viewCtx = view.getContext("2d");
  const disparityCanvas = $("disparity");
  const disparityCtx = disparityCanvas.getContext("2d");
  const decoder = new TextDecoder();

  // Read by the browser tests; nothing else depends on it.
  const state = {
    connected: false,
    session: null,
    model: null,
    samples: [],
    uploads: false,
    uploadNote: null,
    uploading: false,
    loading: false,
    maxUploadBytes: 0,
    playing: false,
    stopped: false,
    epoch: 0,
    frameIndex: -1,
    framesReceived: 0,
    cursor: [0.5, 0.5],
    showDisparity: false,
    memoryChoice: false, // the model offers "Remember the world" (both models do)
    canFlyBack: false,
    rememberWorld: false, // the choice, from the next start
    worldMemory: false, // the flight in progress remembers the world
    flyingBack: false,
    source: null,
    lastError: "",
    lastMessage: "",
    closeCode: null,
  };
  window.viewgen = state;

  let socket = null;
  let lastBitmap = null;
  let frameChain = Promise.resolve();
  let arrivals = [];
  let bannerKind = null; // "busy" | "expired" | null: a reason the close already explained
  const FLY_BACK_TITLE = "Retrace the path flown, back to frame 0's camera (B)";
  const NO_FLY_BACK = "Infinite Nature Zero cannot fly back: its pipeline cannot change its camera path mid-flight.";

  // ------------------------------------------------------------------ connection

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws`);
    socket.binaryType = "arraybuffer";
    bannerKind = null;
    setConnection("connecting…");
    socket.onopen = () => { state.connected = true; setConnection("connected"); };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        onMessage(JSON.parse(event.data));
      } else {
        const data = event.data;
        frameChain = frameChain.then(() => showFrame(data)).catch((error) => showMessage(`Could not show a frame: ${error}`, "error"));
      }
    };
    socket.onclose = (event) => {
      state.connected = false;
      state.closeCode = event.code;
      state.session = null;
      setConnection("disconnected");
      updateButtons();
      if (!bannerKind) showBanner("Disconnected from the server.", true);
    };
  }

  function send(command) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(command));
  }

  function onMessage(message) {
    switch (message.type) {
      case "hello":
        state.session = message.session;
        state.model = message.model;
        $("model-name").textContent = message.model_label;
        state.samples = message.samples;
        state.uploads = message.uploads;
        state.uploadNote = message.upload_note || null;
        state.maxUploadBytes = message.max_upload_bytes;
        buildSampleButtons(message.samples);
        showUploadNote();
        hideBanner();
        // Restore this page's settings on a fresh session.
        send({ type: "speed", value: Number($("speed").value) });
        send({ type: "max_fps", value: Number($("max-fps").value) });
        state.showDisparity = $("show-disparity").checked;
        $("disparity-frame").hidden = !state.showDisparity;
        send({ type: "disparity", on: state.showDisparity });
        setWorldOffer(message);
        if (message.samples.length) send({ type: "sample", index: 1 });
        else showMessage("No embedded samples on this server: upload a photo.", "info");
        updateButtons();
        break;
      case "state":
        if (state.playing && !message.playing) arrivals = [];
        state.playing = message.playing;
        state.stopped = Boolean(message.stopped);
        state.loading = Boolean(message.loading);
        state.source = message.source;
        state.rememberWorld = Boolean(message.remember_world);
        state.worldMemory = Boolean(message.world_memory);
        state.flyingBack = Boolean(message.flying_back);
        showWorldNote();
        $("source-name").textContent = message.source ? message.source : "no image yet";
        updateFps();
        updateButtons();
        break;
      case "error":
        showMessage(message.message, "error");
        break;
      case "notice":
        showMessage(message.message, "notice");
        break;
      case "progress":
        showMessage(message.message, "info");
        break;
      case "busy":
      case "expired":
        bannerKind = message.type;
        showBanner(message.message, true);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ frames

  async function showFrame(buffer) {
    const bytes = new DataView(buffer);
    const headerLength = bytes.getUint32(0);
    const header = JSON.parse(decoder.decode(new Uint8Array(buffer, 4, headerLength)));
    const start = 4 + headerLength;
    const rgb = new Blob([new Uint8Array(buffer, start, header.rgb_bytes)], { type: "image/jpeg" });
    const bitmap = await createImageBitmap(rgb);
    if (lastBitmap) lastBitmap.close();
    lastBitmap = bitmap;
    fitCanvas(view, bitmap);
    state.cursor = header.cursor;
    drawView();
    if (header.disparity_bytes > 0) {
      const disparity = new Blob([new Uint8Array(buffer, start + header.rgb_bytes, header.disparity_bytes)],
        { type: "image/jpeg" });
      const disparityBitmap = await createImageBitmap(disparity);
      fitCanvas(disparityCanvas, disparityBitmap);
      disparityCtx.drawImage(disparityBitmap, 0, 0, disparityCanvas.width, disparityCanvas.height);
      disparityBitmap.close();
    }
    // Flow control: the server keeps only a few frames in flight; this frame is drawn now.
    send({ type: "ack", seq: header.seq });

    if (header.epoch !== state.epoch || header.index === 0) arrivals = [];
    state.epoch = header.epoch;
    state.frameIndex = header.index;
    state.framesReceived += 1;
    view.dataset.frameIndex = String(header.index);
    if (header.playing && !header.repeat) {
      arrivals.push(performance.now());
      if (arrivals.length > 30) arrivals.shift();
    }
    $("frame-index").textContent = String(header.index);
    if (header.index <= 1) updateButtons(); // Fly back needs a frame flown
    $("gen-ms").textContent = header.index === 0 ? "–" : header.gen_ms.toFixed(0);
    updateFps();
  }

  function fitCanvas(canvas, bitmap) {
    // Twice the frame size, like the original demo (512x320 for 256x160 frames).
    const width = bitmap.width * 2;
    const height = bitmap.height * 2;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
      document.documentElement.style.setProperty("--view-aspect", String(width / height));
    }
  }

  function drawView() {
    if (!lastBitmap) return;
    viewCtx.imageSmoothingEnabled = true;
    viewCtx.imageSmoothingQuality = "high";
    viewCtx.drawImage(lastBitmap, 0, 0, view.width, view.height);
    drawCursor(state.cursor[0] * view.width, state.cursor[1] * view.height);
  }

  function drawCursor(x, y) {
    const size = Math.max(8, view.width / 48);
    viewCtx.save();
    viewCtx.lineWidth = Math.max(1.5, view.width / 320);
    for (const [color, width] of [["rgba(0,0,0,0.6)", viewCtx.lineWidth + 2], ["#ff3030", viewCtx.lineWidth]]) {
      viewCtx.strokeStyle = color;
      viewCtx.lineWidth = width;
      viewCtx.beginPath();
      viewCtx.moveTo(x - size, y); viewCtx.lineTo(x - size / 3, y);
      viewCtx.moveTo(x + size / 3, y); viewCtx.lineTo(x + size, y);
      viewCtx.moveTo(x, y - size); viewCtx.lineTo(x, y - size / 3);
      viewCtx.moveTo(x, y + size / 3); viewCtx.lineTo(x, y + size);
      viewCtx.stroke();
    }
    viewCtx.restore();
  }

  function updateFps() {
    // Only a playing flight has a frame rate; paused shows a dash, not the last rate.
    const now = performance.now();
    const recent = arrivals.filter((t) => now - t < 3000);
    let text = "–";
    if (state.playing) {
      const fresh = recent.length >= 2 && now - recent[recent.length - 1] < 1500;
      text = fresh ? ((recent.length - 1) / ((recent[recent.length - 1] - recent[0]) / 1000)).toFixed(1) : "0.0";
    }
    $("fps").textContent = text;
  }
  setInterval(updateFps, 500);

  // ------------------------------------------------------------------ controls

  function buildSampleButtons(names) {
    const holder = $("sample-buttons");
    holder.replaceChildren();
    holder.hidden = names.length === 0;
    names.forEach((name, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sample";
      button.dataset.sample = String(i + 1);
      button.textContent = `Image ${i + 1}: ${name}`;
      button.addEventListener("click", () => { clearMessage(); send({ type: "sample", index: i + 1 }); });
      holder.appendChild(button);
    });
  }

  function updateButtons() {
    const ready = state.connected && state.session !== null;
    const flying = ready && state.source !== null;
    // A flight that stopped (Infinite Nature Zero's crash) flies again after Restart or another image.
    $("play").disabled = !flying || state.playing || state.stopped;
    $("pause").disabled = !flying || !state.playing;
    $("step").disabled = !flying || state.stopped;
    $("restart").disabled = !flying;
    $("download").disabled = !flying;
    $("fly-back").disabled = !flying || !state.canFlyBack || state.stopped || state.flyingBack
      || state.loading || state.frameIndex < 1;
    $("remember-world").disabled = !ready;
    $("play").classList.toggle("active", state.playing);
    document.querySelectorAll("#sample-buttons button").forEach((b) => { b.disabled = !ready; });
    // Upload: only with a session of our own, a depth backend and no upload under way.
    const canUpload = ready && state.uploads && !state.uploading;
    $("upload").disabled = !canUpload;
    $("upload-label").classList.toggle("disabled", !canUpload);
    $("upload-label").setAttribute("aria-disabled", String(!canUpload));
    $("upload-label").title = canUpload ? "A PNG or JPEG photo"
      : (!ready ? "Not connected to a flight session" : state.uploading ? "Uploading…" : "Uploads are off");
  }

  function setWorldOffer(hello) {
    // "Remember the world" and Fly back are Infinite Nature's; the choice is restored on a fresh session.
    state.memoryChoice = Boolean(hello.memory_choice);
    state.canFlyBack = Boolean(hello.fly_back);
    $("remember-label").hidden = !state.memoryChoice;
    $("fly-back").title = state.canFlyBack ? FLY_BACK_TITLE : NO_FLY_BACK;
    if (state.memoryChoice) send({ type: "world_memory", on: $("remember-world").checked });
  }

  function showWorldNote() {
    const note = $("world-note");
    const pending = state.memoryChoice && state.source !== null && state.rememberWorld !== state.worldMemory;
    note.textContent = pending ? `"Remember the world" is ${state.rememberWorld ? "on" : "off"} from the next start: `
      + "press Restart (R) or pick an image." : "";
    note.hidden = !pending;
  }

  function flyBack() {
    if (!state.canFlyBack) { showMessage(NO_FLY_BACK, "info"); return; }
    if ($("fly-back").disabled) return;
    showMessage("Flying back along the path flown, to frame 0's camera…", "info");
    send({ type: "fly_back" });
  }

  function showUploadNote() {
    const note = $("upload-note");
    note.textContent = state.uploadNote || "";
    note.hidden = !state.uploadNote;
  }

  $("play").addEventListener("click", () => send({ type: "play" }));
  $("pause").addEventListener("click", () => send({ type: "pause" }));
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("restart").addEventListener("click", () => { clearMessage(); send({ type: "restart" }); });
  $("fly-back").addEventListener("click", flyBack);
  $("remember-world").addEventListener("change", () => send({ type: "world_memory", on: $("remember-world").checked }));

  view.addEventListener("click", (event) => {
    if (state.flyingBack) { showMessage("Flying back along the path flown: steering is off until Restart.", "info"); return; }
    const box = view.getBoundingClientRect();
    const x = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1);
    const y = Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1);
    state.cursor = [x, y];
    drawView();
    send({ type: "steer", x, y });
  });

  $("speed").addEventListener("input", () => {
    const value = Number($("speed").value);
    $("speed-value").textContent = `×${value.toFixed(2)}`;
    send({ type: "speed", value });
  });
  $("max-fps").addEventListener("change", () => send({ type: "max_fps", value: Number($("max-fps").value) }));
  $("show-disparity").addEventListener("change", () => {
    state.showDisparity = $("show-disparity").checked;
    $("disparity-frame").hidden = !state.showDisparity;
    // The server sends the current frame again with its disparity, even while paused.
    send({ type: "disparity", on: state.showDisparity });
  });

  // Keys work wherever the focus is, except while typing into a text field or moving a slider.
  const TYPING_INPUTS = new Set(["text", "search", "email", "number", "password", "tel", "url", "range"]);
  function typingTarget(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA") return true;
    return target.tagName === "INPUT" && TYPING_INPUTS.has((target.type || "text").toLowerCase());
  }
  function shortcut(event) {
    if (typingTarget(event.target) || event.ctrlKey || event.metaKey || event.altKey) return null;
    if (event.key === " ") return "space";
    if (event.key === "s" || event.key === "S") return "step";
    if (event.key === "r" || event.key === "R") return "restart";
    if (event.key === "b" || event.key === "B") return "back";
    return null;
  }
  document.addEventListener("keydown", (event) => {
    const key = shortcut(event);
    if (!key) return;
    event.preventDefault(); // Space must not press the focused button or tick the checkbox
    if (event.repeat) return;
    if (key === "space") send({ type: state.playing ? "pause" : "play" });
    else if (key === "step") send({ type: "step" });
    else if (key === "back") flyBack();
    else if (state.source) { clearMessage(); send({ type: "restart" }); }
  }, true);
  // A focused button is pressed by Space on key release: swallow that too.
  document.addEventListener("keyup", (event) => { if (shortcut(event) === "space") event.preventDefault(); }, true);

  $("upload-label").addEventListener("click", (event) => {
    if (!$("upload").disabled) return;
    event.preventDefault();
    if (!state.session) showMessage("Not connected to a flight session: uploads need one.", "error");
    else if (!state.uploads) showMessage(state.uploadNote || "Uploads are off on this server.", "error");
  });

  $("upload").addEventListener("change", async () => {
    const input = $("upload");
    const file = input.files && input.files[0];
    input.value = "";
    if (!file) return;
    if (!state.session) { showMessage("Not connected to the server.", "error"); return; }
    if (state.maxUploadBytes && file.size > state.maxUploadBytes) {
      showMessage(`${file.name} is ${formatBytes(file.size)}; the limit is ${formatBytes(state.maxUploadBytes)}.`, "error");
      return;
    }
    showMessage(`Uploading ${file.name} and estimating its depth…`, "info");
    state.uploading = true;
    updateButtons();
    try {
      const response = await fetch(`/api/sessions/${encodeURIComponent(state.session)}/upload?name=${encodeURIComponent(file.name)}`,
        { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        showMessage(body.detail || `The upload failed (HTTP ${response.status}).`, "error");
        return;
      }
      if (state.uploadNote) { state.uploadNote = null; showUploadNote(); } // the depth model is there now
      const next = state.playing ? "Flying in." : "Press Play to fly in.";
      showMessage(`Loaded ${body.name} (${body.width}×${body.height}). ${next}`, "info");
    } catch (error) {
      showMessage(`The upload failed: ${error}`, "error");
    } finally {
      state.uploading = false;
      updateButtons();
    }
  });

  $("download").addEventListener("click", async () => {
    if (!state.session) return;
    showMessage("Encoding the flight as MP4…", "info");
    $("download").disabled = true;
    try {
      const response = await fetch(`/api/sessions/${encodeURIComponent(state.session)}/flight.mp4`);
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        showMessage(body.detail || `The download failed (HTTP ${response.status}).`, "error");
        return;
      }
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disposition);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = match ? match[1] : "viewgen-flight.mp4";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      showMessage(`Saved ${link.download} (${formatBytes(blob.size)}).`, "info");
    } catch (error) {
      showMessage(`The download failed: ${error}`, "error");
    } finally {
      updateButtons();
    }
  });

  $("reconnect").addEventListener("click", () => {
    hideBanner();
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.close();
    connect();
  });

  // ------------------------------------------------------------------ messages

  function showMessage(text, kind) {
    const element = $("message");
    element.textContent = text;
    element.className = `message ${kind}`;
    state.lastMessage = text;
    if (kind === "error") state.lastError = text;
  }

  function clearMessage() { showMessage("", "info"); }

  function showBanner(text, withReconnect) {
    $("banner-text").textContent = text;
    $("reconnect").hidden = !withReconnect;
    $("banner").hidden = false;
  }

  function hideBanner() { $("banner").hidden = true; }

  function setConnection(text) { $("connection").textContent = text; }

  function formatBytes(count) {
    if (count < 1024) return `${count} bytes`;
    if (count < 1024 * 1024) return `${(count / 1024).toFixed(0)} KB`;
    return `${(count / (1024 * 1024)).toFixed(1)} MB`;
  }

  updateButtons();
  connect();
})();
