// Progressive enhancement only: every form also works without JavaScript.
document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.requestSubmit());
  }

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
