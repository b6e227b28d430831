// Contest pages: let htmx show the server's error fragment (422) inside forms that ask for it.
document.addEventListener("htmx:beforeSwap", (event) => {
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (source && source.closest("[data-swap-errors]") && event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
