// The sender's web app. Plain JavaScript, no framework, no inline script: the page hands its
// configuration over in a JSON block. The server checks everything (roles, organisation,
// manifests); this script only gathers input, places fields and shows the answers. It never
// builds markup from data: text goes through textContent, positions through the CSSOM.

import { openPreview, maskPhone } from "./preview.js";

const cfg = JSON.parse(document.getElementById("config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

function t(key, args = {}) {
  let m = cfg.messages[key] ?? key;
  for (const [k, v] of Object.entries(args)) m = m.replaceAll("{" + k + "}", String(v));
  return m;
}

class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message || (status === 0 ? t("common.network") : t("common.error")));
    this.status = status;
    this.code = body?.error?.code || (status === 0 ? "network" : "http_" + status);
    this.problems = body?.error?.problems || [];
    this.retryAfter = 0;
  }
}

// api calls the web app's JSON routes; state changes carry the session's CSRF token.
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", cache: "no-store", referrerPolicy: "no-referrer", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = cfg.csrf || "";
    if (body instanceof FormData) {
      opts.body = body;
    } else {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body ?? {});
    }
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch {
    throw new APIError(0, null);
  }
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (data?.csrf_token) cfg.csrf = data.csrf_token;
  if (!res.ok) {
    const err = new APIError(res.status, data);
    err.retryAfter = Number(res.headers.get("Retry-After")) || 0;
    if (res.status === 401 && cfg.view !== "login") location.assign("/admin/login");
    throw err;
  }
  return data ?? {};
}

function toast(msg) {
  const el = $("#toast");
  el.textContent = msg;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ""; }, 5000);
}

function showError(el, msg) {
  if (!el) { toast(msg); return; }
  el.textContent = msg;
  el.hidden = false;
}

// Sign-out.
$("#logout")?.addEventListener("click", async () => {
  try { await api("POST", "/admin/api/logout"); } catch { /* signed out anyway */ }
  location.assign("/admin/login");
});

// Sign-in.
const loginForm = $("#login-form");
if (loginForm) {
  loginForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("#login-error");
    err.hidden = true;
    const body = { email: $("#email").value.trim(), password: $("#password").value };
    const code = $("#totp").value.trim();
    if (code) body.totp = code;
    $("#login-submit").disabled = true;
    try {
      await api("POST", "/admin/api/login", body);
      location.assign("/admin/");
      return;
    } catch (e) {
      if (e.code === "totp_required") {
        $("#totp-field").hidden = false;
        $("#totp").focus();
        showError(err, t("login.need_totp"));
      } else if (e.code === "rate_limited") {
        showError(err, t("login.limited", { minutes: Math.max(1, Math.ceil(e.retryAfter / 60)) }));
      } else if (e.status === 401) {
        showError(err, t("login.bad"));
      } else {
        showError(err, e.message);
      }
    }
    $("#login-submit").disabled = false;
  });
}

// Buttons that post: data-post=URL, data-confirm, data-reload, data-done (a message).
for (const btn of $$("[data-post]")) {
  btn.addEventListener("click", async () => {
    if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
    btn.disabled = true;
    try {
      await api("POST", btn.dataset.post, {});
      if (btn.dataset.done) toast(btn.dataset.done);
      if ("reload" in btn.dataset) { location.reload(); return; }
    } catch (e) {
      toast(e.message);
    }
    btn.disabled = false;
  });
}

