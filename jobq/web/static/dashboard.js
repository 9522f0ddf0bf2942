// The dashboard: a row per queue with its counts by state, the failed jobs with their
// error, traceback and a retry button, and the newest jobs. Every value from the API is
// written with textContent (jobq.el), so markup in a job's strings shows as text.
"use strict";

(() => {
  const { api, act, el, every, jobLink, notice, status, time } = jobq;
  const STATES = ["blocked", "scheduled", "pending", "running", "succeeded", "failed",
                  "cancelled"];
  const FAILED_SHOWN = 50;
  const RECENT_SHOWN = 15;

  function countCells(counts) {
    const cells = STATES.map((s) => el("td", { className: counts[s] ? "n" : "n zero",
                                              dataset: { state: s } },
                                      counts[s].toLocaleString()));
    const all = STATES.reduce((sum, s) => sum + counts[s], 0);
    cells.push(el("td", { className: "n all" }, all.toLocaleString()));
    return cells;
  }

  function renderQueues(stats) {
    const names = Object.keys(stats.queues);
    const rows = names.map((name) =>
      el("tr", { dataset: { queue: name } }, el("th", { scope: "row" }, name),
         ...countCells(stats.queues[name])));
    document.querySelector("#queues tbody").replaceChildren(...rows);
    const foot = names.length > 1
      ? [el("tr", {}, el("th", { scope: "row" }, "total"), ...countCells(stats.total))]
      : [];
    document.querySelector("#queues tfoot").replaceChildren(...foot);
    document.getElementById("queues-empty").hidden = names.length > 0;
  }

  function failedItem(job) {
    const error = job.error || { type: "", message: "no error recorded", traceback: "" };
    const retry = el("button", { type: "button", className: "retry" }, "Retry");
    retry.addEventListener("click", () =>
      act(retry, "api/jobs/" + encodeURIComponent(job.id) + "/retry", refresh));
    const parts = [
      el("div", { className: "line" }, jobLink(job.id), " ", el("span", { className: "task" },
         job.task), " on ", el("span", { className: "queue" }, job.queue), " · ",
         job.attempts + " of " + job.max_attempts + " attempts · failed " +
         time(job.finished_at), " ", retry),
      el("p", { className: "error-line" }, error.type + ": " + error.message),
    ];
    if (error.traceback) {
      parts.push(el("details", {}, el("summary", {}, "traceback"),
                    el("pre", { className: "traceback" }, error.traceback)));
    }
    return el("li", { dataset: { jobId: job.id } }, ...parts);
  }

  function renderFailed(jobs, total) {
    document.getElementById("failed").replaceChildren(...jobs.map(failedItem));
    document.getElementById("failed-empty").hidden = jobs.length > 0;
    const more = total > jobs.length ? " (the newest " + jobs.length + ")" : "";
    document.getElementById("failed-count").textContent = total ? total + more : "";
  }

  function renderRecent(jobs) {
    const rows = jobs.map((job) =>
      el("tr", { dataset: { jobId: job.id } }, el("td", {}, jobLink(job.id)),
         el("td", { className: "task" }, job.task), el("td", {}, job.queue),
         el("td", {}, status(job.status)), el("td", { className: "n" },
         job.attempts + "/" + job.max_attempts), el("td", {}, time(job.created_at))));
    document.querySelector("#recent tbody").replaceChildren(...rows);
  }

  async function refresh() {
    try {
      const [stats, failed, recent] = await Promise.all([
        api("api/stats"),
        api("api/jobs?status=failed&limit=" + FAILED_SHOWN),
        api("api/jobs?limit=" + RECENT_SHOWN),
      ]);
      renderQueues(stats);
      renderFailed(failed, stats.total.failed);
      renderRecent(recent);
      document.getElementById("updated").textContent =
        "updated " + new Date().toLocaleTimeString();
      if (document.getElementById("notice").classList.contains("down")) notice("");
    } catch (error) {
      notice(error.message, "bad down");
    }
  }

  every(Number(document.body.dataset.refresh) || 5, refresh);
})();
