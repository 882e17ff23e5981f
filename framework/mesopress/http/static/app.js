// mesopress operator UI: reads the scheduler's JSON API and renders it; buttons call its POST routes.
// Every value from the API is placed with textContent / createTextNode (never as HTML): instance names
// and reasons come from configuration and Mesos. No external asset: the network may be closed.
"use strict";

// The GET routes this page reads (tests/integration/test_web_ui.py checks each one answers JSON).
const SOURCES = {
  state: "/v1/state",
  plans: "/v1/plans",
  pods: "/v1/pods",
  galera: "/v1/galera",
  endpoints: "/v1/endpoints",
  config: "/v1/config",
};
// The POST routes behind the buttons (docs/scheduler.md): replace, Galera force, uninstall.
const ACTIONS = {
  replace: (instance) => "/v1/pods/" + encodeURIComponent(instance) + "/replace",
  force: () => "/v1/galera/force",
  uninstall: () => "/v1/uninstall",
};
const REFRESH_SECONDS = 5;
const GOOD = ["COMPLETE", "READY", "RUNNING", "Synced", "Primary", "leader"];
const BUSY = ["PENDING", "PREPARED", "STARTING", "STARTED", "WAITING", "LAUNCHING", "STAGING", "KILLING",
  "RESERVING", "standby", "COLLECTING", "CHOSEN", "FORCED", "BOOTSTRAPPING", "JOINING"];
const BAD = ["ERROR", "FAILED", "LOST", "UNREACHABLE", "GONE", "unreachable", "non-Primary"];

let timer = null;
let busy = false;

// --- DOM helpers (text only) -------------------------------------------------------------------------

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "on") for (const [name, fn] of Object.entries(value)) node.addEventListener(name, fn);
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  return node;
}

function text(value) {
  if (value === null || value === undefined || value === "") return "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function pairs(obj) {
  if (!obj || typeof obj !== "object") return "-";
  const items = Object.entries(obj).map(([k, v]) => k + "=" + text(v));
  return items.length ? items.join(", ") : "-";
}

function status(value) {
  const word = text(value);
  let kind = "other";
  if (GOOD.includes(word)) kind = "good";
  else if (BAD.includes(word)) kind = "bad";
  else if (BUSY.includes(word)) kind = "busy";
  return el("span", {class: "status " + kind}, word);
}

function table(headers, rows) {
  // A wide table scrolls in its own box, so the page (and the buttons in the last column) stay in view.
  return el("div", {class: "scroll"}, el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) =>
      (c && typeof c === "object" && c.tagName === "TD") ? c : el("td", {}, c)))))));
}

function idCell(value) {
  // Mesos and Galera ids (agent, task, volume, state uuid) are long and unbroken: they may break anywhere.
  return el("td", {class: "id mono"}, text(value));
}

function fill(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
}

