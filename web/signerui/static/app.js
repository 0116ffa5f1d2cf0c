// The signer's pages. Plain JavaScript, no framework, no inline script: the page hands its
// configuration over in a JSON block. The server enforces every rule of the ceremony; this
// script only reports what the signer does (pages seen, fields typed, choices) through the
// signer protocol and shows the answers. It never builds markup from data: text goes through
// textContent, positions through the CSSOM.

const cfg = JSON.parse(document.getElementById("config").textContent);
const $ = (sel, root = document) => root.querySelector(sel);

function t(key, args = {}) {
  let m = cfg.messages[key] ?? key;
  for (const [k, v] of Object.entries(args)) m = m.replaceAll("{" + k + "}", String(v));
  return m;
}

function plural(key, n) {
  return t(key + (n === 1 ? "_one" : "_other"), { n });
}

class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message || "request failed");
    this.status = status;
    this.code = body?.error?.code || (status === 0 ? "network" : "http_" + status);
    this.detail = body?.error?.detail || {};
    this.retryAfter = 0;
  }
}

// api calls the signer protocol with the session's CSRF token. The answer's state and token
// replace the page's.
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", cache: "no-store", referrerPolicy: "no-referrer",
    headers: { Accept: "application/json" } };
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = cfg.csrf;
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body ?? {});
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
  if (data?.state) cfg.state = data.state;
  if (!res.ok) {
    const err = new APIError(res.status, data);
    err.retryAfter = Number(res.headers.get("Retry-After")) || Number(err.detail.retry_after) || 0;
    err.date = res.headers.get("Date");
    if (res.status === 401) location.reload();
    throw err;
  }
  data.date = res.headers.get("Date");
  return data;
}

// message is what the signer reads for a failed request.
function message(err) {
  const known = {
    network: "err.network", reading_incomplete: "decide.not_ready", code_wrong: "code.wrong",
    code_expired: "code.expired", no_active_code: "code.no_active", code_locked: "code.locked",
    code_malformed: "code.malformed", code_send_limit: "code.send_limit", delivery_failed: "code.delivery_failed",
    fields_frozen: "field.frozen", reason_required: "refuse.required", reason_too_long: "refuse.too_long",
  };
  if (known[err.code]) return t(known[err.code]);
  return t("err.generic.title") + " — " + t("err.generic");
}

function showAlert(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

function setFieldError(input, el, text) {
  el.textContent = text;
  el.hidden = !text;
  input.setAttribute("aria-invalid", text ? "true" : "false");
}

function formatTimes() {
  for (const el of document.querySelectorAll("time[data-format]")) {
    const d = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(d.getTime())) continue;
    const o = el.dataset.format === "time" ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "long", year: "numeric" };
    el.textContent = new Intl.DateTimeFormat(cfg.lang, o).format(d);
  }
}

// ---- Reader ------------------------------------------------------------------------------

const thresholds = Array.from({ length: 21 }, (_, i) => i / 20);

