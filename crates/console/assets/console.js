// The console's behaviour, layered on server-rendered pages: modal dialogs, tabs, sections revealed by a choice, the
// template checker as you type, line numbers in code editors, copy buttons, and a record of CSP violations.

const violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  violations.push(`${event.violatedDirective} ${event.blockedURI}`);
  document.documentElement.dataset.cspViolations = String(violations.length);
});

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function setUpDialogs() {
  for (const opener of document.querySelectorAll("[data-dialog-open]")) {
    opener.addEventListener("click", () => {
      const dialog = document.getElementById(opener.dataset.dialogOpen);
      if (dialog && !dialog.open) dialog.showModal();
    });
  }
  for (const closer of document.querySelectorAll("[data-dialog-close]")) {
    closer.addEventListener("click", () => closer.closest("dialog")?.close());
  }
  for (const dialog of document.querySelectorAll("dialog[data-modal]")) {
    if (dialog.open) {
      // Rendered open by the server (a refused form, or an action opened by its link): make it modal.
      // Removing the attribute (unlike close()) fires no close event, which would leave the page.
      dialog.removeAttribute("open");
      dialog.showModal();
    }
    dialog.addEventListener("keydown", (event) => trapFocus(dialog, event));
    dialog.addEventListener("close", () => {
      if (dialog.dataset.closeHref) window.location.assign(dialog.dataset.closeHref);
    });
  }
}

// Tab and Shift+Tab cycle through the dialog's controls instead of leaving it for the browser's own.
function trapFocus(dialog, event) {
  if (event.key !== "Tab") return;
  const focusable = [...dialog.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")].filter(
    (element) => !element.disabled && element.tabIndex >= 0 && element.getClientRects().length > 0,
  );
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

// `data-shown-when="name=a|b"`: shown while the control `name` of the same form has one of the values.
function setUpReveals() {
  const reveals = [...document.querySelectorAll("[data-shown-when]")];
  if (reveals.length === 0) return;
  const valueOf = (form, name) => {
    const controls = [...form.querySelectorAll(`[name="${name}"]`)];
    const control = controls.find((c) => (c.type === "radio" || c.type === "checkbox" ? c.checked : true));
    if (!control) return "";
    if (control.type === "checkbox") return "on";
    return control.value;
  };
  const update = () => {
    for (const element of reveals) {
      const form = element.closest("form") ?? document;
      const [name, values] = element.dataset.shownWhen.split("=");
      const shown = values.split("|").includes(valueOf(form, name));
      element.hidden = !shown;
      for (const control of element.querySelectorAll("input, select, textarea")) control.disabled = !shown;
    }
  };
  document.addEventListener("change", update);
  update();
}

function setUpTabs() {
  for (const list of document.querySelectorAll('[role="tablist"]')) {
    const tabs = [...list.querySelectorAll('[role="tab"]')];
    const select = (tab, focus) => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        other.tabIndex = selected ? 0 : -1;
        const panel = document.getElementById(other.getAttribute("aria-controls"));
        if (panel) panel.hidden = !selected;
      }
      if (focus) tab.focus();
    };
    list.addEventListener("click", (event) => {
      const tab = event.target.closest('[role="tab"]');
      if (tab) select(tab, false);
    });
    list.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(document.activeElement);
      if (index < 0) return;
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      select(tabs[(moves[event.key] + tabs.length) % tabs.length], true);
    });
  }
}

function setUpCodeEditors() {
  for (const editor of document.querySelectorAll(".code-editor")) {
    const gutter = editor.querySelector(".gutter");
    const area = editor.querySelector("textarea");
    const update = () => {
      const lines = area.value.split("\n").length;
      gutter.textContent = Array.from({ length: lines }, (_, i) => String(i + 1)).join("\n");
      gutter.scrollTop = area.scrollTop;
    };
    area.addEventListener("input", update);
    area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
    update();
  }
}

// `data-check="place"`: the template checker runs 300 ms after the last keystroke.
function setUpTemplateChecks() {
  for (const field of document.querySelectorAll("[data-check]")) {
    const output = document.getElementById(`${field.id}-error`);
    let timer = 0;
    let sequence = 0;
    const check = async () => {
      const mine = ++sequence;
      const response = await fetch("/settings/check-template", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ place: field.dataset.check, text: field.value }),
        credentials: "same-origin",
      });
      if (!response.ok || mine !== sequence) return;
      const { problems } = await response.json();
      const text = problems.map((p) => `${p.line}:${p.column}: ${p.message}`).join("\n");
      if (output) output.textContent = text;
      field.setAttribute("aria-invalid", String(problems.length > 0));
    };
    field.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    });
    if (field.value) check();
  }
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      const text = source?.value ?? source?.textContent ?? "";
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch {
        source?.select?.();
        button.textContent = "Press Ctrl+C";
      }
    });
  }
}

setUpDialogs();
setUpReveals();
setUpTabs();
setUpCodeEditors();
setUpTemplateChecks();
setUpCopyButtons();
document.documentElement.dataset.consoleReady = "true";
