// qunping's pages: forms post JSON to the API; no framework, no build step.
"use strict";

const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || "";

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, answer };
}

// Each field's messages after the label the form gives it (the API names fields by code).
function describe(answer, form) {
  if (answer.errors) {
    return Object.entries(answer.errors).map(([field, messages]) => `${labelOf(form, field)}: ${flat(messages)}`).join("; ");
  }
  return answer.error || "error";
}

function flat(messages) {
  if (typeof messages === "string") return messages;
  if (Array.isArray(messages)) return messages.map(flat).join(" ");
  return Object.entries(messages).map(([key, inner]) => `${key} ${flat(inner)}`).join("; ");
}

function labelOf(form, field) {
  if (!form) return field;
  const element = form.querySelector(`[name="${CSS.escape(field)}"], [data-field="${CSS.escape(field)}"]`);
  const label = element && (element.closest("label") || element.querySelector("legend"));
  const text = label && label.firstChild && label.firstChild.textContent.trim();
  return text || field;
}

// What a voter is told when a cast is refused, in the page's language (the API's own
// messages are for programs): the token, the phase, the limit, or no answer at all.
function castRefusal(messages, status, answer) {
  if (status === 409) return answer.details && answer.details.phase ? messages.notOpen : messages.notValid;
  if (status === 400 && answer.errors && answer.errors.token) return messages.malformed;
  if (status === 429) return messages.tooMany;
  if (status === 0 || status >= 500) return messages.noAnswer;
  return describe(answer);
}

function offset() {
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const converters = {
  int: (value) => (/^-?\d+$/.test(value.trim()) ? parseInt(value, 10) : value),
  optional: (value) => value.trim() || null,
  datetime: (value) => (value.length === 16 ? `${value}:00${offset()}` : value),
  list: (value) => value.split(",").map((part) => part.trim()).filter(Boolean),
  // "community | 开放社区活动室 | 每月 4 次 | 2026-12-10" per line
  items: (value) => value.split("\n").map((line) => line.split("|").map((part) => part.trim()))
    .filter((parts) => parts.some(Boolean))
    .map(([side, title, target, due_date]) => ({ side, title, target, due_date })),
  // "3 committee-1 社区服务 满意; committee-1 卫生 基本满意" per line
  paper: (value) => value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const [first, ...rest] = line.split(";");
    const [slip, ...mark] = first.trim().split(/\s+/);
    const marks = [mark.join(" "), ...rest].map((part) => part.trim().split(/\s+/)).filter((part) => part.length === 3)
      .map(([subject, dimension, markValue]) => ({ subject, dimension, value: markValue }));
    return { slip: converters.int(slip), marks };
  }),
};

// A subject picker (data-subject-kind): a ticked box is one unnamed subject of its kind,
// each line of a name field one named subject.
function pickedSubjects(element) {
  const kind = element.dataset.subjectKind;
  if (element.type === "checkbox") return element.checked ? [{ kind }] : [];
  return element.value.split("\n").map((line) => line.trim()).filter(Boolean).map((name) => ({ kind, name }));
}

function formPayload(form) {
  const payload = {};
  for (const element of form.elements) {
    if (element.dataset.subjectKind) {
      payload.subjects = [...(payload.subjects || []), ...pickedSubjects(element)];
      continue;
    }
    if (!element.name || element.type === "submit") continue;
    const convert = converters[element.dataset.type];
    const value = convert ? convert(element.value) : element.value;
    // data-group gathers fields into one nested object, e.g. a unit's contact.
    const group = element.dataset.group;
    if (group) (payload[group] = payload[group] || {})[element.name] = value;
    else payload[element.name] = value;
  }
  return payload;
}

function wireApiForm(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = form.querySelector(".errors");
    if (errors) errors.textContent = "";
    const { ok, answer } = await api(form.dataset.method || "POST", form.dataset.api, formPayload(form));
    if (!ok) {
      if (errors) errors.textContent = describe(answer, form);
      return;
    }
    if (form.dataset.next) {
      window.location = form.dataset.next.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent(answer[key]));
    } else if ("stay" in form.dataset) {
      form.reset();
      const saved = form.querySelector(".saved");
      if (saved) saved.hidden = false;
      const counter = form.dataset.count && document.querySelector(form.dataset.count);
      if (counter && answer.checked_in !== undefined) counter.textContent = answer.checked_in;
      const first = form.querySelector("input:not([type=hidden])");
      if (first) first.focus();
    } else {
      window.location.reload();
    }
  });
}