async function initRead() {
  const n = cfg.doc;
  const doc = () => cfg.state.documents[n - 1];
  const pagesEl = $("#pages");
  const loading = $("#loading");
  const readError = $("#read-error");
  const next = $("#next");
  const nextField = $("#next-field");
  next.addEventListener("click", () => { if (!next.disabled) location.assign(next.dataset.href); });

  if (!cfg.viewer) {
    loading.hidden = true;
    pagesEl.removeAttribute("aria-busy");
    return;
  }
  let pdfjs, pdf;
  try {
    pdfjs = await import(cfg.assets + "pdfjs/pdf.min.mjs");
    pdfjs.GlobalWorkerOptions.workerSrc = cfg.assets + "pdfjs/pdf.worker.min.mjs";
    pdf = await pdfjs.getDocument({
      url: "/s/api/documents/" + n,
      isEvalSupported: false,
      enableXfa: false,
      disableRange: true,
      disableStream: true,
      disableAutoFetch: true,
      standardFontDataUrl: cfg.assets + "pdfjs/standard_fonts/",
      wasmUrl: cfg.assets + "pdfjs/wasm/",
    }).promise;
  } catch (e) {
    console.error("pdf.js:", e);
    loading.hidden = true;
    showAlert(readError, t("read.load_error"));
    return;
  }
  const total = pdf.numPages;
  const first = await pdf.getPage(1);
  const vp1 = first.getViewport({ scale: 1 });
  const pages = [];
  const byEl = new Map();
  const frag = document.createDocumentFragment();
  for (let i = 1; i <= total; i++) {
    const el = document.createElement("section");
    el.className = "page";
    el.id = "page-" + i;
    el.dataset.page = String(i);
    el.setAttribute("aria-label", t("read.page_label", { page: i, total }));
    el.style.aspectRatio = `${vp1.width} / ${vp1.height}`;
    const badge = document.createElement("span");
    badge.className = "page-read";
    badge.textContent = "✓ " + t("read.page_read");
    const num = document.createElement("span");
    num.className = "page-number";
    num.setAttribute("aria-hidden", "true");
    num.textContent = `${i} / ${total}`;
    const fields = document.createElement("div");
    fields.className = "fields";
    el.append(badge, fields, num);
    frag.append(el);
    const p = { num: i, el, fields, list: null, canvas: null, task: null, layer: null, text: null, width: 0, busy: false, rendered: false, gen: 0,
      visible: false, timer: null };
    pages.push(p);
    byEl.set(el, p);
  }
  loading.remove();
  pagesEl.append(frag);

  // Fields, overlaid at their rectangles (PDF points from the bottom left), sized in units of
  // the page's width so that they follow it at every size. On a narrow screen (the media query
  // below, app.css's too) a field scaled with its page is too small to tap and read: each page's
  // fields are then also listed below it, full size and labelled, the same values, messages and
  // marks as the overlay. One of the two is out of reach at a time: the list is not displayed on a
  // wide screen, the overlay is inert on a narrow one (still drawn, neither focused nor announced),
  // so that each field is announced once.
  const narrowQuery = window.matchMedia("(max-width: 40rem)");
  const narrow = () => narrowQuery.matches;
  const inputs = [];
  for (const f of doc().fields) {
    if (f.page < 1 || f.page > total) continue;
    const page = await pdf.getPage(f.page);
    inputs.push(makeField(f, page, pages[f.page - 1]));
  }
  function layoutFields() {
    for (const p of pages) p.fields.inert = narrow();
  }
  layoutFields();
  narrowQuery.addEventListener("change", layoutFields);

  // fieldView builds a field's label, input and message, its ids ending with suffix.
  function fieldView(f, suffix, className) {
    const wrap = document.createElement("div");
    wrap.className = className;
    const input = document.createElement("input");
    input.type = "text";
    input.id = "field-" + f.id + suffix;
    input.name = f.id;
    input.value = f.value || "";
    input.autocomplete = "off";
    input.spellcheck = false;
    if (f.max_length) input.maxLength = f.max_length;
    if (f.required) { input.required = true; input.setAttribute("aria-required", "true"); }
    const label = document.createElement("label");
    label.className = className + "-label";
    label.htmlFor = input.id;
    label.textContent = f.label + (f.required ? " *" : "");
    if (f.required) {
      const sr = document.createElement("span");
      sr.className = "visually-hidden";
      sr.textContent = " (" + t("field.required_mark") + ")";
      label.append(sr);
    }
    const err = document.createElement("p");
    err.className = "field-error";
    err.id = "field-error-" + f.id + suffix;
    err.hidden = true;
    err.setAttribute("role", "alert");
    input.setAttribute("aria-describedby", err.id);
    wrap.append(label, input, err);
    wrap.classList.toggle("is-valid", !!f.valid && !!f.value);
    return { wrap, input, err };
  }

  function makeField(f, page, p) {
    const vp = page.getViewport({ scale: 1 });
    const [x1, y1] = vp.convertToViewportPoint(f.rect.x, f.rect.y);
    const [x2, y2] = vp.convertToViewportPoint(f.rect.x + f.rect.w, f.rect.y + f.rect.h);
    const left = Math.min(x1, x2), top = Math.min(y1, y2), w = Math.abs(x2 - x1), h = Math.abs(y2 - y1);
    const over = fieldView(f, "", "field");
    const wrap = over.wrap;
    wrap.style.left = (left / vp.width) * 100 + "%";
    wrap.style.top = (top / vp.height) * 100 + "%";
    wrap.style.width = (w / vp.width) * 100 + "%";
    wrap.style.height = (h / vp.height) * 100 + "%";
    wrap.style.fontSize = Math.max(1.2, (h / vp.width) * 100 * 0.6) + "cqw";
    p.fields.append(wrap);
    if (!p.list) {
      p.list = document.createElement("div");
      p.list.className = "page-fields";
      p.list.id = "page-fields-" + p.num;
      p.list.setAttribute("role", "group");
      const title = document.createElement("p");
      title.className = "page-fields-title";
      title.id = "page-fields-title-" + p.num;
      title.textContent = t("read.page_fields", { page: p.num });
      p.list.setAttribute("aria-labelledby", title.id);
      p.list.append(title);
      p.el.after(p.list);
    }
    const entry = fieldView(f, "-list", "entry");
    p.list.append(entry.wrap);
    const st = { f, input: over.input, err: over.err, wrap, entry, views: [over, entry], touched: false, edited: false, saved: f.value || "" };
    for (const { input } of st.views) {
      // Typed in one, shown in the other.
      input.addEventListener("input", () => {
        for (const v of st.views) if (v.input !== input && v.input.value !== input.value) v.input.value = input.value;
        st.edited = true;
        if (st.touched) showError(st, check(f, input.value));
      });
      // Leaving a field typed in shows its problem even when its value ends as it began (no
      // change event: typed, then erased).
      input.addEventListener("blur", () => {
        if (!st.edited || st.touched) return;
        st.touched = true;
        showError(st, check(f, input.value));
        update();
      });
      input.addEventListener("change", () => { st.touched = true; save(st); });
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); st.touched = true; save(st); } });
    }
    return st;
  }

  // showError and markValid show a field's state in both its views.
  function showError(st, text) {
    for (const v of st.views) setFieldError(v.input, v.err, text);
  }
  function markValid(st, on) {
    for (const v of st.views) v.wrap.classList.toggle("is-valid", on);
  }

  function check(f, v) {
    if (f.required && v === "") return t("field.required");
    if (f.max_length && [...v].length > f.max_length) return t("field.too_long", { max: f.max_length });
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(v)) return t("field.control");
    if (f.pattern && v !== "") {
      try {
        if (!new RegExp("^(?:" + f.pattern + ")$", "u").test(v)) return t("field.pattern");
      } catch { /* the server decides */ }
    }
    return "";
  }

  function serverReason(f, reason) {
    reason = String(reason || "");
    if (reason.includes("required")) return t("field.required");
    if (reason.includes("longer")) return t("field.too_long", { max: f.max_length });
    if (reason.includes("control")) return t("field.control");
    if (reason.includes("format")) return t("field.pattern");
    return reason || t("field.pattern");
  }

  async function save(st) {
    const { f, input } = st;
    const v = input.value;
    const problem = check(f, v);
    showError(st, problem);
    markValid(st, false);
    if (problem || v === st.saved) {
      markValid(st, !problem && v !== "" && v === st.saved);
      update();
      return;
    }
    try {
      await api("POST", "/s/api/fields", { values: { [f.id]: v } });
      st.saved = v;
      markValid(st, true);
    } catch (e) {
      if (e.code === "field_invalid") showError(st, serverReason(f, e.detail?.fields?.[f.id]));
      else showError(st, message(e));
    }
    update();
  }

  // Rendering: only pages within a screen or so of the viewport hold a canvas and a text layer;
  // the others are released (canvas and text dropped, pdf.js page resources freed).
  // The text layer (pdf.js's TextLayer) lays the page's text over the canvas, transparent: it is
  // what a screen reader reads and what the signer selects. pdf.js sizes and places it through
  // the CSSOM, in units of --total-scale-factor (CSS pixels per PDF point), kept with the page's
  // width; the fields stay above it (app.css).
  const near = new Set();
  const scaleText = (p) => p.el.style.setProperty("--total-scale-factor", String(p.el.clientWidth / p.width));
  async function render(p) {
    if (p.busy || p.canvas) return;
    p.busy = true;
    const gen = p.gen;
    try {
      const page = await pdf.getPage(p.num);
      if (gen !== p.gen) return;
      const base = page.getViewport({ scale: 1 });
      p.el.style.aspectRatio = `${base.width} / ${base.height}`;
      const dpr = Math.min(window.devicePixelRatio || 1, 2);
      const scale = p.el.clientWidth / base.width;
      const vp = page.getViewport({ scale: scale * dpr });
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(vp.width);
      canvas.height = Math.floor(vp.height);
      canvas.setAttribute("aria-hidden", "true");
      const layer = document.createElement("div");
      layer.className = "textLayer";
      p.el.prepend(canvas, layer);
      p.canvas = canvas;
      p.layer = layer;
      p.width = base.width;
      scaleText(p);
      p.text = new pdfjs.TextLayer({ textContentSource: page.streamTextContent({ includeMarkedContent: true }), container: layer,
        viewport: page.getViewport({ scale }) });
      // A page whose text cannot be laid out is still shown and read.
      const text = p.text.render().catch((e) => { if (e?.name !== "AbortException") console.error("text layer, page", p.num, e); });
      p.task = page.render({ canvas, viewport: vp });
      await p.task.promise;
      await text;
      if (gen !== p.gen) return;
      p.task = null;
      p.rendered = true;
      p.el.classList.add("is-rendered");
      evaluate(p);
    } catch (e) {
      if (e?.name !== "RenderingCancelledException") console.error("render page", p.num, e);
    } finally {
      p.busy = false;
      if (gen !== p.gen && near.has(p)) render(p);
    }
  }

  function release(p) {
    p.gen++;
    if (p.task) { p.task.cancel(); p.task = null; }
    if (p.canvas) {
      p.canvas.width = 0;
      p.canvas.height = 0;
      p.canvas.remove();
      p.canvas = null;
    }
    if (p.text) { p.text.cancel(); p.text = null; }
    if (p.layer) { p.layer.remove(); p.layer = null; }
    p.rendered = false;
    p.el.classList.remove("is-rendered");
    evaluate(p);
    if (!p.busy) pdf.getPage(p.num).then((pg) => pg.cleanup()).catch(() => {});
  }

  const renderObs = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const p = byEl.get(e.target);
      if (e.isIntersecting) { near.add(p); render(p); } else { near.delete(p); release(p); }
    }
    position();
  }, { rootMargin: "100% 0px 100% 0px" });

  // Reading: a page counts once most of it (60 % of the page, or of the screen for a page taller
  // than the screen) has stayed in view for the configured time, not counting the action bar.
  const bar = $("#actionbar");
  const readObs = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const p = byEl.get(e.target);
      const rb = e.rootBounds;
      p.visible = e.isIntersecting && (e.intersectionRatio >= 0.6 || (rb !== null && e.intersectionRect.height >= 0.6 * rb.height));
      evaluate(p);
    }
  }, { threshold: thresholds, rootMargin: `0px 0px -${Math.ceil(bar.getBoundingClientRect().height)}px 0px` });

  const isRead = (num) => doc().pages_read.includes(num);
  const reporting = new Set();
  let queue = Promise.resolve();

  function evaluate(p) {
    const want = p.visible && p.rendered && !isRead(p.num) && !reporting.has(p.num) && !doc().complete;
    if (want && !p.timer) {
      p.timer = setTimeout(() => {
        p.timer = null;
        if (p.visible && p.rendered && !isRead(p.num)) report(p);
      }, cfg.dwell_ms);
    } else if (!want && p.timer) {
      clearTimeout(p.timer);
      p.timer = null;
    }
  }

  function report(p) {
    reporting.add(p.num);
    queue = queue.then(async () => {
      try {
        if (!isRead(p.num)) await api("POST", `/s/api/documents/${n}/pages/${p.num}/read`);
        showAlert(readError, "");
      } catch (e) {
        if (e.code === "not_current_document") {
          await api("GET", "/s/api/state").catch(() => {});
        } else {
          showAlert(readError, e.status === 0 ? t("err.network") : t("read.report_error"));
        }
      } finally {
        reporting.delete(p.num);
        update();
        evaluate(p);
      }
    });
  }

  // The page number shown is the page that fills most of the screen.
  let scheduled = false;
  function position() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      let best = null, bestH = -1;
      const vh = window.innerHeight;
      for (const p of near) {
        const r = p.el.getBoundingClientRect();
        const h = Math.min(r.bottom, vh) - Math.max(r.top, 0);
        if (h > bestH || (h === bestH && best && p.num < best.num)) { best = p; bestH = h; }
      }
      if (best) $("#progress").textContent = t("read.progress", { page: best.num, total });
    });
  }
  window.addEventListener("scroll", position, { passive: true });
  window.addEventListener("resize", () => {
    position();
    for (const p of near) if (p.layer) scaleText(p);
  }, { passive: true });

  function update() {
    const d = doc();
    const read = new Set(d.pages_read);
    for (const p of pages) p.el.classList.toggle("is-read", read.has(p.num));
    const rb = $("#readbar");
    rb.value = read.size;
    $("#readcount").textContent = t("read.read_count", { read: read.size, total });
    const last = n === cfg.state.documents.length;
    const allowed = last ? cfg.state.ready_to_decide : cfg.state.documents[n].accessible;
    // A field showing a problem holds a value the server did not take (it keeps the last valid
    // one): the signer goes no further until it is corrected, so what they see is what they sign.
    const shown = (s) => s.input.getAttribute("aria-invalid") === "true";
    next.disabled = !allowed || inputs.some(shown);
    const invalid = inputs.filter((s) => shown(s) || d.fields.find((f) => f.id === s.f.id && !f.valid));
    nextField.hidden = invalid.length === 0;
    let hint;
    if (d.complete) {
      hint = last && cfg.state.ready_to_decide ? t("read.all_done") : t("read.doc_done");
    } else {
      const parts = [];
      if (read.size < total) parts.push(plural("read.left_pages", total - read.size));
      if (invalid.length) parts.push(plural("read.left_fields", invalid.length));
      hint = parts.join(" · ");
    }
    $("#hint").textContent = hint;
    for (const dv of cfg.state.documents) unlockTab(dv);
  }

  function unlockTab(dv) {
    const tab = document.getElementById("tab-" + dv.number);
    if (!tab || tab.tagName === "A" || !dv.accessible) return;
    const a = document.createElement("a");
    a.href = "/s/?v=read&doc=" + dv.number;
    a.id = tab.id;
    a.className = "tab tab-doc.toread";
    const s = document.createElement("span");
    s.textContent = dv.number + ". " + dv.name;
    a.append(s);
    tab.replaceWith(a);
  }

  nextField.addEventListener("click", () => {
    const d = doc();
    const st = inputs.find((s) => s.input.getAttribute("aria-invalid") === "true" || d.fields.find((f) => f.id === s.f.id && !f.valid));
    if (!st) return;
    if (narrow()) {
      st.entry.input.scrollIntoView({ block: "center" });
      st.entry.input.focus({ preventScroll: true });
      return;
    }
    st.wrap.closest(".page").scrollIntoView({ block: "center" });
    st.input.focus({ preventScroll: true });
  });

  for (const p of pages) { renderObs.observe(p.el); readObs.observe(p.el); }
  pagesEl.removeAttribute("aria-busy");
  pagesEl.dataset.ready = "true";
  update();
  const firstUnread = pages.find((p) => !isRead(p.num));
  if (firstUnread && firstUnread.num > 1 && !doc().complete) firstUnread.el.scrollIntoView({ block: "start" });
}

