// What both pages share: the API token kept for this tab, calls to the JSON API, building
// elements whose text is set as text nodes (never parsed as HTML: a job's strings are
// shown as text), and a refresh loop that pauses while the tab is hidden.
"use strict";

const jobq = (() => {
  const TOKEN_KEY = "jobq-api-token";
  const root = document.body.dataset.root || "./";

  // The token lives in sessionStorage: this tab only, gone when it closes, never sent
  // by the browser on its own (unlike a cookie), never in a URL.
  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function notice(message, kind) {
    const box = document.getElementById("notice");
    box.textContent = message || "";
    box.className = "notice" + (kind ? " " + kind : "");
    box.hidden = !message;
  }

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" },
                   credentials: "same-origin", cache: "no-store" };
    if (init.method !== "GET") {
      if (!token()) {
        throw new Error("paste the API token (top right) first: changing calls need it");
      }
      init.headers.Authorization = "Bearer " + token();
      if (options.body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(options.body);
      }
    }
    const response = await fetch(root + path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      if (response.status === 401 && init.method !== "GET") {
        sessionStorage.removeItem(TOKEN_KEY);
        showTokenState();
      }
      const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
      throw new Error(response.status + ": " + detail);
    }
    return data;
  }

  // el("td", {className: "x"}, "text", child) — strings become text nodes.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "dataset") {
        Object.assign(node.dataset, value);
      } else {
        node[name] = value;
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function time(iso) {
    if (!iso) return "-";
    return iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, "");
  }

  function jobLink(id) {
    return el("a", { href: root + "jobs/" + encodeURIComponent(id), className: "id" }, id);
  }

  function status(value) {
    return el("span", { className: "status status-" + value }, value);
  }

  // Calls refresh() now, then every `seconds` while the tab is visible; a hidden tab
  // makes no requests, and coming back refreshes at once. <body data-refreshing> says
  // which ("on" or "paused") and data-refreshes counts the refreshes, for the curious
  // and for the browser test.
  function every(seconds, refresh) {
    let timer = null;
    let count = 0;
    const body = document.body.dataset;
    async function tick() {
      clearTimeout(timer);
      timer = null;
      if (document.hidden) return;
      try {
        await refresh();
      } finally {
        body.refreshes = String(++count);
        if (!document.hidden) timer = setTimeout(tick, seconds * 1000);
      }
    }
    document.addEventListener("visibilitychange", () => {
      body.refreshing = document.hidden ? "paused" : "on";
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
      } else {
        tick();
      }
    });
    body.refreshing = document.hidden ? "paused" : "on";
    tick();
    return tick;
  }

  function showTokenState() {
    const state = document.getElementById("token-state");
    const forget = document.getElementById("token-forget");
    state.textContent = token() ? "set for this tab" : "not set: needed to retry or cancel";
    forget.hidden = !token();
  }

  function wireTokenForm() {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      input.value = "";
      showTokenState();
    });
    document.getElementById("token-forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      showTokenState();
    });
    showTokenState();
  }

  // A button that POSTs to the API, then calls done(job) with the answer.
  async function act(button, path, done) {
    button.disabled = true;
    try {
      const job = await api(path, { method: "POST" });
      notice("");
      await done(job);
    } catch (error) {
      notice(error.message, "bad");
    } finally {
      button.disabled = false;
    }
  }

  wireTokenForm();
  return { api, act, el, every, jobLink, notice, root, status, time };
})();
