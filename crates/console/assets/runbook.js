// The runbook pages' behaviour: the task type search, reading a definition file into the New Runbook form, and the
// runbook page's live updates (the page's own event stream: rows change in place, the open Task Details panel is read
// again when its task changes). Controls inside a panel swapped in later are handled here by delegation.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function setUpFilters() {
  for (const input of document.querySelectorAll("[data-filter-list]")) {
    const list = document.getElementById(input.dataset.filterList);
    if (!list) continue;
    input.addEventListener("input", () => {
      const wanted = input.value.trim().toLowerCase();
      for (const item of list.querySelectorAll("[data-filter-text]")) {
        item.hidden = wanted !== "" && !item.dataset.filterText.includes(wanted);
      }
    });
  }
}

function setUpFileInputs() {
  for (const input of document.querySelectorAll("[data-file-into]")) {
    input.addEventListener("change", async () => {
      const file = input.files?.[0];
      const area = document.getElementById(input.dataset.fileInto);
      if (!file || !area) return;
      area.value = await file.text();
      const name = document.getElementById("runbook-file-name");
      if (name) name.value = file.name;
    });
  }
}

// Controls of a swapped-in panel (the page's own module bound only what the page had at first).
function setUpDelegation() {
  document.addEventListener("click", async (event) => {
    const swapped = event.target.closest("[data-swapped]");
    if (!swapped) return;
    const opener = event.target.closest("[data-dialog-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialogOpen);
      if (dialog && !dialog.open) dialog.showModal();
      return;
    }
    const closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      closer.closest("dialog")?.close();
      return;
    }
    const tab = event.target.closest('[role="tab"]');
    if (tab) {
      for (const other of tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]')) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
        const panel = document.getElementById(other.getAttribute("aria-controls"));
        if (panel) panel.hidden = !selected;
      }
      return;
    }
    const copy = event.target.closest("[data-copy]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copy);
      try {
        await navigator.clipboard.writeText(source?.value ?? source?.textContent ?? "");
        copy.textContent = "Copied";
      } catch {
        source?.select?.();
        copy.textContent = "Press Ctrl+C";
      }
    }
  });
}

// Writes a task's row (and its graph box, the runbook's stage and done count); whether the runbook's stage changed.
function updateRow(data) {
  const row = document.querySelector(`tr[data-task="${CSS.escape(data.id)}"]`);
  if (row) {
    const stage = row.querySelector('[data-cell="stage"]');
    stage.textContent = data.stage;
    stage.className = `stage task-${data.stage_class}`;
    const status = row.querySelector('[data-cell="status"]');
    status.textContent = data.status;
    status.className = `status ${data.status_class}`;
    for (const cell of ["started", "ended", "duration"]) {
      const element = row.querySelector(`[data-cell="${cell}"]`);
      if (element) element.textContent = data[cell];
    }
  }
  // The task's box in the graph view, which is on the page even while the list is shown.
  const node = document.querySelector(`rect[data-node-task="${CSS.escape(data.id)}"]`);
  if (node) {
    node.setAttribute("class", `node task-${data.stage_class}`);
    const title = node.querySelector("title");
    if (title) title.textContent = `${node.dataset.name} — ${data.stage}`;
  }
  const done = document.querySelector("[data-runbook-done]");
  if (done) done.textContent = String(data.done);
  const stageChanged = showRunbookStage(data.runbook_stage_name, data.runbook_stage);
  document.documentElement.dataset.lastTaskUpdate = String(Date.now());
  return stageChanged;
}

// The runbook's stage, in words and colour, and the lifecycle buttons that apply in it (each lists its stages in
// `data-stages`); whether it changed (then the open Task Details, whose buttons depend on it, is fetched again).
function showRunbookStage(name, label) {
  const stage = document.querySelector("[data-runbook-stage]");
  if (!stage || !name || stage.dataset.runbookStage === name) return false;
  stage.dataset.runbookStage = name;
  stage.textContent = label;
  stage.className = `stage stage-${name}`;
  for (const control of document.querySelectorAll("[data-stages]")) {
    control.hidden = !control.dataset.stages.split(" ").includes(name);
  }
  return true;
}

let refreshWanted = false;

async function refreshPanel() {
  const panel = document.getElementById("task-panel");
  if (!panel) return;
  if (panel.querySelector("dialog[open]")) {
    // Not under an open dialog: once it closes.
    refreshWanted = true;
    return;
  }
  refreshWanted = false;
  const response = await fetch(`/runbooks/${panel.dataset.runbook}/tasks/${encodeURIComponent(panel.dataset.task)}/panel`, {
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf() },
  });
  if (!response.ok) return;
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  const fresh = template.content.firstElementChild;
  if (!fresh) return;
  fresh.dataset.swapped = "true";
  document.getElementById("task-panel")?.replaceWith(fresh);
  document.documentElement.dataset.panelRefreshes = String(Number(document.documentElement.dataset.panelRefreshes ?? "0") + 1);
}

function setUpLiveUpdates() {
  const page = document.querySelector(".runbook[data-runbook]");
  if (!page) return;
  const state = document.querySelector("[data-live-state]");
  const source = new EventSource(`/runbooks/${page.dataset.runbook}/events?digest=${page.dataset.digest}`);
  source.addEventListener("open", () => {
    if (state) state.textContent = "Live";
    document.documentElement.dataset.liveUpdates = "open";
  });
  source.addEventListener("error", () => {
    if (state) state.textContent = "Reconnecting…";
  });
  source.addEventListener("task", (event) => {
    const data = JSON.parse(event.data);
    const stageChanged = updateRow(data);
    const panel = document.getElementById("task-panel");
    if (panel && (stageChanged || panel.dataset.task === data.id)) refreshPanel();
  });
  source.addEventListener("rows", (event) => {
    // The page was behind when the stream started: every row, then the panel.
    for (const data of JSON.parse(event.data)) updateRow(data);
    if (document.getElementById("task-panel")) refreshPanel();
  });
  source.addEventListener("runbook", (event) => {
    const data = JSON.parse(event.data);
    const stageChanged = showRunbookStage(data.stage_name, data.stage);
    const done = document.querySelector("[data-runbook-done]");
    if (done) done.textContent = String(data.done);
    if (stageChanged && document.getElementById("task-panel")) refreshPanel();
  });
  source.addEventListener("lagged", () => window.location.reload());
  document.addEventListener("close", () => {
    if (refreshWanted) refreshPanel();
  }, true);
}

setUpFilters();
setUpFileInputs();
setUpDelegation();
setUpLiveUpdates();
document.documentElement.dataset.runbookReady = "true";