// Forms that post: data-api=URL; JSON of their named inputs, or multipart with data-multipart.
for (const form of $$("form[data-api]")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $(".alert-error", form);
    if (err) err.hidden = true;
    let body;
    if ("multipart" in form.dataset) {
      body = new FormData(form);
    } else {
      body = {};
      for (const el of form.elements) {
        if (!el.name) continue;
        if (el.type === "checkbox") body[el.name] = el.checked;
        else if (el.type === "number") body[el.name] = Number(el.value);
        else body[el.name] = el.value;
      }
    }
    const submit = $("[type=submit]", form);
    if (submit) submit.disabled = true;
    try {
      const res = await api("POST", form.dataset.api, body);
      if ("secret" in form.dataset && res.secret) {
        const box = $("#secret-box");
        $("#secret-value").value = res.secret;
        box.hidden = false;
        box.focus();
        $("#secret-value").select();
        form.reset();
      }
      if (form.dataset.done) toast(form.dataset.done);
      if ("reload" in form.dataset) { location.reload(); return; }
      if (!("secret" in form.dataset)) form.reset();
    } catch (e) {
      showError(err, e.message);
    }
    if (submit) submit.disabled = false;
  });
}
$("[data-reload-click]")?.addEventListener("click", () => location.reload());

// Dialogs: a button with aria-controls opens; data-close closes. (« Preview as … » opens its
// dialog once the preview is drawn, below.)
for (const opener of $$("[aria-haspopup=dialog]:not(#preview-open)")) {
  const dlg = document.getElementById(opener.getAttribute("aria-controls"));
  opener.addEventListener("click", () => dlg.showModal());
  for (const c of $$("[data-close]", dlg)) c.addEventListener("click", () => { dlg.close(); opener.focus(); });
}

// Second factor enrolment.
$("#totp-begin")?.addEventListener("click", async (ev) => {
  try {
    const r = await api("POST", "/admin/api/totp/begin", {});
    $("#totp-qr").src = r.qr;
    $("#totp-secret").textContent = r.secret;
    $("#totp-uri").textContent = r.uri;
    $("#totp-setup").hidden = false;
    ev.target.hidden = true;
    $("#tc-code").focus();
  } catch (e) {
    toast(e.message);
  }
});

// An envelope's page follows its timeline live (polling).
if (cfg.view === "envelope" && cfg.envelope) {
  const shown = $("#envelope-status")?.className;
  const ol = $("#timeline");
  const fmt = (iso) => iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
  async function poll() {
    try {
      const d = await api("GET", "/admin/api/envelopes/" + encodeURIComponent(cfg.envelope));
      if ("badge badge-" + d.status !== shown) { location.reload(); return; }
      const have = new Set($$("li", ol).map((li) => li.dataset.seq));
      for (const it of d.timeline) {
        let li = $$("li", ol).find((x) => x.dataset.seq === String(it.seq));
        const note = it.pending ? t("envelope.pending") : t("envelope.leaf", { n: it.index });
        if (li) { $("span", li).textContent = note; continue; }
        if (have.has(String(it.seq))) continue;
        li = document.createElement("li");
        li.dataset.seq = String(it.seq);
        li.dataset.type = it.type;
        const time = document.createElement("time");
        time.dateTime = it.at;
        time.textContent = fmt(it.at);
        const strong = document.createElement("strong");
        strong.textContent = t("event." + it.type);
        const span = document.createElement("span");
        span.className = "muted small";
        span.textContent = note;
        let extra = "";
        if (it.signer) extra += " · " + it.signer;
        if (it.detail) extra += " · " + it.detail;
        li.append(time, " ", strong, extra + " ", span);
        ol.append(li);
      }
      for (const s of d.signers) {
        const row = $$("tr[data-signer]").find((r) => r.dataset.signer === s.id);
        if (!row) continue;
        const badge = $(".badge", row);
        badge.className = "badge badge-" + s.status;
        badge.textContent = t("status." + s.status);
        row.cells[4].textContent = t("envelope.pages_read", { n: s.pages_read, total: s.pages_total });
      }
    } catch { /* try again later */ }
    setTimeout(poll, 3000);
  }
  setTimeout(poll, 3000);
}

// A draft's page previews it as one of its signers (read only: nothing is sent or recorded).
if (cfg.view === "envelope" && cfg.envelope && $("#preview-open")) {
  const btn = $("#preview-open");
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    try {
      const m = await api("GET", "/admin/api/envelopes/" + encodeURIComponent(cfg.envelope) + "/preview?signer=" +
        encodeURIComponent($("#preview-signer").value));
      btn.disabled = false;
      openPreview(m, btn);
    } catch (e) {
      btn.disabled = false;
      toast(t("preview.error", { error: e.message }));
    }
  });
}

