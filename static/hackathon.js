// Contest pages: let htmx show the server's refusal (any 4xx fragment) inside forms that ask
// for it, so the sheet's status always shows the server's answer.
document.addEventListener("htmx:beforeSwap", (event) => {
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  const status = event.detail.xhr.status;
  if (source && source.closest("[data-swap-errors]") && status >= 400 && status < 500) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// A change not saved yet is never announced as saved: typing clears "Saved.", and a value
// the browser refuses (min, max, step) is shown in the status instead of being sent.
document.addEventListener("input", (event) => {
  const form = event.target.closest && event.target.closest("form[data-swap-errors]");
  if (!form) return;
  form.querySelectorAll(".sheet-status .saved").forEach((node) => node.remove());
});
document.addEventListener("htmx:validation:failed", (event) => {
  const form = event.target.closest && event.target.closest("form[data-swap-errors]");
  const status = form && form.querySelector(".sheet-status");
  if (!status) return;
  status.querySelectorAll(".saved").forEach((node) => node.remove());
  const note = document.createElement("p");
  note.className = "error";
  note.textContent = event.detail.message || event.target.validationMessage || "";
  status.prepend(note);
});
