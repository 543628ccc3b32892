// The console's page behaviour: CSRF header on every htmx request, errors and lost connections shown, the live
// stream kept alive (renewing the session when its access token expires), keyboard shortcuts, countdowns.
// No rule of the business is decided here: the server renders what may be done.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

export function message(id) {
  const template = document.getElementById("msg-" + id);
  return template ? template.content.textContent.trim() : id;
}

// Toasts: short notices read out by screen readers (the region is aria-live).
export function toast(text, kind = "info") {
  const region = $("#toasts");
  if (!region) return;
  const item = document.createElement("div");
  item.className = "toast toast-" + kind;
  item.textContent = text;
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

function setOffline(offline, text) {
  const banner = $("#offline");
  if (!banner) return;
  if (text) banner.textContent = text;
  banner.hidden = !offline;
}

// Renewing the session from the refresh cookie (the live stream cannot follow a redirect as a page load does).
let renewing = null;
export function renewSession() {
  if (!renewing) {
    renewing = fetch("/api/v1/auth/refresh", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": cookie("csrf_token") },
    })
      .then((response) => response.ok)
      .catch(() => false)
      .finally(() => setTimeout(() => { renewing = null; }, 5000));
  }
  return renewing;
}

function wireHtmx() {
  document.body.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = cookie("csrf_token");
  });
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    // Field errors come back as the re-rendered form (422) and a stale version as the conflict view (409): show them.
    if (status === 422 || status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status === 401) return; // HX-Redirect to the sign-in page follows
    const holder = document.createElement("div");
    holder.innerHTML = xhr.responseText || "";
    const banner = holder.querySelector("[role=alert]");
    toast(banner ? banner.textContent.trim() : message("error"), "error");
  });
  document.body.addEventListener("htmx:sendError", () => setOffline(true, message("offline")));
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.successful) setOffline(false);
  });
  // The live stream: the extension reconnects by itself; an expired access token is renewed first.
  document.body.addEventListener("htmx:sseError", async () => {
    setOffline(true, message("reconnecting"));
    await renewSession();
  });
  document.body.addEventListener("htmx:sseOpen", () => setOffline(false));
  window.addEventListener("offline", () => setOffline(true, message("offline")));
  window.addEventListener("online", () => setOffline(false));
}

// Keyboard: / search, g i|w|d go to, j/k rows, Enter open, Esc close, 1–9 the Nth move, ? the cheat sheet.
// Ignored while typing or while a dialog is open (Esc still closes it).
function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function openDialog() {
  return $$("dialog[open]").pop() || null;
}

function rows() {
  return $$("[data-row]").filter((row) => row.offsetParent !== null);
}

function focusRow(step) {
  const all = rows();
  if (!all.length) return;
  const current = all.indexOf(document.activeElement.closest("[data-row]"));
  const next = current < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, current + step));
  all[next].focus();
  all[next].scrollIntoView({ block: "nearest" });
}

function moveButtons() {
  const scope = document.activeElement && document.activeElement.closest("[data-row]");
  const inRow = scope ? $$("[data-move]", scope) : [];
  return inRow.length ? inRow : $$("[data-move]").filter((b) => !b.closest("[data-row]") && b.offsetParent !== null);
}

let pendingG = 0;
function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const dialog = openDialog();
  if (event.key === "Escape") {
    if (dialog) { dialog.close(); event.preventDefault(); return; }
    if (typing(event.target)) { event.target.blur(); return; }
    const open = $("details[open]");
    if (open) open.open = false;
    return;
  }
  if (dialog || typing(event.target)) return;
  const key = event.key;
  if (pendingG && Date.now() - pendingG < 1500) {
    pendingG = 0;
    const link = $(`a[data-hotkey="${key}"]`);
    if (link) { event.preventDefault(); link.click(); }
    return;
  }
  if (key === "g") { pendingG = Date.now(); return; }
  if (key === "/") {
    const search = $("[data-search]");
    if (search) { event.preventDefault(); search.focus(); search.select && search.select(); }
    return;
  }
  if (key === "?") { event.preventDefault(); const help = $("#shortcuts"); if (help) help.showModal(); return; }
  if (key === "j") { event.preventDefault(); focusRow(1); return; }
  if (key === "k") { event.preventDefault(); focusRow(-1); return; }
  if (key === "Enter") {
    const row = document.activeElement && document.activeElement.closest("[data-row]");
    const link = row && $("[data-open]", row);
    if (link && document.activeElement === row) { event.preventDefault(); link.click(); }
    return;
  }
  if (/^[1-9]$/.test(key)) {
    const button = moveButtons()[Number(key) - 1];
    if (button) { event.preventDefault(); button.click(); }
  }
}

// "Try again in N s": counts down from Retry-After and keeps the submit button off until then.
function countdowns(root = document) {
  for (const counter of $$("[data-countdown]", root)) {
    let left = Number(counter.dataset.countdown);
    const buttons = $$("[data-countdown-disables]");
    buttons.forEach((b) => { b.disabled = true; });
    const tick = setInterval(() => {
      left -= 1;
      counter.textContent = String(Math.max(0, left));
      if (left <= 0) {
        clearInterval(tick);
        buttons.forEach((b) => { b.disabled = false; });
      }
    }, 1000);
  }
}

function wireShortcutsButton() {
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-shortcuts-open]");
    if (opener) { const help = $("#shortcuts"); if (help) help.showModal(); }
  });
}

wireHtmx();
wireShortcutsButton();
document.addEventListener("keydown", onKey);
countdowns();
