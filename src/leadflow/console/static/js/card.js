// The request card: the move dialog (opened when its form arrives, closed by Cancel or Esc), the file upload
// refreshing the file list. Everything shown comes from the server; nothing is computed here.
// (Self-contained: a module's relative import would not carry the content hash of the file it imports.)
function notify(text) {
  const region = document.getElementById("toasts");
  if (!region || !text) return;
  const item = document.createElement("div");
  item.className = "toast toast-ok";
  item.textContent = text;
  region.append(item);
  setTimeout(() => item.remove(), 6000);
}

const dialog = document.getElementById("move-dialog");
const body = document.getElementById("move-body");

document.body.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target !== body || !dialog) return;
  if (!dialog.open) dialog.showModal();
  const first = body.querySelector("[aria-invalid=true], select, input:not([type=hidden]), textarea, button[type=submit]");
  if (first) first.focus();
});

document.addEventListener("click", (event) => {
  if (event.target.closest("[data-close-dialog]") && dialog) dialog.close();
});

if (dialog) dialog.addEventListener("close", () => { body.replaceChildren(); });

document.body.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload")) return;
  if (event.detail.successful) {
    form.reset();
    document.body.dispatchEvent(new CustomEvent("files-changed"));
    const done = document.getElementById("msg-uploaded");
    notify(done ? done.content.textContent.trim() : "");
  }
});
