// The dashboard: a row per queue with its counts by state and the age of its oldest
// pending job, throughput per minute, workers, the periodic leader and tasks, the failed jobs with their
// error, traceback and a retry button, and the newest jobs. Every value from the API is
// written with textContent (jobq.el), so markup in a job's strings shows as text.
"use strict";

(() => {
  const { api, act, el, every, jobLink, notice, status, time } = jobq;
  const STATES = ["blocked", "scheduled", "pending", "running", "succeeded", "failed",
                  "cancelled"];
  const FAILED_SHOWN = 50;
  const RECENT_SHOWN = 15;

  const SVG = "http://www.w3.org/2000/svg";
  const CHART_MINUTES = 180;
  const OUTCOMES = ["succeeded", "failed", "retried"];

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function age(iso) {
    if (!iso) return "-";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return Math.round(seconds / 3600) + " h";
  }

  // One stacked bar per minute (all queues), drawn as SVG nodes: no chart library, no
  // markup parsed from data.
  function renderThroughput(data) {
    const now = Math.floor(Date.now() / 60000);
    const perMinute = new Map();
    for (const row of data.minutes) {
      const slot = CHART_MINUTES - 1 - (now - Math.floor(Date.parse(row.minute) / 60000));
      if (slot < 0 || slot >= CHART_MINUTES) continue;
      const sums = perMinute.get(slot) || { succeeded: 0, failed: 0, retried: 0 };
      for (const o of OUTCOMES) sums[o] += row[o];
      perMinute.set(slot, sums);
    }
    let top = 1;
    for (const sums of perMinute.values()) {
      top = Math.max(top, OUTCOMES.reduce((t, o) => t + sums[o], 0));
    }
    const width = 720 / CHART_MINUTES;
    const bars = [];
    for (const [slot, sums] of perMinute) {
      let y = 120;
      for (const o of OUTCOMES) {
        const height = (sums[o] / top) * 110;
        if (height <= 0) continue;
        y -= height;
        const bar = svg("rect", { x: slot * width, y, width: width * 0.9, height,
                                  class: "bar " + o });
        bar.append(svg("title", {}, o + ": " + sums[o]));
        bars.push(bar);
      }
    }
    bars.push(svg("text", { x: 4, y: 12, class: "axis" }, "max " + top + "/min"));
    const chart = svg("svg", { viewBox: "0 0 720 120", preserveAspectRatio: "none" });
    chart.append(...bars);
    document.getElementById("throughput").replaceChildren(chart);
    const totals = OUTCOMES.map((o) => o + " " + Object.values(data.totals)
      .reduce((t, q) => t + q[o], 0).toLocaleString());
    document.getElementById("throughput-totals").textContent =
      "in all (kept through purges): " + totals.join(" · ");
  }

  function renderWorkers(workers) {
    const rows = workers.map((w) =>
      el("tr", { dataset: { workerId: w.id } }, el("td", { className: "id" }, w.id),
         el("td", {}, w.host), el("td", { className: "n" }, String(w.pid)),
         el("td", {}, w.queues.join(", ")), el("td", {}, time(w.started_at)),
         el("td", {}, time(w.last_heartbeat) + " (" + age(w.last_heartbeat) + " ago)")));
    document.querySelector("#workers tbody").replaceChildren(...rows);
    document.getElementById("workers-empty").hidden = workers.length > 0;
  }

  function renderPeriodic(periodic) {
    const leader = periodic.leader;
    document.getElementById("leader").textContent = leader
      ? "leader: " + leader.holder + " (term " + leader.term + ", lease until " +
        time(leader.lease_until) + ")"
      : "leader: none (no worker holds the periodic lease)";
    const rows = periodic.tasks.map((t) =>
      el("tr", { dataset: { task: t.name } }, el("td", { className: "task" }, t.name),
         el("td", {}, t.schedule), el("td", {}, t.queue || "-"), el("td", {}, time(t.last_tick)),
         el("td", {}, time(t.next_tick))));
    document.querySelector("#periodic tbody").replaceChildren(...rows);
  }

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
         ...countCells(stats.queues[name]),
         el("td", { className: "n oldest" }, age(stats.oldest_pending[name]))));
    document.querySelector("#queues tbody").replaceChildren(...rows);
    const foot = names.length > 1
      ? [el("tr", {}, el("th", { scope: "row" }, "total"), ...countCells(stats.total),
                 el("td", {}, ""))]
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
      const [stats, failed, recent, throughput, workers, periodic] = await Promise.all([
        api("api/stats"),
        api("api/jobs?status=failed&limit=" + FAILED_SHOWN),
        api("api/jobs?limit=" + RECENT_SHOWN),
        api("api/throughput?minutes=" + CHART_MINUTES),
        api("api/workers"),
        api("api/periodic"),
      ]);
      renderQueues(stats);
      renderThroughput(throughput);
      renderWorkers(workers);
      renderPeriodic(periodic);
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