function record(entries) {
  return el("dl", {class: "record"}, entries.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

// --- the API -------------------------------------------------------------------------------------------

// One request; redirects are not followed (a standby answers 307 to the leader, another origin).
async function call(method, path, body) {
  const init = {method, redirect: "manual", cache: "no-store", headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    return {status: 0, ok: false, redirected: false, body: null, raw: "", error: "no answer: " + err};
  }
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    return {status: response.status || 307, ok: false, redirected: true, body: null, raw: "", error: ""};
  }
  const raw = await response.text();
  let parsed = null;
  try {
    parsed = raw ? JSON.parse(raw) : null;
  } catch (err) {
    parsed = null;
  }
  const error = response.ok ? "" : (parsed && parsed.error) || raw || ("HTTP " + response.status);
  return {status: response.status, ok: response.ok, redirected: false, body: parsed, raw, error};
}

function unavailable(answer, what, state) {
  if (answer.redirected) {
    const where = state && state.leader ? " (" + state.leader + ")" : "";
    return el("p", {class: "muted"}, "This scheduler is a standby; the leader" + where + " serves " + what + ".");
  }
  return el("p", {class: "error-text"}, "Error reading " + what + ": " + text(answer.error));
}

// --- sections ------------------------------------------------------------------------------------------

function leaderLink(leader) {
  // The leader's identity is host:port; the URL is built here so no scheme comes from the API.
  if (typeof leader !== "string" || !/^[A-Za-z0-9.\-_:[\]]+$/.test(leader)) return null;
  return el("a", {href: "http://" + leader + "/"}, "http://" + leader + "/");
}

function renderState(answer, endpoints) {
  const banner = document.getElementById("banner");
  if (!answer.ok || !answer.body) {
    fill("whoami", el("span", {class: "error-text"}, "Error reading /v1/state: " + text(answer.error)));
    fill("leadership");
    banner.className = "banner error";
    banner.replaceChildren(document.createTextNode("Cannot read this scheduler's state: " + text(answer.error)));
    banner.hidden = false;
    return null;
  }
  const state = answer.body;
  const role = text(state.role);
  fill("whoami", "this scheduler ", el("code", {}, text(state.identity)), " is ", status(role),
    "; leader: ", el("code", {}, text(state.leader)));
  if (state.refused) {
    banner.className = "banner error";
    banner.replaceChildren(document.createTextNode(
      "This scheduler is elected but refuses to act: " + state.refused));
    banner.hidden = false;
  } else if (role === "standby") {
    const link = leaderLink(state.leader);
    banner.className = "banner";
    banner.replaceChildren(...(link
      ? [document.createTextNode("This scheduler is a standby. The leader is " + state.leader + ": "), link]
      : [document.createTextNode("This scheduler is a standby and no leader is known yet.")]));
    banner.hidden = false;
  } else {
    banner.hidden = true;
    banner.replaceChildren();
  }
  const schedulers = endpoints && endpoints.ok && endpoints.body && Array.isArray(endpoints.body.schedulers)
    ? endpoints.body.schedulers.map(text).join(", ") : "-";
  fill("leadership", record([
    ["this scheduler", text(state.identity)],
    ["role", status(role)],
    ["leader", text(state.leader)],
    ["framework id", text(state.framework_id)],
    ["subscribed to Mesos", text(state.subscribed)],
    ["refused to act", text(state.refused || "no")],
    ["live schedulers (leader first)", schedulers],
  ]));
  return state;
}

function planList(plans) {
  if (Array.isArray(plans)) return plans;
  if (plans && typeof plans === "object") return Object.entries(plans).map(([name, p]) => ({name, ...p}));
  return [];
}

function renderPlans(answer, state) {
  if (!answer.ok) return fill("plans", unavailable(answer, "the plans", state));
  const plans = planList(answer.body);
  if (!plans.length) return fill("plans", el("p", {class: "muted"}, "No plans."));
  fill("plans", plans.map((plan) => {
    const rows = [];
    for (const phase of plan.phases || []) {
      const steps = phase.steps || [];
      if (!steps.length) rows.push([text(phase.name), status(phase.status), "-", "-", "-", "-"]);
      for (const step of steps) {
        const why = [step.reason, step.warning ? "warning: " + step.warning : ""].filter(Boolean).join("\n");
        rows.push([text(phase.name) + " (" + text(phase.strategy) + ", " + text(phase.status) + ")",
          text(step.name), status(step.status), text(step.target), text(step.kind),
          el("td", {class: "reason"}, text(why))]);
      }
    }
    return el("div", {class: "plan"},
      el("h3", {}, "Plan ", el("code", {}, text(plan.name)), " ", status(plan.status),
        plan.strategy ? " (" + plan.strategy + ")" : ""),
      rows.length ? table(["phase", "step", "status", "target", "kind", "reason"], rows)
        : el("p", {class: "muted"}, "No phases."));
  }));
}

function renderPods(answer, state) {
  if (!answer.ok) return fill("pods", unavailable(answer, "the pod instances", state));
  const pods = Array.isArray(answer.body) ? answer.body : [];
  if (!pods.length) return fill("pods", el("p", {class: "muted"}, "No pod instances."));
  const rows = pods.map((pod) => {
    const why = [pod.reason, ...(pod.waiting || []).map((w) => "waiting: " + text(w))].filter(Boolean).join("\n");
    const name = String(pod.instance);
    const button = el("button", {type: "button", class: "small", on: {click: () => replace(name)}}, "Replace…");
    return [text(pod.instance), text(pod.goal), status(pod.status), idCell(pod.agent_id), text(pod.hostname),
      pairs(pod.ports), idCell(pairs(pod.persistence_ids)), idCell(pod.task_id), el("td", {class: "reason"}, text(why)),
      el("td", {}, button)];
  });
  fill("pods", table(["instance", "goal", "status", "agent", "host", "ports", "volume", "task", "reason", ""], rows));
}

function galeraRows(pod, entry, active) {
  return Object.entries(entry.nodes || {}).sort().map(([name, node]) => {
    const live = node.live || {};
    const state = !node.live ? "-" : live.reachable === false ? "unreachable" : text(live.wsrep_local_state_comment);
    const address = live.address || (node.hostname && node.ports && node.ports.sql ? node.hostname + ":" + node.ports.sql : "");
    const age = typeof live.age === "number" ? live.age + " s" : "-";
    const action = active
      ? el("button", {type: "button", class: "small", on: {click: () => force(name)}}, "Force bootstrap…") : "";
    return [text(name), status(node.status), idCell(node.agent_id), text(address), idCell(pairs(node.volume)), status(state),
      status(live.wsrep_cluster_status), text(live.wsrep_cluster_size), text(live.wsrep_last_committed),
      idCell(live.wsrep_cluster_state_uuid), age, el("td", {class: "reason error-text"}, live.error ? text(live.error) : ""),
      el("td", {}, action)];
  });
}

function recoveryRecord(recovery) {
  const positions = Object.entries(recovery.positions || {}).map(([node, p]) =>
    node + ": " + (p && "seqno" in p ? text(p.uuid) + ":" + text(p.seqno) : text(p))).join("\n");
  const evidence = Object.entries(recovery.evidence || {}).map(([node, e]) => node + ": " + text(e)).join("\n");
  return record([
    ["phase", status(recovery.phase)],
    ["chosen", text(recovery.chosen)],
    ["decision", text(recovery.reason)],
    ["expected", (recovery.expected || []).map(text).join(", ") || "-"],
    ["positions", positions || "-"],
    ["evidence", evidence || "-"],
    ["joining", text(recovery.joining)],
    ["joined", (recovery.joined || []).map(text).join(", ") || "-"],
    ["skipped", (recovery.skipped || []).map(text).join(", ") || "-"],
    ["attempts", text(recovery.attempts)],
    ["deadline", recovery.deadline ? new Date(recovery.deadline * 1000).toISOString() : "-"],
  ]);
}

function renderGalera(answer, state) {
  if (!answer.ok) return fill("galera", unavailable(answer, "the Galera view", state));
  const pods = answer.body && typeof answer.body === "object" ? Object.entries(answer.body).sort() : [];
  if (!pods.length) return fill("galera", el("p", {class: "muted"}, "No Galera pod in this service."));
  fill("galera", pods.map(([pod, entry]) => {
    entry = entry || {};
    const recovery = entry.recovery && typeof entry.recovery === "object" ? entry.recovery : null;
    const active = Boolean(recovery && recovery.phase !== "DONE");
    const boot = entry.bootstrapped;
    return el("div", {class: "galera"},
      el("h3", {}, "Cluster ", el("code", {}, text(pod)), " (size " + text(entry.size) + ")"),
      record([["bootstrapped", boot && typeof boot === "object" ? "by " + text(boot.node) : text(boot)]]),
      table(["node", "Mesos status", "agent", "address", "volume", "wsrep state", "cluster", "size", "seqno",
        "state uuid", "sample age", "error", ""], galeraRows(pod, entry, active)),
      recovery ? [el("h3", {}, "Full-crash recovery of ", el("code", {}, text(pod))), recoveryRecord(recovery)]
        : el("p", {class: "muted"}, "No full-crash recovery record."));
  }));
}

function siteUrls(config) {
  // WORDPRESS_PUBLIC_URL of the WordPress pods in /v1/config (the target service); only http(s) links.
  const urls = new Set();
  const pods = (config && config.service && config.service.pods) || [];
  for (const pod of pods) {
    for (const pair of pod.env || []) {
      if (Array.isArray(pair) && pair[0] === "WORDPRESS_PUBLIC_URL" && /^https?:\/\//.test(String(pair[1]))) {
        urls.add(String(pair[1]));
      }
    }
  }
  return [...urls];
}

function proxyPods(config) {
  const pods = (config && config.service && config.service.pods) || [];
  return new Set(pods.filter((p) => p.kind === "proxy").map((p) => p.name));
}

function renderEndpoints(answer, configAnswer, state) {
  if (!answer.ok) return fill("endpoints", unavailable(answer, "the endpoints", state));
  const config = configAnswer.ok ? configAnswer.body : null;
  const urls = siteUrls(config);
  const proxies = proxyPods(config);
  const site = urls.length
    ? urls.map((u) => [el("a", {href: u, rel: "noopener noreferrer", target: "_blank"}, u), " "])
    : (configAnswer.ok ? "none configured" : "unknown (error reading /v1/config: " + text(configAnswer.error) + ")");
  const rows = [];
  for (const [pod, instances] of Object.entries(answer.body || {}).sort()) {
    if (pod === "schedulers" || !Array.isArray(instances)) continue;
    for (const item of instances) {
      rows.push([text(pod) + (proxies.has(pod) ? " (proxy)" : ""), text(item.instance), text(item.host),
        pairs(item.ports), status(item.ready ? "READY" : "not ready")]);
    }
  }
  fill("endpoints", record([["site URL", el("span", {}, site)]]),
    rows.length ? table(["pod", "instance", "host", "ports", "ready"], rows)
      : el("p", {class: "muted"}, "No instance holds resources yet."));
}

// --- actions -------------------------------------------------------------------------------------------

function showAnswer(what, answer) {
  const box = document.getElementById("answer-box");
  let body;
  if (answer.redirected) {
    body = "This scheduler is a standby and does not run actions: use the leader's page (see the banner).";
  } else {
    body = "HTTP " + answer.status + "\n" + (answer.raw || answer.error || "(empty answer)");
  }
  box.className = "answer" + (answer.ok ? "" : " failed");
  document.getElementById("answer").textContent = what + "\n" + body;
  box.hidden = false;
}

async function act(what, question, path, body) {
  if (!window.confirm(question)) return;
  const answer = await call("POST", path, body);
  showAnswer(what, answer);
  refresh();
}

function replace(instance) {
  act("POST " + ACTIONS.replace(instance),
    "Replace pod instance " + instance + " permanently?\n\nIts task is killed and a new instance is placed on a " +
    "fresh reservation and volume; the data on its old volume is given up.",
    ACTIONS.replace(instance));
}

function force(node) {
  act("POST " + ACTIONS.force() + " {\"node\": " + JSON.stringify(node) + "}",
    "Force " + node + " as the node that bootstraps its Galera cluster?\n\nWrites that only nodes with a " +
    "higher seqno hold will be lost.", ACTIONS.force(), {node});
}

function uninstall() {
  act("POST " + ACTIONS.uninstall(),
    "Uninstall the whole service?\n\nEvery task is killed, every volume destroyed, every reservation released. " +
    "This cannot be undone.", ACTIONS.uninstall());
}

// --- refresh loop --------------------------------------------------------------------------------------

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const names = Object.keys(SOURCES);
    const answers = await Promise.all(names.map((n) => call("GET", SOURCES[n])));
    const got = Object.fromEntries(names.map((n, i) => [n, answers[i]]));
    const state = renderState(got.state, got.endpoints);
    if (state && state.identity) document.title = "mesopress " + (state.role || "") + " " + state.identity;
    if (got.config.ok && got.config.body && got.config.body.service) {
      document.getElementById("service").textContent = text(got.config.body.service.name);
    }
    const parts = [
      () => renderEndpoints(got.endpoints, got.config, state),
      () => renderPlans(got.plans, state),
      () => renderPods(got.pods, state),
      () => renderGalera(got.galera, state),
    ];
    for (const part of parts) {
      try {
        part();
      } catch (err) {
        console.error(err);
      }
    }
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } finally {
    busy = false;
  }
}

function schedule() {
  if (timer !== null) clearInterval(timer);
  timer = document.getElementById("auto").checked ? setInterval(refresh, REFRESH_SECONDS * 1000) : null;
}

function start() {
  document.getElementById("interval").textContent = String(REFRESH_SECONDS);
  document.getElementById("refresh").addEventListener("click", refresh);
  document.getElementById("auto").addEventListener("change", schedule);
  document.getElementById("uninstall").addEventListener("click", uninstall);
  document.getElementById("answer-close").addEventListener("click", () => {
    document.getElementById("answer-box").hidden = true;
  });
  schedule();
  return refresh();
}

if (typeof document !== "undefined" && document.readyState !== "loading") start();
else if (typeof document !== "undefined") document.addEventListener("DOMContentLoaded", start);
