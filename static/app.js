// Progressive enhancement only: every form also works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.requestSubmit());
  }

  // The register form sends the browser's time zone (an IANA name, checked by the server).
  for (const input of document.querySelectorAll("input[data-browser-timezone]")) {
    try {
      input.value = input.value || Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      input.value = "";
    }
  }

  // "Back to the form" on a refusal page: the browser's own Back restores what was typed.
  for (const link of document.querySelectorAll("a[data-back]")) {
    link.addEventListener("click", (event) => {
      if (window.history.length > 1) {
        event.preventDefault();
        window.history.back();
      }
    });
  }

  // A lab grid's basket: its purpose goes along to another page of the day once typed
  // (the grid's links include "#basket-purpose[data-filled]"; the grid is swapped, hence
  // the listener on the body).
  document.body.addEventListener("input", (event) => {
    const field = event.target;
    if (field.id === "basket-purpose") field.toggleAttribute("data-filled", field.value !== "");
  });

  // htmx swaps nothing for a 4xx/5xx answer: say why, and leave the form as it was typed.
  const requestError = document.getElementById("request-error");
  document.body.addEventListener("htmx:beforeRequest", () => {
    if (requestError) requestError.hidden = true;
  });
  // A form marked data-swap-invalid gets its 422 answer swapped in: the same form again with
  // what was typed and the message next to the field.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (event.detail.xhr.status === 422 && elt && elt.closest("[data-swap-invalid]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:responseError", (event) => {
    if (!requestError) return;
    const page = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
    const said = page.querySelector("[data-error-message]");
    const text = said ? said.textContent.trim() : "";
    requestError.textContent = text || requestError.dataset.fallback;
    requestError.hidden = false;
    requestError.scrollIntoView({ block: "nearest" });
  });

  // Header dropdowns (<details>): one open at a time; a tap outside or Escape closes them.
  const dropdowns = [...document.querySelectorAll(".topbar details")];
  const closeAll = (except) => {
    for (const details of dropdowns) {
      if (details !== except) details.open = false;
    }
  };
  for (const details of dropdowns) {
    details.addEventListener("toggle", () => {
      if (details.open) closeAll(details);
    });
  }
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".topbar details")) closeAll(null);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = dropdowns.find((details) => details.open);
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    }
  });
});
