// The preview as one signer: in the #preview dialog, what the signer's pages (package
// web/signerui) will show them: the landing page (sender, message, documents in order with their
// lock state), each document's pages rendered by pdf.js with only that signer's fields and
// signature boxes, the reading order and progress, and the decision with « Signer » and
// « Refuser » disabled. It only draws: it calls no route that changes anything, and a banner
// says so. Text goes through textContent, positions through the CSSOM.
//
// A model is a PreviewView (web/admin/preview.go): from GET /admin/api/envelopes/{id}/preview
// for a draft, or built by the preparation page from what it holds (documents as Blobs).

const cfg = JSON.parse(document.getElementById("config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);

function t(key, args = {}) {
  let m = cfg.messages[key] ?? key;
  for (const [k, v] of Object.entries(args)) m = m.replaceAll("{" + k + "}", String(v));
  return m;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

let pdfjs = null;
async function viewer() {
  if (pdfjs || !cfg.pdfjs) return pdfjs;
  pdfjs = await import(cfg.pdfjs + "pdf.min.mjs");
  pdfjs.GlobalWorkerOptions.workerSrc = cfg.pdfjs + "pdf.worker.min.mjs";
  return pdfjs;
}

// The server's default maximum length of a text field (ceremony's manifest), for fields the
// preparation page places without one.
export const defaultMaxLength = 500;

// maskPhone hides a phone number as the signer's pages do (ceremony.maskPhone).
export function maskPhone(p) {
  if (p.length < 6) return "••••";
  return p.slice(0, 3) + "•".repeat(p.length - 5) + p.slice(-2);
}

const dlg = $("#preview");
let session = null; // {tasks (pdf.js loading tasks), observers, opener}

function teardown() {
  if (!session) return;
  for (const o of session.observers) o.disconnect();
  for (const task of session.tasks) task.destroy().catch(() => {});
  session = null;
  $("#pv-docs").replaceChildren();
}

if (dlg) {
  $("#preview-close").addEventListener("click", () => dlg.close());
  dlg.addEventListener("close", () => {
    const opener = session?.opener;
    teardown();
    opener?.focus();
  });
}

// openPreview shows model in the dialog; the focus returns to opener when it closes.
export function openPreview(model, opener) {
  teardown();
  session = { tasks: [], observers: [], opener };
  const s = session;
  const name = model.signer.name;
  $("#pv-heading").textContent = t("preview.heading", { name });
  const lang = t("preview.lang." + (model.signer.locale === "en" ? "en" : "fr"));
  $("#pv-when").textContent = (model.invited_first ? t("preview.when_first", { name }) : t("preview.when_later", { name, order: model.signer.order })) +
    " " + t("preview.language", { lang });

  // The landing page.
  $("#pv-org").textContent = model.organization;
  $("#pv-title").textContent = model.title;
  $("#pv-greeting").textContent = t("preview.greeting", { name });
  $("#pv-invite").textContent = t("preview.invite", { org: model.organization });
  $("#pv-message").textContent = model.message || "";
  $("#pv-message-box").hidden = !model.message;
  const exp = $("#pv-expires");
  exp.dateTime = model.expires_at;
  const d = new Date(model.expires_at);
  exp.textContent = Number.isNaN(d.getTime()) ? "" : new Intl.DateTimeFormat(cfg.lang, { day: "numeric", month: "long", year: "numeric" }).format(d);
  const total = model.documents.length;
  $("#pv-doclist").replaceChildren(...model.documents.map((doc) => {
    const li = el("li", "pv-docitem");
    li.dataset.doc = String(doc.number);
    const main = el("span", "pv-docmain");
    main.append(el("span", "pv-docname", doc.name), el("span", "muted small",
      pagesText(doc.pages) + (doc.accessible ? "" : " · " + t("preview.locked_hint"))));
    li.append(main, badge(doc));
    return li;
  }));

  // The decision.
  const consent = $("#pv-consent");
  consent.textContent = model.consent || t("preview.consent_later");
  consent.classList.toggle("muted", !model.consent);
  $("#pv-sign-help").textContent = t("preview.sign_help", { phone: model.signer.phone });

  // The documents, in reading order.
  const box = $("#pv-docs");
  for (const doc of model.documents) box.append(documentSection(s, doc, total));

  dlg.showModal();
  dlg.scrollTop = 0;
  $("#pv-heading").focus();
}

function pagesText(n) { return n === 1 ? t("preview.page_one") : t("preview.pages", { n }); }

function badge(doc) {
  const key = doc.accessible ? "preview.doc.toread" : "preview.doc.locked";
  const b = el("span", "badge " + (doc.accessible ? "badge-toread" : "badge-locked"), t(key));
  b.dataset.state = doc.accessible ? "toread" : "locked";
  return b;
}

// hints describes a field as the signer's page enforces it.
function hints(f) {
  const out = [t("preview.field_page", { page: f.page })];
  out.push(f.required ? t("preview.required_mark") : t("preview.optional"));
  out.push(t("preview.max_length", { max: f.max_length || defaultMaxLength }));
  if (f.pattern) out.push(t("preview.pattern", { pattern: f.pattern }));
  return out.join(" · ");
}

function documentSection(s, doc, total) {
  const sec = el("section", "pv-doc");
  sec.dataset.doc = String(doc.number);
  const hid = "pv-doc-h-" + doc.number;
  sec.setAttribute("aria-labelledby", hid);
  const h = el("h4", "pv-doc-title", t("preview.doc_heading", { n: doc.number, total, name: doc.name }));
  h.id = hid;
  const head = el("div", "pv-doc-head");
  head.append(h, badge(doc));
  sec.append(head);
  if (!doc.accessible) sec.append(el("p", "help", t("preview.locked_hint")));

  // The reading progress, as the signer's action bar shows it (nothing read yet).
  const prog = el("div", "pv-progress");
  const at = el("span", "pv-progress-page", t("preview.progress", { page: 1, total: doc.pages }));
  at.setAttribute("aria-live", "polite");
  const bar = el("progress");
  bar.max = Math.max(1, doc.pages);
  bar.value = 0;
  const count = el("span", "muted small", t("preview.read_count", { read: 0, total: doc.pages }));
  count.id = "pv-count-" + doc.number;
  bar.setAttribute("aria-labelledby", count.id);
  prog.append(at, bar, count);
  sec.append(prog);

  // The signer's fields and signature, listed with what the page enforces.
  const list = el("ul", "pv-fieldlist");
  list.setAttribute("aria-label", t("preview.fields"));
  for (const f of doc.fields) {
    const li = el("li", "pv-fielditem");
    li.id = "pv-hint-" + doc.number + "-" + f.id;
    li.dataset.field = f.id;
    const lab = el("strong", "", f.label + (f.required ? " *" : ""));
    li.append(lab, " — ", hints(f));
    list.append(li);
  }
  if (!doc.fields.length) list.append(el("li", "pv-fielditem muted", t("preview.no_fields")));
  if (doc.signatures.length) {
    for (const b of doc.signatures) list.append(el("li", "pv-fielditem pv-sigitem", t("preview.signature_where", { page: b.page })));
  } else {
    list.append(el("li", "pv-fielditem pv-sigitem", t("preview.signature_auto")));
  }
  sec.append(list);

  const pages = el("div", "pv-pages");
  const status = el("p", "help", cfg.pdfjs ? t("preview.loading") : t("prepare.no_viewer"));
  status.setAttribute("role", "status");
  pages.append(status);
  sec.append(pages);
  if (cfg.pdfjs) renderDocument(s, doc, pages, status, at).catch((e) => {
    if (session !== s) return; // closed meanwhile: its documents were destroyed
    console.error("preview:", e);
    status.textContent = t("preview.load_error");
  });
  return sec;
}

async function bytesOf(doc) {
  if (doc.blob) return new Uint8Array(await doc.blob.arrayBuffer());
  const res = await fetch(doc.url, { credentials: "same-origin", cache: "no-store", referrerPolicy: "no-referrer" });
  if (!res.ok) throw new Error("HTTP " + res.status);
  return new Uint8Array(await res.arrayBuffer());
}

async function renderDocument(s, doc, pagesEl, status, at) {
  const lib = await viewer();
  const data = await bytesOf(doc);
  if (session !== s) return;
  const task = lib.getDocument({ data, isEvalSupported: false, enableXfa: false,
    standardFontDataUrl: cfg.pdfjs + "standard_fonts/", wasmUrl: cfg.pdfjs + "wasm/" });
  s.tasks.push(task);
  const pdf = await task.promise;
  if (session !== s) return;
  const n = pdf.numPages;
  const byEl = new Map();
  const frag = document.createDocumentFragment();
  for (let i = 1; i <= n; i++) {
    const page = await pdf.getPage(i);
    if (session !== s) return;
    const vp = page.getViewport({ scale: 1 });
    const pe = el("div", "pv-page");
    pe.dataset.page = String(i);
    pe.setAttribute("role", "group");
    pe.setAttribute("aria-label", t("preview.page_label", { page: i, total: n }));
    pe.style.aspectRatio = `${vp.width} / ${vp.height}`;
    const num = el("span", "pv-page-number", `${i} / ${n}`);
    num.setAttribute("aria-hidden", "true");
    const layer = el("div", "pv-fields");
    for (const f of doc.fields.filter((f) => f.page === i)) layer.append(fieldBox(doc, f, vp));
    for (const b of doc.signatures.filter((b) => b.page === i)) layer.append(signatureBox(b, vp));
    pe.append(layer, num);
    frag.append(pe);
    byEl.set(pe, { page, vp, done: false, n: i });
  }
  status.remove();
  pagesEl.append(frag);
  pagesEl.dataset.ready = "true";

  const render = async (pe) => {
    const p = byEl.get(pe);
    if (p.done) return;
    p.done = true;
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    const vp = p.page.getViewport({ scale: (pe.clientWidth / p.vp.width) * dpr });
    const canvas = el("canvas");
    canvas.width = Math.floor(vp.width);
    canvas.height = Math.floor(vp.height);
    canvas.setAttribute("aria-hidden", "true");
    pe.prepend(canvas);
    try {
      await p.page.render({ canvas, viewport: vp }).promise;
    } catch (e) {
      if (session === s && e?.name !== "RenderingCancelledException") console.error("preview render", e);
    }
    pe.classList.add("is-rendered");
  };
  const near = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { render(e.target); near.unobserve(e.target); }
  }, { root: dlg, rootMargin: "600px 0px" });
  // The page indicator follows the page in view, as on the signer's reader.
  const inView = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) at.textContent = t("preview.progress", { page: byEl.get(e.target).n, total: n });
  }, { root: dlg, threshold: 0.5 });
  s.observers.push(near, inView);
  for (const pe of byEl.keys()) { near.observe(pe); inView.observe(pe); }
}

