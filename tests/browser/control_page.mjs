#!/usr/bin/env node
// End-to-end check of the control-room page in Debian's headless Chromium.
//
//   node control_page.mjs --url http://127.0.0.1:PORT --token TOKEN \
//        [--drag-site SITE_ID [--slot 0]] [--expect-card SITE_ID=TEXT ...] \
//        [--screenshot OUT.png]
//
// Opens the page, waits for the event stream (#conn reads "live"), then:
//   --drag-site   drags the site's card ([data-site-id]) onto the slot ([data-slot]) with
//                 HTML5 drag and drop, checks through the API that the slot pins that
//                 site and that the page shows its label in the slot;
//   --expect-card waits until the site's card shows TEXT as its state (what keeps its
//                 media from being taken, as "unsupported codec: H.265").
// Prints one JSON line; exit 0 on success, 1 on any failure (including console errors
// or uncaught exceptions in the page). Whole run: 60 s max.
import { chromium } from "playwright-core";

const TOTAL_TIMEOUT_MS = 60_000;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function parseArgs(argv) {
  const a = { slot: 0, screenshot: null, cards: [] };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    switch (k) {
      case "--url": a.url = v; i++; break;
      case "--token": a.token = v; i++; break;
      case "--drag-site": a.site = v; i++; break;
      case "--slot": a.slot = Number(v); i++; break;
      case "--screenshot": a.screenshot = v; i++; break;
      case "--expect-card": {
        const eq = (v || "").indexOf("=");
        if (eq <= 0) throw new Error("--expect-card wants SITE_ID=TEXT");
        a.cards.push({ id: v.slice(0, eq), text: v.slice(eq + 1) });
        i++;
        break;
      }
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!a.url || !a.token || (!a.site && !a.cards.length))
    throw new Error("usage: --url URL --token TOKEN [--drag-site ID [--slot N]] [--expect-card ID=TEXT] [--screenshot OUT.png]");
  if (!Number.isInteger(a.slot) || a.slot < 0) throw new Error("--slot must be an integer >= 0");
  a.url = a.url.replace(/\/+$/, "");
  return a;
}

let browser = null;

async function finish(ok, payload) {
  const line = JSON.stringify(ok ? { ok: true, ...payload } : { ok: false, ...payload });
  console.log(line);
  try { if (browser) await browser.close(); } catch { /* already gone */ }
  process.exit(ok ? 0 : 1);
}

