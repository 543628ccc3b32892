// The work list: on a phone the filter panel starts folded unless a filter is set (the search stays open).
const panel = document.querySelector("[data-collapse-on-phone]");
if (panel && window.matchMedia("(max-width: 640px)").matches && !/\(\d+\)/.test(panel.querySelector("summary").textContent)) {
  panel.open = false;
}