// place positions a box at a rectangle in PDF user space, in fractions of the page.
function place(box, rect, vp) {
  const [x1, y1] = vp.convertToViewportPoint(rect.x, rect.y);
  const [x2, y2] = vp.convertToViewportPoint(rect.x + rect.w, rect.y + rect.h);
  const left = Math.min(x1, x2), top = Math.min(y1, y2), w = Math.abs(x2 - x1), h = Math.abs(y2 - y1);
  box.style.left = (left / vp.width) * 100 + "%";
  box.style.top = (top / vp.height) * 100 + "%";
  box.style.width = (w / vp.width) * 100 + "%";
  box.style.height = (h / vp.height) * 100 + "%";
  return { w, h };
}

// fieldBox is a text field as the signer gets it: its label (with the required mark), an input
// limited to its maximum length, here read-only.
function fieldBox(doc, f, vp) {
  const wrap = el("div", "pv-field");
  wrap.dataset.field = f.id;
  const { h } = place(wrap, f.rect, vp);
  wrap.style.fontSize = Math.max(1.2, (h / vp.width) * 100 * 0.6) + "cqw";
  const input = el("input");
  input.type = "text";
  input.id = "pv-field-" + doc.number + "-" + f.id;
  input.readOnly = true;
  input.maxLength = f.max_length || defaultMaxLength;
  if (f.pattern) input.pattern = f.pattern;
  if (f.required) input.setAttribute("aria-required", "true");
  input.setAttribute("aria-describedby", "pv-hint-" + doc.number + "-" + f.id);
  input.title = hints(f);
  const label = el("label", "pv-field-label", f.label + (f.required ? " *" : ""));
  label.htmlFor = input.id;
  if (f.required) label.append(el("span", "visually-hidden", " (" + t("preview.required_mark") + ")"));
  wrap.append(label, input);
  return wrap;
}

function signatureBox(b, vp) {
  const box = el("div", "pv-sig", t("preview.signature_box"));
  place(box, b.rect, vp);
  return box;
}