function wireBallot(form) {
  const token = form.querySelector("#token");
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) token.value = fromHash;
  const choose = form.querySelector("#choose");
  const confirm = form.querySelector("#confirm");
  const errors = form.querySelector(".errors");
  const marks = () => [...form.querySelectorAll("input[type=radio]:checked")].map((radio) => ({
    subject: radio.dataset.subject, dimension: radio.dataset.dimension, value: radio.value,
  }));
  form.querySelector("#to-confirm").addEventListener("click", () => {
    if (!token.reportValidity()) return;
    const list = form.querySelector("#summary");
    list.textContent = "";
    const groups = new Map();
    for (const radio of form.querySelectorAll("input[type=radio]")) groups.set(radio.name, radio.dataset.label);
    for (const [name, label] of groups) {
      const checked = form.querySelector(`input[type=radio][name="${CSS.escape(name)}"]:checked`);
      const item = document.createElement("li");
      item.textContent = `${label}: ${checked ? checked.value : list.dataset.notRated}`;
      list.appendChild(item);
    }
    choose.hidden = true;
    confirm.hidden = false;
    window.scrollTo(0, 0);
  });
  form.querySelector("#back").addEventListener("click", () => { confirm.hidden = true; choose.hidden = false; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.textContent = "";
    let reply;
    const tokenValue = token.value.trim();
    const castKey = `qp-cast:${form.dataset.meeting}:${tokenValue}`;
    try {
      reply = await api("POST", `/api/meetings/${form.dataset.meeting}/ballots`,
        { token: tokenValue, marks: marks(), cast_id: castId(castKey) });
    } catch (lost) {  // the phone lost the network: the ballot may or may not have arrived
      reply = { ok: false, status: 0, answer: {} };
    }
    const { ok, status, answer } = reply;
    if (!ok) { errors.textContent = castRefusal(errors.dataset, status, answer); return; }
    forgetCastId(castKey);
    form.hidden = true;
    // The token is spent: drop it from the address bar and the page.
    history.replaceState(null, "", window.location.pathname);
    token.value = "";
    const receipt = document.querySelector("#receipt");
    receipt.querySelector("#receipt-code").textContent = answer.receipt;
    receipt.hidden = false;
  });
}

// The cast id: chosen at random on this device and sent with every attempt at one token,
// so a retry after a lost answer gets the original receipt (the service recorded the cast).
// Kept until an answer comes back; it names neither the voter nor the ballot.
function castId(key) {
  let id = null;
  try { id = window.localStorage.getItem(key); } catch (blocked) { id = null; }
  if (!id) {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    try { window.localStorage.setItem(key, id); } catch (blocked) { /* private mode: this page only */ }
  }
  return id;
}

function forgetCastId(key) {
  try { window.localStorage.removeItem(key); } catch (blocked) { /* nothing kept */ }
}

function wireReceiptCheck(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = form.elements.code.value.trim();
    const out = form.querySelector(".answer");
    const errors = form.querySelector(".errors");
    errors.textContent = "";
    // In the body, never the URL: addresses end up in access logs and browser history.
    const { ok, answer } = await api("POST", `/api/meetings/${form.dataset.meeting}/receipts`, { code });
    if (!ok) { errors.textContent = describe(answer); return; }
    out.textContent = answer.in_ballot_box ? out.dataset.yes : out.dataset.no;
    out.hidden = false;
  });
}

function wireBoard(board) {
  const meeting = board.dataset.meeting;
  const labels = JSON.parse(document.querySelector("#phase").dataset.labels);
  const poll = async () => {
    const { ok, answer } = await api("GET", `/api/meetings/${meeting}/board`);
    if (ok) {
      for (const key of ["checked_in", "quorum", "issued", "returned"]) {
        const element = document.getElementById(key);
        if (element && answer[key] !== undefined && answer[key] !== null) element.textContent = answer[key];
      }
      document.querySelector("#phase").textContent = labels[answer.phase] || answer.phase;
      const note = document.querySelector("#board-note");
      if (note) note.textContent = answer.phase === "open" ? note.dataset.open : note.dataset.waiting;
      if (answer.phase === "closed" && !document.querySelector("#results")) {
        const results = await api("GET", `/api/meetings/${meeting}/results`);
        if (results.ok) { window.location.reload(); return; }
      }
    }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
}

// The meeting desk's figures as the work proceeds: check-ins, tokens issued, ballots in.
function wireDeskFigures(figures) {
  const meeting = figures.dataset.meeting;
  const phase = document.querySelector("#desk-phase");
  const labels = JSON.parse(phase.dataset.labels);
  const fields = { checked_in: "#desk-checked-in", issued: "#desk-issued", returned: "#desk-returned", missing_for_quorum: "#desk-missing" };
  const poll = async () => {
    if (!document.hidden) {
      const { ok, answer } = await api("GET", `/api/meetings/${meeting}/status`).catch(() => ({ ok: false }));
      if (ok) {
        for (const [key, selector] of Object.entries(fields)) {
          const element = figures.querySelector(selector);
          if (element && answer[key] !== undefined && String(answer[key]) !== element.textContent) element.textContent = answer[key];
        }
        phase.textContent = labels[answer.phase] || answer.phase;
      }
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form[data-api]").forEach(wireApiForm);
  document.querySelectorAll("[data-print]").forEach((button) => button.addEventListener("click", () => window.print()));
  document.querySelectorAll("a[data-keep-hash]").forEach((link) => link.addEventListener("click", () => {
    link.href += window.location.hash;
  }));
  const ballot = document.querySelector("#ballot");
  if (ballot) wireBallot(ballot);
  const receipt = document.querySelector("#check-receipt");
  if (receipt) wireReceiptCheck(receipt);
  const board = document.querySelector("#board");
  if (board) wireBoard(board);
  const figures = document.querySelector("#desk-figures");
  if (figures) wireDeskFigures(figures);
});
