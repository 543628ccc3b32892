// The master's completion page: BSO and receipt photos from the camera, resized and re-encoded to JPEG in the browser
// (at most 1600 px on the long side, quality 0.8) and uploaded to the API's request file route with a progress bar.
// A failed upload is retried (by a tap, or by itself when the connection comes back) with the same Idempotency-Key,
// so a retry never stores the photo twice. After each upload the server re-renders the photo list and the complete
// button (which stays off until a BSO photo is attached): no rule is decided here.

const MAX_SIDE = 1600;
const QUALITY = 0.8;
const section = document.getElementById("attachments");
const consoleModule = section ? import(section.dataset.consoleModule) : Promise.resolve(null);
const pending = new Map(); // kind → {blob, name, key} waiting for a retry

function text(id) {
  const template = document.getElementById("msg-" + id);
  return template ? template.content.textContent.trim() : id;
}

// A fresh key per photo (crypto.randomUUID needs a secure context; a LAN address over http is not one).
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function statusBox(kind) {
  return document.querySelector(`[data-status-for="${kind}"]`);
}

function show(kind, label, value = null, retry = false) {
  const box = statusBox(kind);
  if (!box) return;
  box.replaceChildren();
  const line = document.createElement("p");
  line.className = "upload-line";
  line.textContent = label;
  box.append(line);
  if (value !== null) {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = value;
    bar.setAttribute("aria-label", label);
    box.append(bar);
  }
  if (retry) {
    const again = document.createElement("button");
    again.type = "button";
    again.className = "small";
    again.dataset.retry = kind;
    again.textContent = text("upload-retry");
    box.append(again);
  }
}

// The photo as a JPEG of at most MAX_SIDE pixels on its long side.
async function toJpeg(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff"; // a transparent PNG becomes white, not black
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("encode"))), "image/jpeg", QUALITY),
  );
}

function send(job, kind, item, csrf) {
  return new Promise((resolve) => {
    const body = new FormData();
    body.append("kind", kind);
    body.append("file", item.blob, item.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/requests/${job}/files`);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Idempotency-Key", item.key);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) show(kind, text("upload-sending"), Math.round((100 * event.loaded) / event.total));
    });
    xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.responseText }));
    xhr.addEventListener("error", () => resolve({ status: 0, body: "" }));
    xhr.addEventListener("timeout", () => resolve({ status: 0, body: "" }));
    xhr.timeout = 120000;
    xhr.send(body);
  });
}

function problemText(body) {
  try {
    const problem = JSON.parse(body);
    return (problem.errors && problem.errors[0] && problem.errors[0].message) || problem.detail || "";
  } catch {
    return "";
  }
}

async function upload(kind) {
  const item = pending.get(kind);
  if (!item || item.busy) return;
  item.busy = true;
  const helpers = await consoleModule;
  const job = section.dataset.request;
  show(kind, text("upload-sending"), 0);
  let answer = await send(job, kind, item, helpers.cookie("csrf_token"));
  if (answer.status === 401 && (await helpers.renewSession())) {
    answer = await send(job, kind, item, helpers.cookie("csrf_token"));
  }
  item.busy = false;
  if (answer.status === 200 || answer.status === 201) {
    pending.delete(kind);
    show(kind, text("upload-done"));
    window.htmx.ajax("GET", `/my/${job}/attachments`, { target: "#attachments", swap: "outerHTML" });
    return;
  }
  const retryable = answer.status === 0 || answer.status === 401 || answer.status === 409 || answer.status >= 500;
  if (!retryable) {
    pending.delete(kind); // the server refused this file (type, size): another photo is needed
    show(kind, problemText(answer.body) || text("upload-failed"));
    return;
  }
  show(kind, navigator.onLine ? text("upload-failed") : text("upload-waiting"), null, true);
}

async function picked(input) {
  const file = input.files && input.files[0];
  if (!file) return;
  const kind = input.dataset.upload;
  show(kind, text("upload-sending"), 0);
  try {
    const blob = await toJpeg(file);
    pending.set(kind, { blob, name: `${kind}-${Date.now()}.jpg`, key: newKey(), busy: false });
  } catch {
    show(kind, text("upload-failed"));
    return;
  } finally {
    input.value = "";
  }
  await upload(kind);
}

document.addEventListener("change", (event) => {
  const input = event.target;
  if (input instanceof HTMLInputElement && input.dataset.upload) picked(input);
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-retry]");
  if (button) upload(button.dataset.retry);
});
// Back online: every upload waiting for a retry goes again by itself.
window.addEventListener("online", () => {
  for (const kind of pending.keys()) upload(kind);
});

// The list: a live refresh (a job of mine changed) waits while a reason or a confirmation is open, so what the master
// is typing is not swept away; it runs when that form closes. A move posts the form and brings the fresh list anyway.
let refreshWaiting = false;
document.addEventListener("htmx:confirm", (event) => {
  const jobs = document.getElementById("jobs");
  if (!jobs || event.target !== jobs || event.detail.verb !== "get") return;
  if (jobs.querySelector("details[open]")) {
    event.preventDefault();
    refreshWaiting = true;
  }
});
document.addEventListener(
  "toggle",
  (event) => {
    const jobs = document.getElementById("jobs");
    if (!refreshWaiting || !jobs || !jobs.contains(event.target) || jobs.querySelector("details[open]")) return;
    refreshWaiting = false;
    window.htmx.ajax("GET", jobs.getAttribute("hx-get"), { target: "#jobs", swap: "innerHTML" });
  },
  true,
);
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.target && event.target.id === "jobs") refreshWaiting = false;
});
