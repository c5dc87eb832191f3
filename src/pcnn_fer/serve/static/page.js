// The pcnn-fer page: photos or webcam frames go to /v1/analyze; boxes, labels, probabilities, the sense organs'
// shares and, on demand, the Grad-CAM layer come back and are drawn here. No external script or font.
"use strict";

const $ = (id) => document.getElementById(id);
const page = { inFlight: false, stream: null, timer: null };

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function query() {
  const params = new URLSearchParams();
  params.set("explain", $("heatmap").checked);
  params.set("flip_tta", $("flip").checked);
  return params.toString();
}

async function analyze(blob, name) {
  const form = new FormData();
  form.append("image", blob, name);
  const headers = {};
  if ($("token").value) headers.Authorization = `Bearer ${$("token").value}`;
  const response = await fetch(`/v1/analyze?${query()}`, { method: "POST", body: form, headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : response.statusText);
  return body;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function percent(value) {
  return `${(100 * value).toFixed(1)}%`;
}

function drawBoxes(result) {
  const boxes = $("boxes");
  boxes.replaceChildren();
  result.faces.forEach((face, index) => {
    const [x0, y0, x1, y1] = face.box;
    const box = element("div", { class: "box", "data-label": face.label });
    box.style.left = percent(x0 / result.width);
    box.style.top = percent(y0 / result.height);
    box.style.width = percent((x1 - x0) / result.width);
    box.style.height = percent((y1 - y0) / result.height);
    box.append(element("span", {}, `${index + 1}. ${face.label}`));
    boxes.append(box);
  });
}

function probabilityBars(face) {
  const bars = element("div", { class: "bars" });
  const entries = Object.entries(face.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, value] of entries) {
    const bar = element("div", { class: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "1",
                                 "aria-valuenow": value.toFixed(3), "aria-label": `${name} probability` });
    const fill = element("div");
    fill.style.width = percent(value);
    bar.append(fill);
    bars.append(element("span", {}, name), bar, element("span", {}, percent(value)));
  }
  return bars;
}

function organChart(face) {
  // One horizontal bar per sense organ: its share of the vote for the label (the shares sum to 1).
  const organs = Object.entries(face.organ_contributions);
  const svgNS = "http://www.w3.org/2000/svg";
  const width = 240, row = 18, labelWidth = 80;
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", "organ-chart");
  svg.setAttribute("width", width);
  svg.setAttribute("height", row * organs.length + 4);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "sense organs' shares of the vote: "
    + organs.map(([name, share]) => `${name.replace("_", " ")} ${percent(share)}`).join(", "));
  const largest = Math.max(...organs.map(([, share]) => share), 1e-9);
  organs.forEach(([name, share], i) => {
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", 0);
    label.setAttribute("y", i * row + 13);
    label.textContent = name.replace("_", " ");
    const bar = document.createElementNS(svgNS, "rect");
    bar.setAttribute("class", "organ-bar");
    bar.setAttribute("x", labelWidth);
    bar.setAttribute("y", i * row + 3);
    bar.setAttribute("height", row - 6);
    bar.setAttribute("width", ((width - labelWidth - 40) * share / largest).toFixed(1));
    bar.setAttribute("fill", "#8250df");
    const value = document.createElementNS(svgNS, "text");
    value.setAttribute("x", width - 36);
    value.setAttribute("y", i * row + 13);
    value.textContent = percent(share);
    svg.append(label, bar, value);
  });
  return svg;
}

function faceCards(result) {
  const list = $("faces");
  list.replaceChildren();
  result.faces.forEach((face, index) => {
    const card = element("li", { class: "face-card", "data-label": face.label });
    const confidence = face.probabilities[face.label];
    card.append(element("h3", {}, `Face ${index + 1}: ${face.label} (${percent(confidence)})`));
    card.append(probabilityBars(face));
    if (Object.keys(face.organ_contributions).length) {
      card.append(element("p", { class: "help" }, "Share of the vote by sense organ: how strongly each organ, "
        + "judged on its own, backs this label. The heat map shows where the whole-face decision looked; "
        + "the two can differ."), organChart(face));
    }
    list.append(card);
  });
}

function render(picture, result) {
  const canvas = $("photo");
  canvas.width = result.width;
  canvas.height = result.height;
  canvas.getContext("2d").drawImage(picture, 0, 0, result.width, result.height);
  const heat = $("heat");
  heat.hidden = !result.heatmap_png;
  if (result.heatmap_png) heat.src = `data:image/png;base64,${result.heatmap_png}`;
  drawBoxes(result);
  faceCards(result);
  $("caption").textContent = `${result.input}: ${result.faces.length} face(s), ${result.width} x ${result.height} px, `
    + `${Math.round(result.timings_ms.total)} ms`;
  $("stage").hidden = false;
  document.body.dataset.faces = String(result.faces.length);
}

function clearResult() {
  // After an error the pane shows nothing: an earlier photo's faces would pass for the failed one's.
  $("stage").hidden = true;
  $("heat").hidden = true;
  $("heat").removeAttribute("src");
  $("boxes").replaceChildren();
  $("faces").replaceChildren();
  $("caption").textContent = "";
  delete document.body.dataset.faces;
}

async function analyzeFiles(files) {
  for (const file of files) {
    status(`Analysing ${file.name}...`);
    try {
      const picture = await createImageBitmap(file, { imageOrientation: "from-image" });
      const result = await analyze(file, file.name);
      render(picture, result);
      status(`${file.name}: ${result.faces.length} face(s).`);
    } catch (error) {
      clearResult();
      status(`${file.name}: ${error.message}`, true);
    }
  }
}

async function sendFrame() {
  const video = $("camera");
  if (page.inFlight || !video.videoWidth) return;  // one frame at a time: never queue up behind the server
  page.inFlight = true;
  const grab = document.createElement("canvas");
  grab.width = video.videoWidth;
  grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  try {
    const blob = await new Promise((resolve) => grab.toBlob(resolve, "image/jpeg", 0.85));
    render(grab, await analyze(blob, "webcam.jpg"));
    status("Webcam: live.");
  } catch (error) {
    clearResult();
    status(`Webcam: ${error.message}`, true);
  } finally {
    page.inFlight = false;
  }
}

async function toggleWebcam() {
  const button = $("webcam");
  if (page.stream) {
    clearInterval(page.timer);
    page.stream.getTracks().forEach((track) => track.stop());
    page.stream = null;
    button.textContent = "Start webcam";
    button.setAttribute("aria-pressed", "false");
    status("Webcam stopped.");
    return;
  }
  try {
    page.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  } catch (error) {
    status(`Webcam unavailable: ${error.message}`, true);
    return;
  }
  const video = $("camera");
  video.srcObject = page.stream;
  await video.play();
  button.textContent = "Stop webcam";
  button.setAttribute("aria-pressed", "true");
  const every = Math.max(100, Number($("interval").value) || 300);
  page.timer = setInterval(sendFrame, every);
}

function wire() {
  const drop = $("drop");
  drop.addEventListener("click", () => $("files").click());
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      $("files").click();
    }
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    analyzeFiles([...event.dataTransfer.files]);
  });
  $("files").addEventListener("change", (event) => {
    const files = [...event.target.files];
    event.target.value = "";  // picking the same photo again is a change too
    analyzeFiles(files);
  });
  $("webcam").addEventListener("click", toggleWebcam);
}

document.addEventListener("DOMContentLoaded", wire);
