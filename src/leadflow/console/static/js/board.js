// The dispatch board: drag and drop (SortableJS) onto the same writes as each card's menu, a live board that waits
// while a drag or a menu is in progress, focus kept across re-renders, and a notice when a master declines a job.
// No rule is decided here: the server says what a card may do and answers every write with the board as it is.
// The shell's module under its own content-hashed URL (a relative import would name another hash): the same
// instance the page already runs.
const shellUrl = document.querySelector('script[type="module"][src*="/js/console.js"]').src;
const { message, toast } = await import(shellUrl);

const VIEW = "#board-view";
let dragging = false;
let pending = false;
let sortables = [];

function view() {
  return document.querySelector(VIEW);
}

// A re-render would close an open menu or drop a drag in progress: wait until the dispatcher is done.
function busy() {
  const board = view();
  if (!board) return false;
  if (dragging) return true;
  if (board.querySelector("details[open]")) return true;
  const active = document.activeElement;
  return Boolean(active && board.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName));
}

function refreshWhenFree() {
  if (pending && !busy()) {
    pending = false;
    const board = view();
    if (board) window.htmx.trigger(board, "board:refresh");
  }
}

function post(url, values) {
  const board = view();
  if (!board) return;
  board.classList.add("board-busy");
  const body = { city_id: board.dataset.city, day: board.dataset.day, ...values };
  window.htmx.ajax("POST", url, { target: VIEW, swap: "outerHTML", values: body });
}

// The time a drop along a lane means: the slot under the pointer, in 15-minute steps from the first hour.
function timeAt(track, x) {
  const rect = track.getBoundingClientRect();
  const board = view();
  const slots = Number(board.dataset.slots);
  const first = Number(board.dataset.firstHour);
  const slot = Math.min(slots - 1, Math.max(0, Math.floor(((x - rect.left) / rect.width) * slots)));
  const minutes = first * 60 + slot * 15;
  return String(Math.floor(minutes / 60)).padStart(2, "0") + ":" + String(minutes % 60).padStart(2, "0");
}

function pointerX(event) {
  const e = event.originalEvent;
  if (!e) return null;
  if (e.changedTouches && e.changedTouches.length) return e.changedTouches[0].clientX;
  return typeof e.clientX === "number" ? e.clientX : null;
}

function onDrop(event) {
  dragging = false;
  const item = event.item;
  const from = event.from;
  const to = event.to;
  const id = item.dataset.id;
  const version = item.dataset.version;
  if (to.dataset.drop === "tray") {
    if (from.dataset.drop !== "tray") post(`/board/jobs/${id}/return`, { version });
    else refreshWhenFree();
    return;
  }
  if (from !== to) {
    post(`/board/jobs/${id}/assign`, { version, master_id: to.dataset.master });
    return;
  }
  // Along the same lane: a new visit time (on a phone the lanes are lists, and order means nothing).
  const x = pointerX(event);
  if (getComputedStyle(to).display === "grid" && x !== null) {
    post(`/board/jobs/${id}/time`, { version, time: timeAt(to, x) });
  } else {
    window.htmx.trigger(view(), "board:refresh");
  }
}

function wireDrag() {
  sortables.forEach((s) => s.destroy());
  sortables = [];
  const board = view();
  if (!board || !window.Sortable) return;
  for (const list of board.querySelectorAll("[data-drop]")) {
    sortables.push(
      window.Sortable.create(list, {
        group: "board",
        draggable: ".job",
        filter: ".job-menu, a, input, button",
        preventOnFilter: false,
        sort: list.dataset.drop === "lane",
        forceFallback: true,
        fallbackTolerance: 4,
        animation: 120,
        onStart: () => { dragging = true; },
        onEnd: onDrop,
      }),
    );
  }
}

// Before a re-render: which card had the focus, and which jobs waited for a master's answer.
let focusedId = null;
let offered = new Map();
let liveSwap = false;

function remember() {
  const active = document.activeElement;
  const card = active && active.closest && active.closest("[data-row]");
  focusedId = card && view() && view().contains(card) ? card.dataset.id : null;
  offered = new Map();
  for (const card of document.querySelectorAll(".lanes .job[data-status=awaiting_acceptance]")) {
    offered.set(card.dataset.id, card.querySelector("[data-open]").textContent.trim());
  }
}

function afterRender(live) {
  wireDrag();
  if (focusedId) {
    const again = document.querySelector(`${VIEW} [data-row][data-id="${focusedId}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  const notice = document.querySelector(`${VIEW} .job-notice`);
  if (notice) {
    const card = notice.closest("[data-row]");
    if (card) card.focus({ preventScroll: false });
  }
  if (!live) return;
  // A job a master declined comes back to the tray: say so.
  for (const card of document.querySelectorAll(".tray .job")) {
    if (offered.has(card.dataset.id)) toast(`${message("board-declined")} ${offered.get(card.dataset.id)}`, "error");
  }
}

document.addEventListener("htmx:beforeRequest", (event) => {
  const board = view();
  if (!board || event.detail.elt !== board) return;
  // The live re-fetch (GET on the board itself): deferred while the dispatcher is in the middle of something.
  if (event.detail.requestConfig.verb === "get" && busy()) {
    pending = true;
    event.preventDefault();
  }
});

document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "board-view") {
    liveSwap = Boolean(event.detail.requestConfig && event.detail.requestConfig.verb === "get");
    remember();
  }
});

document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "board-view") afterRender(liveSwap);
});

document.addEventListener("htmx:afterSettle", () => {
  const board = view();
  if (board) board.classList.remove("board-busy");
});

// A menu closed or a field left: a deferred re-render can happen now.
document.addEventListener("toggle", refreshWhenFree, true);
document.addEventListener("focusout", () => setTimeout(refreshWhenFree, 0));
setInterval(refreshWhenFree, 1000);

// Sortable is a classic script loaded with defer; modules run after it.
wireDrag();
