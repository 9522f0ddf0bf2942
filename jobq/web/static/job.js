// A job's page: the server rendered it (every value escaped); this wires its retry and
// cancel buttons, and reloads it while the job is unfinished and the tab is visible.
"use strict";

(() => {
  const { act, every } = jobq;

  for (const button of document.querySelectorAll("button[data-action]")) {
    const path = "api/jobs/" + encodeURIComponent(button.dataset.jobId) + "/" +
                 button.dataset.action;
    button.addEventListener("click", () => act(button, path, () => location.reload()));
  }

  const main = document.getElementById("job");
  const seconds = Number(document.body.dataset.refresh);
  if (main && main.dataset.finished === "false" && seconds > 0) {
    let first = true;
    // The first call is the page itself, just loaded; the later ones reload it.
    every(seconds, () => {
      if (first) {
        first = false;
      } else {
        location.reload();
      }
    });
  }
})();
