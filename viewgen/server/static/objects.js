// The object page: pick an object, then drag to move the camera around it. Each view is one
// GET of /api/objects/{id}/view.png at absolute angles; while one is on its way, further drags
// only update the angles, and the newest angles are asked for when it arrives (never a queue).
"use strict";

const DEGREES_PER_PIXEL = 0.6;
const KEY_STEP = 10;
const ELEVATION_LIMIT = 89;
const SPIN_DEGREES = 6;  // per view while spinning: the next view is asked for when the last one arrived

const $ = (id) => document.getElementById(id);
const state = { scene: null, azimuth: 0, elevation: 0, busy: false, wanted: false, drag: null, shown: null,
                viewsShown: 0, spinning: false };
window.viewgenObjects = state;  // for the browser test and the curious

function say(text, kind = "info") {
  const message = $("object-message");
  message.textContent = text;
  message.className = `message ${kind}`;
}

async function detail(response) {
  try { return (await response.json()).detail || response.statusText; } catch { return response.statusText; }
}

function showAngles() {
  $("azimuth").textContent = state.azimuth.toFixed(1);
  $("elevation").textContent = state.elevation.toFixed(1);
}

async function requestView() {
  if (!state.scene) return;
  if (state.busy) { state.wanted = true; return; }
  state.busy = true;
  state.wanted = false;
  const query = `azimuth=${state.azimuth.toFixed(3)}&elevation=${state.elevation.toFixed(3)}`;
  try {
    const response = await fetch(`/api/objects/${state.scene.id}/view.png?${query}`);
    if (!response.ok) { say(await detail(response), "error"); return; }
    const url = URL.createObjectURL(await response.blob());
    if (state.shown) URL.revokeObjectURL(state.shown);
    state.shown = url;
    $("object-view").src = url;
    $("render-ms").textContent = response.headers.get("X-Render-Ms") || "–";
  } catch (error) {
    say(`The server did not answer: ${error.message}`, "error");
  } finally {
    state.busy = false;
    if (state.spinning && !state.drag) turn(SPIN_DEGREES, 0);
    else if (state.wanted) requestView();
  }
}

function setSpinning(on) {
  state.spinning = on;
  $("spin").classList.toggle("active", on);
  $("spin").textContent = on ? "Stop" : "Spin";
  if (on && !state.busy) turn(SPIN_DEGREES, 0);
}

function turn(dAzimuth, dElevation) {
  state.azimuth = ((state.azimuth + dAzimuth) % 360 + 360) % 360;
  state.elevation = Math.max(-ELEVATION_LIMIT, Math.min(ELEVATION_LIMIT, state.elevation + dElevation));
  showAngles();
  requestView();
}

function useScene(scene) {
  state.scene = scene;
  state.azimuth = scene.azimuth;
  state.elevation = scene.elevation;
  $("object-source").src = `/api/objects/${scene.id}/source.png`;
  $("object-name").textContent = scene.name;
  showAngles();
  say("Drag on the view to move the camera around the object.");
  requestView();
}

async function loadExample(name) {
  say(`Loading the ${name}…`);
  const response = await fetch(`/api/objects/examples/${encodeURIComponent(name)}`, { method: "POST" });
  if (!response.ok) { say(await detail(response), "error"); return; }
  useScene(await response.json());
}

async function upload(file) {
  const azimuth = Number($("upload-azimuth").value);
  const elevation = Number($("upload-elevation").value);
  say(`Reading ${file.name}…`);
  const query = `azimuth=${azimuth}&elevation=${elevation}&name=${encodeURIComponent(file.name)}`;
  const response = await fetch(`/api/objects/upload?${query}`, { method: "POST", body: file });
  if (!response.ok) { say(await detail(response), "error"); return; }
  useScene(await response.json());
}

function bindDragging(view) {
  view.addEventListener("pointerdown", (event) => {
    state.drag = { x: event.clientX, y: event.clientY };
    view.setPointerCapture(event.pointerId);
    view.classList.add("dragging");
  });
  view.addEventListener("pointermove", (event) => {
    if (!state.drag) return;
    const dx = event.clientX - state.drag.x;
    const dy = event.clientY - state.drag.y;
    state.drag = { x: event.clientX, y: event.clientY };
    // dragging right turns the object to the right: the camera goes left (azimuth down)
    turn(-dx * DEGREES_PER_PIXEL, dy * DEGREES_PER_PIXEL);
  });
  const stop = () => { state.drag = null; view.classList.remove("dragging"); };
  view.addEventListener("pointerup", stop);
  view.addEventListener("pointercancel", stop);
  view.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [KEY_STEP, 0], ArrowRight: [-KEY_STEP, 0], ArrowUp: [0, KEY_STEP],
                    ArrowDown: [0, -KEY_STEP] };
    if (event.key in moves) { event.preventDefault(); turn(...moves[event.key]); }
    if (event.key === "Home" && state.scene) { event.preventDefault(); useScene(state.scene); }
    if (event.key === " ") { event.preventDefault(); setSpinning(!state.spinning); }
  });
}

async function start() {
  bindDragging($("object-view"));
  $("object-view").addEventListener("load", () => { state.viewsShown += 1; });
  $("back-to-source").addEventListener("click", () => state.scene && useScene(state.scene));
  $("spin").addEventListener("click", () => setSpinning(!state.spinning));
  $("object-upload").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) upload(file);
  });
  const response = await fetch("/api/objects");
  if (!response.ok) { say(await detail(response), "error"); return; }
  const info = await response.json();
  for (const name of info.examples) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.addEventListener("click", () => loadExample(name));
    $("examples").appendChild(button);
  }
  await loadExample(info.examples[0]);
}

start();