if (cfg.view === "prepare") prepare();

// prepare drives the preparation page: signers, PDFs rendered with pdf.js, fields placed on
// the pages, and the manifest sent to the server, which validates everything again.
function prepare() {
  const form = $("#prepare");
  const signersEl = $("#signers");
  const docsEl = $("#docs");
  const listEl = $("#field-list");
  const ownerSel = $("#field-owner");
  const previewSel = $("#preview-as");
  const previewBtn = $("#preview-open");
  let seq = 0;
  const signers = []; // {id, el}
  const docs = []; // {id, name, file (Blob), pages: [{w, h, el}]}
  // Text fields and signature boxes (kind "signature": one per signer and document, no label).
  const fields = []; // {id, kind, doc, page, x, top, w, h, label, signer, required, box, item}
  const kindSel = $("#field-kind");
  let selected = null;
  let pdfjs = null;

  function signerName(s) {
    const i = signers.indexOf(s);
    return $("[data-k=name]", s.el).value.trim() || s.role || t("prepare.signer_n", { n: i + 1 });
  }

  function refreshSigners() {
    signers.forEach((s, i) => { $("legend", s.el).textContent = s.role ? t("prepare.role") + " : " + s.role : t("prepare.signer_n", { n: i + 1 }); });
    for (const sel of [ownerSel, previewSel, ...$$("select[data-k=signer]", listEl)]) {
      const keep = sel.value;
      const opts = sel === previewSel ? [["", t("prepare.everyone")]] : [];
      for (const s of signers) opts.push([s.id, signerName(s)]);
      sel.replaceChildren(...opts.map(([v, label]) => { const o = document.createElement("option"); o.value = v; o.textContent = label; return o; }));
      if (opts.some(([v]) => v === keep)) sel.value = keep;
    }
    for (const f of fields) {
      if (!signers.some((s) => s.id === f.signer)) removeField(f);
      else { $("select[data-k=signer]", f.item).value = f.signer; paint(f); }
    }
    previewLabel();
  }

  // « Preview as … » names the signer chosen in the « Preview as » list.
  function previewLabel() {
    const s = signers.find((x) => x.id === previewSel.value);
    previewBtn.textContent = s ? t("preview.open_as", { name: signerName(s) }) : t("preview.open");
  }

  function addSigner(role) {
    const frag = $("#tpl-signer").content.cloneNode(true);
    const el = $("fieldset", frag);
    const s = { id: "s" + (++seq), el, role };
    for (const input of $$("[data-k]", el)) {
      input.id = s.id + "-" + input.dataset.k;
      $(`label[data-for=${input.dataset.k}]`, el).htmlFor = input.id;
    }
    $("[data-k=order]", el).value = String(signers.length + 1);
    $("[data-k=name]", el).addEventListener("input", refreshSigners);
    $("[data-remove]", el).addEventListener("click", () => {
      signers.splice(signers.indexOf(s), 1);
      el.remove();
      refreshSigners();
    });
    signers.push(s);
    signersEl.append(el);
    refreshSigners();
    return s;
  }
  $("#add-signer").addEventListener("click", () => { const s = addSigner(); $("[data-k=name]", s.el).focus(); });

  async function viewer() {
    if (pdfjs || !cfg.pdfjs) return pdfjs;
    pdfjs = await import(cfg.pdfjs + "pdf.min.mjs");
    pdfjs.GlobalWorkerOptions.workerSrc = cfg.pdfjs + "pdf.worker.min.mjs";
    return pdfjs;
  }

  async function addDocument(name, blob) {
    const doc = { id: "d" + (++seq), name, file: blob, pages: [] };
    const sec = document.createElement("section");
    sec.className = "doc";
    const h = document.createElement("h3");
    h.textContent = name;
    const status = document.createElement("p");
    status.className = "help";
    status.setAttribute("role", "status");
    status.textContent = t("prepare.loading");
    sec.append(h, status);
    docsEl.append(sec);
    docs.push(doc);
    const lib = await viewer();
    if (!lib) { status.textContent = t("prepare.no_viewer"); return doc; }
    let pdf;
    try {
      pdf = await lib.getDocument({ data: new Uint8Array(await blob.arrayBuffer()), isEvalSupported: false, enableXfa: false,
        standardFontDataUrl: cfg.pdfjs + "standard_fonts/", wasmUrl: cfg.pdfjs + "wasm/" }).promise;
    } catch (e) {
      console.error("pdf.js:", e);
      status.textContent = t("prepare.load_error");
      docs.splice(docs.indexOf(doc), 1);
      return null;
    }
    status.remove();
    const width = Math.min(800, docsEl.clientWidth || 800);
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) if (e.isIntersecting) { render(e.target.page); io.unobserve(e.target); }
    }, { rootMargin: "400px" });
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const vp = page.getViewport({ scale: 1 });
      const el = document.createElement("div");
      el.className = "page";
      el.style.width = width + "px";
      el.style.height = Math.round(vp.height * width / vp.width) + "px";
      const label = document.createElement("span");
      label.className = "page-label";
      label.textContent = t("prepare.page", { n });
      el.append(label);
      const p = { n, w: vp.width, h: vp.height, el, pdfPage: page, doc };
      el.page = p;
      el.dataset.doc = doc.id;
      el.dataset.page = String(n);
      el.addEventListener("click", (ev) => {
        if (ev.target !== el && !ev.target.matches("canvas")) return;
        const r = el.getBoundingClientRect();
        const scale = r.width / p.w;
        placeField(doc, p, (ev.clientX - r.left) / scale, (ev.clientY - r.top) / scale);
      });
      // Without a mouse: each page is a named group, preceded by a button that adds a field
      // of the chosen kind at the page's first free spot from its centre down; the new field
      // takes the focus, so that arrows move it.
      el.setAttribute("role", "group");
      el.setAttribute("aria-label", t("prepare.page_of", { doc: name, n, total: pdf.numPages }));
      const bar = document.createElement("div");
      bar.className = "page-bar";
      bar.style.width = width + "px";
      p.add = document.createElement("button");
      p.add.type = "button";
      p.add.className = "btn btn-quiet btn-small page-add";
      p.add.id = doc.id + "-add-" + n;
      p.total = pdf.numPages;
      pageLabel(p);
      p.add.addEventListener("click", () => addOnPage(p));
      bar.append(p.add);
      sec.append(bar);
      doc.pages.push(p);
      sec.append(el);
      io.observe(el);
    }
    return doc;
  }

  async function render(p) {
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    const vp = p.pdfPage.getViewport({ scale: (p.el.clientWidth / p.w) * dpr });
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(vp.width);
    canvas.height = Math.floor(vp.height);
    canvas.setAttribute("aria-hidden", "true");
    p.el.prepend(canvas);
    try { await p.pdfPage.render({ canvas, viewport: vp }).promise; } catch (e) { console.error("render", e); }
  }

  $("#files").addEventListener("change", async (ev) => {
    for (const f of ev.target.files) await addDocument(f.name, f);
    ev.target.value = "";
  });

  // pageLabel names a page's « add a field » button after the kind chosen.
  function pageLabel(p) {
    const text = t("prepare.page_add", { n: p.n, total: p.total, kind: kindSel.selectedOptions[0]?.textContent.toLowerCase() || "" });
    p.add.textContent = text;
  }

  // The label and "required" apply to text fields only.
  function kindChanged() {
    const sig = kindSel.value === "signature";
    $("#field-label").disabled = sig;
    $("#field-required").disabled = sig;
    for (const d of docs) for (const p of d.pages) if (p.add) pageLabel(p);
  }
  kindSel.addEventListener("change", kindChanged);
  kindChanged();

  // signatureOf is the signature box of a signer in a document, if any.
  function signatureOf(doc, signer, except) {
    return fields.find((f) => f.kind === "signature" && f.doc === doc && f.signer === signer && f !== except);
  }

  // sizeOf is the size of a new field of a kind on page p, in points.
  function sizeOf(kind, p) {
    const sig = kind === "signature";
    return [Math.min(sig ? 150 : 160, p.w), Math.min(sig ? 45 : 22, p.h)];
  }

  // freeSpot is the top left corner of the first spot of w × h on page p, from the page's
  // centre down (then from its top), that overlaps no other field than except.
  function freeSpot(p, w, h, except) {
    const others = fields.filter((o) => o.page === p && o !== except);
    const x = (p.w - w) / 2;
    let top = (p.h - h) / 2;
    for (let i = 0; i <= others.length + 1; i++) {
      const hit = others.find((o) => x < o.x + o.w && o.x < x + w && top < o.top + o.h && o.top < top + h);
      if (!hit) return [x, top];
      top = hit.top + hit.h + 8;
      if (top + h > p.h) top = 8;
    }
    return [x, (p.h - h) / 2];
  }

  // addOnPage adds a field of the chosen kind on page p at its first free spot (or moves
  // the signer's signature box there), focuses it and says so.
  function addOnPage(p) {
    const kind = kindSel.value;
    const owner = signers.find((s) => s.id === ownerSel.value) || signers[0];
    const old = kind === "signature" && owner && signatureOf(p.doc, owner.id);
    const [w, h] = old ? [Math.min(old.w, p.w), Math.min(old.h, p.h)] : sizeOf(kind, p);
    const [x, top] = freeSpot(p, w, h, old);
    const f = placeField(p.doc, p, x + w / 2, top + h / 2, kind);
    if (f && f !== old) toast(t("prepare.field_added", { what: f.box.getAttribute("aria-label") }));
  }

  // Fields: x and top are in PDF points from the page's top left. A signature box for a signer
  // who already has one in the document moves that box instead of adding a second.
  function placeField(doc, p, cx, cy, kind = kindSel.value) {
    const owner = signers.find((s) => s.id === ownerSel.value) || signers[0];
    if (!owner) { toast(t("prepare.need_signer")); return; }
    if (kind === "signature") {
      const old = signatureOf(doc, owner.id);
      if (old) {
        if (old.page !== p) { old.page = p; p.el.append(old.box); }
        move(old, cx - old.w / 2, cy - old.h / 2);
        resize(old, old.w, old.h);
        paint(old);
        select(old);
        old.box.focus();
        toast(t("prepare.signature_moved", { name: signerName(owner) }));
        return old;
      }
    }
    const sig = kind === "signature";
    const [w, h] = sizeOf(kind, p);
    const f = { id: "f" + (++seq), kind: sig ? "signature" : "text", doc, page: p, w, h, x: 0, top: 0, signer: owner.id,
      label: sig ? "" : $("#field-label").value.trim() || t("prepare.default_label"), required: sig || $("#field-required").checked };
    move(f, cx - w / 2, cy - h / 2);
    f.box = document.createElement("div");
    f.box.className = "fbox";
    f.box.tabIndex = 0;
    f.box.setAttribute("role", "button");
    const text = document.createElement("span");
    const grip = document.createElement("span");
    grip.className = "grip";
    f.box.append(text, grip);
    p.el.append(f.box);
    const frag = $("#tpl-field").content.cloneNode(true);
    f.item = $("li", frag);
    listEl.append(f.item);
    const lab = $("[data-k=label]", f.item), sel = $("[data-k=signer]", f.item), req = $("[data-k=required]", f.item);
    lab.value = f.label;
    req.checked = f.required;
    if (sig) for (const el of $$("[data-text-only]", f.item)) el.hidden = true;
    lab.addEventListener("input", () => { f.label = lab.value; paint(f); });
    sel.addEventListener("change", () => {
      const other = sig && signatureOf(f.doc, sel.value, f);
      if (other) {
        toast(t("prepare.signature_taken", { name: signerName(signers.find((s) => s.id === sel.value)) }));
        sel.value = f.signer;
        return;
      }
      f.signer = sel.value;
      paint(f);
    });
    req.addEventListener("change", () => { f.required = req.checked; paint(f); });
    $("[data-remove]", f.item).addEventListener("click", () => removeField(f));
    f.item.addEventListener("focusin", () => select(f));
    drag(f, grip);
    f.box.addEventListener("keydown", (ev) => keys(f, ev));
    f.box.addEventListener("focus", () => select(f));
    fields.push(f);
    refreshSigners();
    sel.value = f.signer;
    paint(f);
    select(f);
    f.box.focus();
    return f;
  }

  function move(f, x, top) {
    f.x = Math.max(0, Math.min(x, f.page.w - f.w));
    f.top = Math.max(0, Math.min(top, f.page.h - f.h));
  }

  // resize keeps a field on its page and at least its kind's minimum size (a signature box is
  // at least 60 × 20 points, as the server requires).
  function resize(f, w, h) {
    const [minW, minH] = f.kind === "signature" ? [60, 20] : [20, 10];
    f.w = Math.max(Math.min(minW, f.page.w), Math.min(w, f.page.w - f.x));
    f.h = Math.max(Math.min(minH, f.page.h), Math.min(h, f.page.h - f.top));
    move(f, f.x, f.top);
  }

  function paint(f) {
    const p = f.page, b = f.box;
    b.style.left = (f.x / p.w * 100) + "%";
    b.style.top = (f.top / p.h * 100) + "%";
    b.style.width = (f.w / p.w * 100) + "%";
    b.style.height = (f.h / p.h * 100) + "%";
    const si = signers.findIndex((s) => s.id === f.signer);
    const cls = "c" + (Math.max(si, 0) % 6);
    const sig = f.kind === "signature";
    b.className = "fbox " + cls + (sig ? " sig" : "") + (previewSel.value && previewSel.value !== f.signer ? " dim" : "");
    f.item.className = "fielditem " + cls + (selected === f ? " selected" : "");
    const owner = signers[si];
    const text = sig ? t("prepare.signature_of", { name: owner ? signerName(owner) : "" }) : f.label + (f.required ? " *" : "");
    b.firstChild.textContent = text;
    const who = sig ? "" : " — " + (owner ? signerName(owner) : ""); // a signature box's text names its signer
    b.setAttribute("aria-label", text + who + " — " + t("prepare.field_where", { doc: f.doc.name, page: p.n }));
    $(".where", f.item).textContent = t("prepare.field_where", { doc: f.doc.name, page: p.n });
    $("#no-fields").hidden = fields.length > 0;
  }

  function select(f) {
    const prev = selected;
    selected = f;
    if (prev && prev !== f && prev.item) paint(prev);
    paint(f);
  }

  function removeField(f) {
    const i = fields.indexOf(f);
    if (i < 0) return;
    fields.splice(i, 1);
    f.box.remove();
    f.item.remove();
    if (selected === f) selected = null;
    $("#no-fields").hidden = fields.length > 0;
  }

  function keys(f, ev) {
    const step = ev.altKey ? 1 : 5;
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
    if (d) {
      ev.preventDefault();
      if (ev.shiftKey) resize(f, f.w + d[0], f.h + d[1]);
      else move(f, f.x + d[0], f.top + d[1]);
      paint(f);
    } else if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      removeField(f);
    }
  }

  function drag(f, grip) {
    let start = null;
    f.box.addEventListener("pointerdown", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      select(f);
      f.box.focus();
      const scale = f.page.el.getBoundingClientRect().width / f.page.w;
      start = { x: ev.clientX, y: ev.clientY, fx: f.x, ft: f.top, fw: f.w, fh: f.h, scale, resize: ev.target === grip };
      f.box.setPointerCapture(ev.pointerId);
    });
    f.box.addEventListener("pointermove", (ev) => {
      if (!start) return;
      const dx = (ev.clientX - start.x) / start.scale, dy = (ev.clientY - start.y) / start.scale;
      if (start.resize) resize(f, start.fw + dx, start.fh + dy);
      else move(f, start.fx + dx, start.ft + dy);
      paint(f);
    });
    const end = () => { start = null; };
    f.box.addEventListener("pointerup", end);
    f.box.addEventListener("pointercancel", end);
    f.box.addEventListener("click", (ev) => ev.stopPropagation());
  }

  previewSel.addEventListener("change", () => { fields.forEach(paint); previewLabel(); });

  // The preview as one signer, from what this page holds: nothing is saved to draw it. The
  // consent text (with each document's fingerprint) only exists once the envelope is saved.
  previewBtn.addEventListener("click", () => {
    const s = signers.find((x) => x.id === previewSel.value);
    if (!s) { toast(t("preview.choose_signer")); previewSel.focus(); return; }
    const m = manifest();
    const me = m.signers.find((x) => x.id === s.id);
    const low = Math.min(...m.signers.map((x) => x.order));
    const nDays = Number($("#expires").value) || 30;
    openPreview({
      organization: cfg.org || "", title: m.title, message: m.message, order: m.order,
      expires_at: new Date(Date.now() + nDays * 86400000).toISOString(),
      signer: { id: s.id, name: me.name || signerName(s), locale: me.locale, order: me.order, phone: maskPhone(me.phone) },
      invited_first: m.order === "parallel" || me.order <= low,
      documents: docs.map((d, i) => ({
        number: i + 1, id: d.id, name: d.name, pages: d.pages.length, accessible: i === 0, blob: d.file,
        fields: m.documents[i].fields.filter((f) => f.signer === s.id),
        signatures: m.documents[i].signatures.filter((b) => b.signer === s.id),
      })),
      consent: "",
    }, previewBtn);
  });

  function days(v) { return Math.round(Number(v) * 24) + "h"; }

  function manifest() {
    const m = {
      title: $("#title").value.trim(),
      message: $("#message").value,
      order: $("input[name=order]:checked").value,
      expires_in: days($("#expires").value || 30),
      signers: signers.map((s) => ({
        id: s.id, name: $("[data-k=name]", s.el).value.trim(), email: $("[data-k=email]", s.el).value.trim(),
        phone: $("[data-k=phone]", s.el).value.replace(/[\s.-]/g, ""), locale: $("[data-k=locale]", s.el).value,
        order: Number($("[data-k=order]", s.el).value) || 0,
      })),
      documents: docs.map((d, i) => ({
        id: d.id, file: (i + 1) + "-" + d.name, name: d.name,
        fields: fields.filter((f) => f.doc === d && f.kind === "text").map((f) => ({
          id: f.id, label: f.label.trim(), signer: f.signer, page: f.page.n, required: f.required, rect: rectOf(f),
        })),
        signatures: fields.filter((f) => f.doc === d && f.kind === "signature").map((f) => ({
          signer: f.signer, page: f.page.n, rect: rectOf(f),
        })),
      })),
    };
    const rem = $("#reminders").value.split(",").map((x) => x.trim()).filter(Boolean);
    if (rem.length) m.reminders = rem.map(days);
    return m;
  }
  function round(v) { return Math.round(v * 100) / 100; }
  // rectOf is a field's rectangle in PDF user space (origin at the page's bottom left).
  function rectOf(f) {
    return { x: round(f.x), y: round(f.page.h - f.top - f.h), w: round(f.w), h: round(f.h) };
  }

  function problems(list) {
    const box = $("#problems");
    const ul = $("ul", box);
    ul.replaceChildren(...list.map((p) => {
      const li = document.createElement("li");
      li.textContent = (p.path ? p.path + " : " : "") + p.message;
      return li;
    }));
    box.hidden = list.length === 0;
    if (list.length) box.focus();
  }

  function upload(json) {
    const fd = new FormData();
    fd.append("manifest", JSON.stringify(json));
    docs.forEach((d, i) => fd.append("file", d.file, (i + 1) + "-" + d.name));
    return fd;
  }

  async function create(send) {
    problems([]);
    const local = [];
    if (!signers.length) local.push({ path: "", message: t("prepare.need_signer") });
    if (!docs.length) local.push({ path: "", message: t("prepare.need_document") });
    if (local.length) { problems(local); return; }
    const buttons = $$(".actions button", form);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const env = await api("POST", "/admin/api/envelopes", upload(manifest()));
      if (send) await api("POST", "/admin/api/envelopes/" + encodeURIComponent(env.id) + "/send", {});
      location.assign("/admin/envelopes/" + encodeURIComponent(env.id));
      return;
    } catch (e) {
      problems(e.problems.length ? e.problems : [{ path: "", message: e.message }]);
    }
    buttons.forEach((b) => { b.disabled = false; });
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); create(true); });
  $("#save-draft").addEventListener("click", () => create(false));
  $("#save-template").addEventListener("click", async () => {
    problems([]);
    const name = $("#template-name").value.trim();
    if (!name) { problems([{ path: "", message: t("prepare.need_template_name") }]); $("#template-name").focus(); return; }
    const m = manifest();
    const tpl = { name, title: m.title, message: m.message, order: m.order,
      roles: signers.map((s, i) => ({ id: s.id, label: signerName(s), order: m.signers[i].order })),
      documents: m.documents.map((d) => ({ name: d.name, file: d.file, fields: d.fields, signatures: d.signatures })) };
    try {
      await api("POST", "/admin/api/templates", upload(tpl));
      toast(t("prepare.template_saved"));
    } catch (e) {
      problems(e.problems.length ? e.problems : [{ path: "", message: e.message }]);
    }
  });

  async function fromTemplate(id) {
    const tpl = await api("GET", "/admin/api/templates/" + encodeURIComponent(id));
    $("#title").value = tpl.title || "";
    $("#message").value = tpl.message || "";
    const radio = $(`input[name=order][value=${tpl.order === "parallel" ? "parallel" : "sequential"}]`);
    if (radio) radio.checked = true;
    const roles = new Map();
    for (const r of tpl.roles) {
      const s = addSigner(r.label);
      $("[data-k=order]", s.el).value = String(r.order);
      roles.set(r.id, s);
    }
    refreshSigners();
    for (let i = 0; i < tpl.documents.length; i++) {
      const td = tpl.documents[i];
      const res = await fetch("/admin/api/templates/" + encodeURIComponent(id) + "/documents/" + (i + 1), { credentials: "same-origin" });
      const doc = await addDocument(td.name, await res.blob());
      if (!doc) continue;
      for (const f of td.fields || []) {
        const p = doc.pages[f.page - 1];
        const s = roles.get(f.signer);
        if (!p || !s) continue;
        ownerSel.value = s.id;
        $("#field-label").value = f.label;
        $("#field-required").checked = f.required;
        placeField(doc, p, f.rect.x + f.rect.w / 2, p.h - f.rect.y - f.rect.h / 2, "text");
        const nf = fields[fields.length - 1];
        nf.w = f.rect.w; nf.h = f.rect.h;
        move(nf, f.rect.x, p.h - f.rect.y - f.rect.h);
        paint(nf);
      }
      for (const b of td.signatures || []) {
        const p = doc.pages[b.page - 1];
        const s = roles.get(b.signer);
        if (!p || !s) continue;
        ownerSel.value = s.id;
        placeField(doc, p, b.rect.x + b.rect.w / 2, p.h - b.rect.y - b.rect.h / 2, "signature");
        const nf = fields[fields.length - 1];
        nf.w = b.rect.w; nf.h = b.rect.h;
        move(nf, b.rect.x, p.h - b.rect.y - b.rect.h);
        paint(nf);
      }
    }
    $("#field-label").value = "";
  }

  if (cfg.template) fromTemplate(cfg.template).catch((e) => problems([{ path: "", message: e.message }]));
  else addSigner();
}