async function getJSON(args, path) {
  const r = await fetch(args.url + path, { headers: { Authorization: `Bearer ${args.token}` } });
  const body = await r.text();
  if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status} ${body.slice(0, 200)}`);
  return JSON.parse(body);
}

// Chromium reports every failed sub-resource as a console error; a snapshot or preview
// that has no picture yet (404 no_picture) is expected and not a page bug.
function ignorable(msg) {
  const url = (msg.location() && msg.location().url) || "";
  return /^Failed to load resource/.test(msg.text()) && /\/(snapshot|preview)\.jpg/.test(url);
}

async function main() {
  const args = parseArgs(process.argv);
  const errors = [];

  const conf0 = await getJSON(args, "/api/v1/conference");
  const site = args.site ? (conf0.sites || []).find((s) => s.id === args.site) : null;
  if (args.site && !site) throw new Error(`site ${args.site} is not in the conference`);
  if (args.slot >= (conf0.slots || []).length) throw new Error(`slot ${args.slot} is not in the current layout`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(15_000);
  page.on("console", (msg) => {
    if (msg.type() === "error" && !ignorable(msg)) {
      const where = msg.location() && msg.location().url;
      errors.push(`console: ${msg.text()}${where ? ` (${where})` : ""}`);
    }
  });
  page.on("pageerror", (err) => errors.push(`exception: ${err.message}`));

  await page.goto(`${args.url}/?access_token=${encodeURIComponent(args.token)}`);
  await page.waitForFunction(() => document.querySelector("#conn")?.textContent.trim() === "live");

  const cards = {};
  for (const want of args.cards) {
    try {
      await page.waitForFunction(({ id, text }) => {
        const st = document.querySelector(`[data-site-id="${CSS.escape(id)}"] .state`);
        return !!st && st.textContent.trim() === text;
      }, want, { timeout: 10_000 });
    } catch {
      const shown = await page.evaluate((id) => {
        const st = document.querySelector(`[data-site-id="${CSS.escape(id)}"] .state`);
        return st ? st.textContent.trim() : null;
      }, want.id);
      throw new Error(`card ${want.id} shows ${JSON.stringify(shown)}, not ${JSON.stringify(want.text)}`);
    }
    cards[want.id] = want.text;
  }
  if (!args.site) {
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
    if (errors.length) throw new Error(`page reported errors:\n  ${errors.join("\n  ")}`);
    await finish(true, { cards, screenshot: args.screenshot });
    return;
  }

  const card = page.locator(`[data-site-id="${args.site}"]`);
  const slot = page.locator(`[data-slot="${args.slot}"]`);
  await card.waitFor({ state: "visible" });
  await slot.waitFor({ state: "visible" });

  // Watch for the PUT the drop must cause, so a drag that did not reach the drop
  // handler is noticed and retried with synthetic events.
  const isPut = (req) => req.method() === "PUT" && new URL(req.url()).pathname === `/api/v1/slots/${args.slot}`;
  let method = "dragTo";
  let put = page.waitForRequest(isPut, { timeout: 3000 }).catch(() => null);
  await card.dragTo(slot);
  let req = await put;
  if (!req) {
    method = "dispatch";
    put = page.waitForRequest(isPut, { timeout: 3000 }).catch(() => null);
    await page.evaluate(({ id, n }) => {
      const src = document.querySelector(`[data-site-id="${CSS.escape(id)}"]`);
      const dst = document.querySelector(`[data-slot="${n}"]`);
      const dt = new DataTransfer();
      const fire = (el, type) => el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
      fire(src, "dragstart");
      fire(dst, "dragenter");
      fire(dst, "dragover");
      fire(dst, "drop");
      fire(src, "dragend");
    }, { id: args.site, n: args.slot });
    req = await put;
    if (!req) throw new Error("dropping the card on the slot sent no PUT /api/v1/slots/N");
  }
  const sent = req.postDataJSON();
  if (!sent || sent.mode !== "site" || sent.site !== args.site) {
    throw new Error(`drop sent an unexpected body: ${req.postData()}`);
  }

  // The daemon applies it at its next output tick: poll the conference.
  let slotNow = null;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const conf = await getJSON(args, "/api/v1/conference");
    slotNow = (conf.slots || [])[args.slot] || null;
    if (slotNow && slotNow.mode === "site" && slotNow.showing === args.site) break;
    slotNow = slotNow ? { ...slotNow, pending: true } : null;
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!slotNow || slotNow.pending) {
    throw new Error(`slot ${args.slot} did not switch to ${args.site} within 10 s: ${JSON.stringify(slotNow)}`);
  }

  const conf = await getJSON(args, "/api/v1/conference");
  const label = (conf.sites.find((s) => s.id === args.site) || site).label || site.name;
  await page.waitForFunction(({ n, id, label }) => {
    const d = document.querySelector(`[data-slot="${n}"]`);
    const name = d && d.querySelector(".slot-name");
    return !!d && d.dataset.showing === id && !!name && name.textContent.trim() === label;
  }, { n: args.slot, id: args.site, label }, { timeout: 10_000 });

  if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
  if (errors.length) throw new Error(`page reported errors:\n  ${errors.join("\n  ")}`);

  await finish(true, { [`slot${args.slot}`]: slotNow, label, drag: method, screenshot: args.screenshot });
}

const timer = setTimeout(() => finish(false, { error: `timed out after ${TOTAL_TIMEOUT_MS / 1000} s` }), TOTAL_TIMEOUT_MS);
main().catch((e) => {
  clearTimeout(timer);
  finish(false, { error: String(e && e.message ? e.message : e) });
});