// ---- Decision ----------------------------------------------------------------------------

function initDecide() {
  const sign = $("#sign"), refuse = $("#refuse"), err = $("#decide-error");
  const dlg = $("#refuse-dialog"), form = $("#refuse-form"), reason = $("#reason"), reasonErr = $("#reason-error");
  const confirm = $("#refuse-confirm");
  sign.addEventListener("click", async () => {
    if (sign.disabled) return;
    sign.disabled = true;
    refuse.disabled = true;
    sign.setAttribute("aria-busy", "true");
    sign.textContent = t("decide.working");
    try {
      await api("POST", "/s/api/sign", { consent_digest: cfg.state.consent?.digest ?? "" });
      location.assign("/s/");
    } catch (e) {
      if (e.code === "delivery_failed" || e.code === "consent_already_given") { location.assign("/s/"); return; }
      showAlert(err, message(e));
      sign.textContent = t("decide.sign");
      sign.removeAttribute("aria-busy");
      sign.disabled = false;
      refuse.disabled = false;
      sign.focus(); // disabled during the request, it may have lost the focus
    }
  });
  refuse.addEventListener("click", () => {
    if (refuse.disabled) return;
    setFieldError(reason, reasonErr, "");
    dlg.showModal();
    reason.focus();
  });
  $("#refuse-cancel").addEventListener("click", () => dlg.close());
  reason.addEventListener("input", () => { if (reason.value.trim()) setFieldError(reason, reasonErr, ""); });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = reason.value.trim();
    if (!r) { setFieldError(reason, reasonErr, t("refuse.required")); reason.focus(); return; }
    if ([...r].length > 2000) { setFieldError(reason, reasonErr, t("refuse.too_long")); reason.focus(); return; }
    confirm.disabled = true;
    confirm.setAttribute("aria-busy", "true");
    try {
      await api("POST", "/s/api/refuse", { reason: r });
      location.assign("/s/");
    } catch (e) {
      setFieldError(reason, reasonErr, message(e));
      confirm.disabled = false;
      confirm.removeAttribute("aria-busy");
      reason.focus(); // the message describes the reason: focused, it is read out
    }
  });
}

