// The admin page: the server's headline figures, fine-tuning jobs with a live loss chart, the served models, the knowledge bases and the
// passages answers use most, the uploaded files, the feedback export, the API keys, their usage and the
// audit log, all read from the same /v1 routes an OpenAI client uses. Each section shows only to a key
// whose role may see it (an agent's key: models and knowledge; an app key: its models).

import { api, apiText } from "./api.js";
import { connect, keyButton, may } from "./auth.js";
import { announce, byId, el, showError, when } from "./dom.js";
import { lossChart } from "./chart.js";

const POLL_MS = 3000;
const UNFINISHED = ["validating_files", "queued", "running"];
const MAX_EVENT_PAGES = 50;
const state = { job: null, jobsShown: "", me: null };

function cell(content) {
  return el("td", {}, content);
}

/** Table rows, or one row that says why there are none. */
function rowsOr(rows, columns, empty) {
  return rows.length ? rows : [el("tr", {}, el("td", { colspan: String(columns), text: empty }))];
}

function statusText(job) {
  return job.status.replace("_", " ");
}

function jobRow(job) {
  const open = el("button", { type: "button", class: "link", "aria-pressed": String(job.id === state.job?.id), onclick: () => selectJob(job).catch(fail) }, job.id);
  const status = el("span", { class: `status status-${job.status}`, text: statusText(job) });
  return el("tr", {}, cell(open), cell(job.model), cell(status), cell(job.fine_tuned_model ?? "—"), cell(when(job.created_at)));
}

/** Redraw the job table only when it changed, so polling never steals a keyboard user's focus. */
async function refreshJobs() {
  const { data } = await api("/v1/fine_tuning/jobs?limit=100");
  state.job = data.find((j) => j.id === state.job?.id) ?? data.find((j) => UNFINISHED.includes(j.status)) ?? data[0] ?? null;
  const shown = JSON.stringify([state.job?.id, ...data.map((j) => [j.id, j.status, j.fine_tuned_model])]);
  if (shown === state.jobsShown) return;
  state.jobsShown = shown;
  const rows = data.map(jobRow);
  byId("jobs").tBodies[0].replaceChildren(...rowsOr(rows, 5, "No fine-tuning jobs yet."));
}

/** Every metrics event of a job, oldest first (the API pages newest first). */
async function metrics(jobId) {
  const events = [];
  let after = null;
  for (let page = 0; page < MAX_EVENT_PAGES; page++) {
    const query = `limit=100${after ? `&after=${after}` : ""}`;
    const { data, has_more } = await api(`/v1/fine_tuning/jobs/${jobId}/events?${query}`);
    events.push(...data);
    if (!has_more || !data.length) break;
    after = data.at(-1).id;
  }
  return events.filter((e) => Number.isFinite(e.data?.step)).map((e) => e.data).reverse();
}

async function drawJob() {
  const job = state.job;
  byId("job-detail").hidden = !job;
  if (!job) return;
  const points = await metrics(job.id);
  byId("chart-title").textContent = `Loss of ${job.id} (${statusText(job)})`;
  byId("chart").replaceChildren(lossChart(points) ?? el("p", { text: "No training steps logged yet." }));
  const live = UNFINISHED.includes(job.status) ? " · updating live" : "";
  const error = job.error ? ` · ${job.error.message}` : "";
  byId("chart-status").textContent = `${points.length} logged steps${live}${error}`;
}

async function selectJob(job) {
  state.job = job;
  await refreshJobs();
  await drawJob();
}

