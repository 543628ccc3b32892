// The intake page: the queue refreshes its rows live (htmx, on the stream's notifications) without losing the
// focused row or the form being typed in (the form lives in #panel, outside the refreshed region); a new call is
// announced (aria-live) with the text the server rendered for its row; an opened form gets the focus.

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

let focusedId = null;
let knownIds = new Set($$("#queue [data-row]").map((row) => row.dataset.id));

function announce(text) {
  const region = $("#announce");
  if (!region) return;
  region.textContent = "";
  // a fresh text node after a tick, so screen readers read a repeated message again
  setTimeout(() => { region.textContent = text; }, 30);
}

document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "queue") {
    const row = document.activeElement && document.activeElement.closest("#queue [data-row]");
    focusedId = row ? row.dataset.id : null;
  }
});

document.body.addEventListener("htmx:afterSwap", (event) => {
  const target = event.detail.target;
  if (!target) return;
  if (target.id === "queue") {
    const rows = $$("[data-row]", target);
    const fresh = rows.filter((row) => !knownIds.has(row.dataset.id) && row.dataset.status === "new");
    knownIds = new Set(rows.map((row) => row.dataset.id));
    if (fresh.length) announce(fresh.map((row) => row.dataset.announce).join(". "));
    if (focusedId) {
      const again = rows.find((row) => row.dataset.id === focusedId);
      if (again) again.focus({ preventScroll: true });
    }
    // a swapped-in row is also marked for a moment so that sighted users notice it
    fresh.forEach((row) => row.classList.add("is-fresh"));
    return;
  }
  if (target.id === "panel") {
    const first = $("[data-autofocus]", target) || $("[aria-invalid=true]", target) || $("input:not([type=hidden]), select, textarea, button", target);
    const invalid = $("[aria-invalid=true]", target);
    const focusable = invalid || first;
    if (focusable) focusable.focus();
    else target.focus();
    if (window.matchMedia("(max-width: 900px)").matches) target.scrollIntoView({ block: "start" });
  }
});

function closePanel() {
  const panel = $("#panel");
  const hint = $("#panel-hint");
  if (!panel) return;
  panel.replaceChildren();
  if (hint) panel.append(hint.content.cloneNode(true));
  const row = focusedRow && document.querySelector(`#queue [data-row][data-id="${focusedRow}"]`);
  if (row) row.focus();
}

// The row whose action opened the panel: focus goes back to it when the form is closed.
let focusedRow = null;
document.addEventListener("click", (event) => {
  const move = event.target.closest("[data-move]");
  if (move) {
    const row = move.closest("[data-row]");
    focusedRow = row ? row.dataset.id : null;
  }
  if (event.target.closest("[data-panel-close]")) closePanel();
});

// Esc inside the panel closes its form and goes back to the row (before console.js's own Esc handling).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || $("dialog[open]")) return;
  const panel = $("#panel");
  if (panel && panel.contains(document.activeElement) && $("form", panel)) {
    event.preventDefault();
    closePanel();
  }
}, true);