// ---- Security code -----------------------------------------------------------------------

function initCode() {
  const form = $("#code-form");
  if (!form) return;
  const input = $("#code"), submit = $("#code-submit"), errEl = $("#code-error"), attempts = $("#code-attempts");
  const resend = $("#resend"), resendStatus = $("#resend-status");
  input.focus();
  input.addEventListener("input", () => {
    const digits = input.value.replace(/\D/g, "").slice(0, 6);
    if (digits !== input.value) input.value = digits;
    setFieldError(input, errEl, "");
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = input.value.trim();
    if (!/^[0-9]{6}$/.test(code)) { setFieldError(input, errEl, t("code.malformed")); input.focus(); return; }
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    submit.textContent = t("code.signing");
    input.readOnly = true;
    try {
      await api("POST", "/s/api/code/verify", { code });
      location.assign("/s/");
      return;
    } catch (e) {
      if (["code_locked", "signing_delayed", "signer_finished", "envelope_not_active"].includes(e.code)) { location.assign("/s/"); return; }
      if (e.code === "code_wrong" && e.detail.attempts_left !== undefined) attempts.textContent = t("code.attempts", { n: e.detail.attempts_left });
      setFieldError(input, errEl, message(e));
      input.readOnly = false;
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
      submit.textContent = t("code.submit");
      input.select();
      input.focus();
    }
  });

  let timer = null;
  function countdown(seconds) {
    clearInterval(timer);
    let left = Math.max(0, Math.round(seconds));
    const tick = () => {
      if (left <= 0) {
        clearInterval(timer);
        resend.disabled = false;
        resend.textContent = t("code.resend");
        return;
      }
      resend.disabled = true;
      resend.textContent = t("code.resend_in", { s: left });
      left--;
    };
    tick();
    if (left >= 0) timer = setInterval(tick, 1000);
  }
  countdown(Number(resend.dataset.wait) || 0);
  resend.addEventListener("click", async () => {
    if (resend.disabled) return;
    resend.disabled = true;
    try {
      const r = await api("POST", "/s/api/code");
      showAlert(resendStatus, t("code.resent"));
      const inactive = $("#code-inactive");
      if (inactive) inactive.hidden = true;
      const after = Date.parse(r.state?.code?.resend_after ?? "");
      const now = Date.parse(r.date ?? "") || Date.now();
      let wait = Number.isNaN(after) ? 60 : (after - now) / 1000;
      if (!(wait > 0 && wait <= 3600)) wait = 60;
      countdown(wait);
      attempts.textContent = t("code.attempts", { n: r.state?.code?.attempts_left ?? 5 });
      input.focus();
    } catch (e) {
      if (e.code === "code_locked") { location.assign("/s/"); return; }
      showAlert(resendStatus, e.code === "code_resend_too_soon" ? "" : message(e));
      countdown(e.retryAfter || 0);
    }
  });
}

// ------------------------------------------------------------------------------------------

formatTimes();
const init = { read: initRead, decide: initDecide, code: initCode }[cfg.view];
if (init) {
  Promise.resolve(init()).catch((e) => console.error(e));
}