function seconds(value) {
  return value === null ? "—" : value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

function jobFigure(jobs, running) {
  const queued = jobs.queued + jobs.validating_files;
  const progress = running.map((j) => `${j.id}: step ${j.step}${j.planned_steps ? ` of ${j.planned_steps}` : ""}`);
  return [`${jobs.running} running, ${queued} queued`, ...progress].join(" · ");
}

/** The headline figures of /v1/metrics/summary, which reads the registry /metrics shows. */
async function refreshFigures() {
  const m = await api("/v1/metrics/summary");
  const figures = [
    ["Requests", String(m.requests)],
    ["Errors", String(m.errors)],
    ["Time to first token (median)", seconds(m.time_to_first_token_p50)],
    ["Tokens in / out", `${m.prompt_tokens} / ${m.completion_tokens}`],
    ["Models loaded", m.models_loaded.join(", ") || "none"],
    ["Fine-tuning jobs", jobFigure(m.jobs, m.running_jobs)],
  ];
  byId("figures").replaceChildren(...figures.map(([name, value]) => el("div", {}, el("dt", { text: name }), el("dd", { text: value }))));
}

async function refreshModels() {
  const { data } = await api("/v1/models");
  byId("models").replaceChildren(...data.map((m) => el("li", {}, el("strong", { text: m.id }), el("span", { class: "when", text: m.root === m.id ? `owned by ${m.owned_by}` : `alias of ${m.root}` }))));
}

function size(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} kB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

async function refreshFiles() {
  const { data } = await api("/v1/files");
  const rows = data.map((f) => el("tr", {}, cell(f.filename), cell(f.purpose), cell(size(f.bytes)), cell(when(f.created_at)), cell(el("code", { text: f.id }))));
  byId("files").tBodies[0].replaceChildren(...rowsOr(rows, 5, "No files uploaded yet."));
}

async function refreshKnowledge() {
  const [{ data: bases }, { data: uses }] = await Promise.all([api("/v1/knowledge"), api("/v1/knowledge/uses")]);
  const rows = bases.map((b) => el("tr", {}, cell(b.id), cell(String(b.documents)), cell(String(b.chunks))));
  byId("knowledge").tBodies[0].replaceChildren(...rowsOr(rows, 3, "No knowledge bases yet (caretune knowledge add, or POST /v1/knowledge)."));
  const picker = byId("knowledge-base");
  picker.replaceChildren(...bases.map((b) => el("option", { value: b.id, text: b.id })));
  byId("knowledge-upload").hidden = !bases.length || !may(state.me, "knowledge.write");
  const used = uses.map((u) => el("tr", {}, cell(u.title), cell(u.source), cell(String(u.uses))));
  byId("passage-uses").tBodies[0].replaceChildren(...rowsOr(used, 3, "No answer has used a passage yet."));
}

async function uploadKnowledge(event) {
  event.preventDefault();
  const file = byId("knowledge-file").files[0];
  const body = new FormData();
  body.append("file", file);
  const result = await api(`/v1/knowledge/${encodeURIComponent(byId("knowledge-base").value)}/documents`, { method: "POST", body });
  const chunks = `${result.chunks} chunk${result.chunks === 1 ? "" : "s"}`;
  byId("knowledge-status").textContent = result.unchanged.length ? `${file.name} is unchanged.` : `${file.name}: ${chunks} indexed.`;
  await Promise.all([refreshKnowledge(), refreshAudit()]);
}

// ------------------------------------------------------------------ keys, usage, audit

function limits(key) {
  const parts = [key.rate_limit, key.tokens_per_day && `${key.tokens_per_day} tokens/day`].filter(Boolean);
  return parts.join(", ") || "none";
}

function keyRow(key) {
  const label = key.name || key.id;
  const revoke = key.revoked_at
    ? ""
    : el("button", { type: "button", class: "secondary", "aria-label": `Revoke key ${label}`, onclick: () => revokeKey(key).catch(fail) }, "Revoke");
  const status = key.revoked_at ? `revoked ${when(key.revoked_at)}` : "active";
  return el("tr", {}, cell(el("span", { title: key.id, text: `${label} (${key.display_prefix}…)` })), cell(key.role),
    cell(key.models?.join(", ") ?? "all"), cell(limits(key)), cell(when(key.created_at)), cell(status), cell(revoke));
}

async function refreshKeys() {
  const { data } = await api("/v1/keys");
  byId("keys").tBodies[0].replaceChildren(...rowsOr(data.map(keyRow), 7, "No keys."));
}

function optional(id) {
  return byId(id).value.trim() || null;
}

async function createKey(event) {
  event.preventDefault();
  const models = byId("key-models").value.split(",").map((m) => m.trim()).filter(Boolean);
  const tokens = optional("key-tokens");
  const body = {
    name: byId("key-name").value.trim(), role: byId("key-role").value, models: models.length ? models : null,
    rate_limit: optional("key-rate"), tokens_per_day: tokens && Number(tokens),
  };
  const created = await api("/v1/keys", { method: "POST", body });
  const shown = byId("key-secret");
  shown.querySelector("code").textContent = created.secret;
  shown.hidden = false;
  byId("key-create").reset();
  await Promise.all([refreshKeys(), refreshAudit()]);
}

async function revokeKey(key) {
  if (!confirm(`Revoke the key ${key.name || key.id}? Every request with it is refused from then on.`)) return;
  await api(`/v1/keys/${key.id}/revoke`, { method: "POST" });
  announce(`Key ${key.name || key.id} revoked`);
  await Promise.all([refreshKeys(), refreshAudit()]);
}

async function refreshUsage() {
  const { data } = await api("/v1/usage?days=30");
  const rows = data.map((u) => el("tr", {}, cell(u.day), cell(u.key_name || u.key_id), cell(u.model),
    cell(String(u.requests)), cell(String(u.prompt_tokens)), cell(String(u.completion_tokens))));
  byId("usage").tBodies[0].replaceChildren(...rowsOr(rows, 6, "No requests in the last 30 days."));
}

async function refreshAudit() {
  if (!may(state.me, "audit")) return;
  const { data } = await api("/v1/audit?limit=50");
  const by = (e) => e.key_id ?? (e.via === "cli" ? "command line" : "server without auth");
  const rows = data.map((e) => el("tr", {}, cell(when(e.created_at)), cell(by(e)), cell(e.action), cell(e.target)));
  byId("audit").tBodies[0].replaceChildren(...rowsOr(rows, 4, "No admin actions yet."));
}

/** Save the export through the browser: fetched with the API key, so a plain link would not do. */
async function downloadExport() {
  const text = await apiText("/v1/feedback/export");
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/jsonl" })), download: "feedback.jsonl" });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  const count = text.split("\n").filter(Boolean).length;
  byId("export-status").textContent = `${count} training examples exported.`;
  await refreshAudit();
}

async function poll() {
  if (may(state.me, "metrics")) await refreshFigures();
  if (!may(state.me, "fine_tuning") || (state.job && !UNFINISHED.includes(state.job.status))) return;
  await refreshJobs();
  await drawJob();
}

function fail(err) {
  showError(err.message);
}

// Each section with what it needs (its `data-needs`) and how it fills itself.
const SECTIONS = [
  ["metrics", refreshFigures],
  ["fine_tuning", () => refreshJobs().then(drawJob)],
  ["models.read", refreshModels],
  ["knowledge.read", refreshKnowledge],
  ["files", refreshFiles],
  ["keys", refreshKeys],
  ["usage", refreshUsage],
  ["audit", refreshAudit],
];

async function load() {
  state.me = await connect();
  await Promise.all(SECTIONS.filter(([permission]) => may(state.me, permission)).map(([, refresh]) => refresh()));
}

async function start() {
  byId("export").addEventListener("click", () => downloadExport().catch(fail));
  byId("knowledge-upload").addEventListener("submit", (event) => uploadKnowledge(event).catch(fail));
  byId("key-create").addEventListener("submit", (event) => createKey(event).catch(fail));
  keyButton(byId("key-button"), () => load().catch(fail));
  await load();
  setInterval(() => poll().catch(fail), POLL_MS);
}

start().catch(fail);
