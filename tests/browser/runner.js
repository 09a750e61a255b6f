#!/usr/bin/env node
// catalogd's web view in a real headless Chromium, one scenario at a time.
//
//   node tests/browser/runner.js --serve
//       one browser for many scenarios: a JSON request per line on stdin
//       ({"id", "scenario", "args"}), a JSON answer per line on stdout
//       ({"id", "ok", "result"} or {"id", "ok": false, "error", "log"});
//       tests/integration/test_web_browser.py drives it this way.
//   node tests/browser/runner.js SCENARIO '{"base": "http://127.0.0.1:7480", ...}'
//       one scenario by hand; exit 0 when it passed, 1 with the message when not.
//
// Selectors are docs/WEB.md's contract (ids, classes, parameter names); the
// facts to look for (names, keys, hashes) come from the caller, which wrote
// the records.  Each scenario gets a fresh browser context: no cookies,
// cache or storage carried from one to the next.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
// a page of the view answers in milliseconds; a slow ASan build in seconds
const ACTION_TIMEOUT_MS = 15000;
// --serve exits when nobody has asked for this long (its parent is gone or done)
const IDLE_EXIT_MS = 180000;

class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

// A page with the listeners every scenario wants: script errors, dialogs
// and CSP violations (a page that needs an inline style or script is broken
// under the view's CSP) are collected and fail the scenario at its end.
async function openPage(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
    acceptDownloads: true,
    bypassCSP: !!opts.bypassCSP,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  const problems = [];
  const log = [];
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('dialog', async (d) => {
    problems.push(`a dialog fired (${d.type()}): ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    const t = m.text();
    log.push(`console ${m.type()}: ${t}`);
    if (/Content Security Policy/i.test(t)) problems.push(`CSP violation: ${t}`);
  });
  page.on('response', (r) => log.push(`${r.status()} ${r.url()}`));
  return { context, page, problems, log };
}

async function bodyText(page) {
  return page.evaluate(() => document.body.innerText);
}

async function goto(page, url) {
  const res = await page.goto(url, { waitUntil: 'load' });
  check(res, `no response for ${url}`);
  check(res.status() === 200, `${url} answered ${res.status()}, not 200`);
  return res;
}

function params(page) {
  const u = new URL(page.url());
  const out = {};
  for (const [k, v] of u.searchParams) (out[k] = out[k] || []).push(v);
  return out;
}

// Submit a form as a person does: the button when there is one, else Enter
// in the field.  Waits for the page the form leads to.
async function submit(page, form, field) {
  const button = form.locator('button[type=submit], input[type=submit], button:not([type])').first();
  const nav = page.waitForNavigation({ waitUntil: 'load' });
  if (await button.count()) await button.click();
  else await field.press('Enter');
  await nav;
}

// The section.product whose text holds `product` (a locator; may be empty).
function productSection(page, product) {
  return page.locator('section.product').filter({ hasText: product });
}

// Choose one area in the search form: docs/WEB.md makes `area` repeatable,
// so checkboxes (name=area, value=分野); a single <select name=area> is the
// first page's form and is still accepted.
async function chooseArea(form, area) {
  const box = form.locator(`input[type=checkbox][name=area][value="${area}"]`);
  if (await box.count()) {
    await box.check();
    return;
  }
  const sel = form.locator('select[name=area]');
  check(await sel.count(), `form.search has no checkbox (or select) named area for ${area}`);
  await sel.selectOption({ label: area });
}

const scenarios = {
  // 1. a word (Enter in the field), then an area (a click on the button)
  async search(b, a) {
    const { page } = b;
    await goto(page, a.base + '/');
    let form = page.locator('form.search');
    check(await form.count() === 1, 'no form.search on /');
    const q = form.locator('input[name=q]');
    await q.fill(a.word);
    const nav = page.waitForNavigation({ waitUntil: 'load' });
    await q.press('Enter');
    await nav;
    const wordUrl = params(page);
    check((wordUrl.q || []).includes(a.word), `the search went to ${page.url()}, without q=${a.word}`);
    let sec = productSection(page, a.product);
    check(await sec.count() === 1, `searching ${a.word}: ${await sec.count()} section.product hold ${a.product}`);
    const text = await sec.innerText();
    for (const who of a.certifiers) check(text.includes(who), `the result for ${a.product} does not name ${who}:\n${text}`);
    const count = await page.locator('p.count').innerText();
    check(/\d+\s*件/.test(count), `p.count says ${count}`);

    await goto(page, a.base + '/');
    form = page.locator('form.search');
    await chooseArea(form, a.area);
    await submit(page, form, form.locator('input[name=q]'));
    const areaUrl = params(page);
    check((areaUrl.area || []).includes(a.area), `the area search went to ${page.url()}`);
    sec = productSection(page, a.product);
    check(await sec.count() === 1, `area ${a.area}: ${a.product} is not among the results`);
    check(await productSection(page, a.excluded).count() === 0, `area ${a.area}: ${a.excluded} (another area) is listed`);
    return { word_url: wordUrl, area_url: areaUrl, count };
  },

  // 2. search → the product's heading link → a.derived-from → adoptions
  async product(b, a) {
    const { page } = b;
    await goto(page, a.base + '/?' + new URLSearchParams({ q: a.word }));
    const link = productSection(page, a.product).locator('h2 a');
    check(await link.count() === 1, `the result for ${a.product} has no h2 a link`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), link.click()]);
    const at = new URL(page.url());
    check(at.pathname === '/product', `the heading link led to ${page.url()}`);
    const certs = page.locator('table#certifications');
    check(await certs.count() === 1, 'no table#certifications on /product');
    const certsText = await certs.innerText();
    for (const k of a.keys) check(certsText.includes(k), `table#certifications lacks ${k}:\n${certsText}`);
    const row = certs.locator('tr').filter({ hasText: a.derived_key });
    const from = row.locator('a.derived-from');
    check(await from.count() >= 1, `the row of ${a.derived_key} has no a.derived-from`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), from.first().click()]);
    const p = params(page);
    check((p.c || [])[0] === a.source.c && (p.k || [])[0] === a.source.k,
      `a.derived-from led to ${page.url()}, not to c=${a.source.c}&k=${a.source.k}`);
    check((await bodyText(page)).includes(a.source.k), `the page a.derived-from led to does not show ${a.source.k}`);
    const ad = page.locator('table#adoptions');
    check(await ad.count() === 1, `no table#adoptions on ${page.url()}`);
    const adRow = ad.locator('tr').filter({ hasText: a.adopter });
    check(await adRow.count() >= 1, `table#adoptions has no adoption by ${a.adopter}:\n${await ad.innerText()}`);
    check((await adRow.first().innerText()).includes(a.department),
      `the adoption by ${a.adopter} does not show ${a.department}`);
    return { path: at.pathname };
  },

  // 3. 4号随契の確認 on a day the certification had lapsed, then on one it held
  async check(b, a) {
    const { page } = b;
    await goto(page, a.base + '/product?' + new URLSearchParams(a.ref));
    const runCheck = async (on) => {
      const form = page.locator('form#check');
      check(await form.count() === 1, 'no form#check on /product');
      const input = form.locator('input[name=on]');
      await input.fill(on);
      await submit(page, form, input);
      check((params(page).on || [])[0] === on, `the check went to ${page.url()}, without on=${on}`);
      const res = page.locator('section#check-result');
      check(await res.count() === 1, `no section#check-result after checking on ${on}`);
      return res;
    };
    let res = await runCheck(a.lapsed_on);
    const warns = await res.locator('p.warn').allInnerTexts();
    check(warns.some((w) => w.includes('期間満了')),
      `checking ${a.key} on ${a.lapsed_on}: no p.warn says 期間満了 (warnings: ${JSON.stringify(warns)})`);
    res = await runCheck(a.in_force_on);
    const warns2 = await res.locator('p.warn').allInnerTexts();
    check(!warns2.some((w) => w.includes('期間満了')), `on ${a.in_force_on}, in force, a p.warn still says 期間満了`);
    check(await res.locator('p.okbox').count() >= 1, `on ${a.in_force_on}, in force, no p.okbox`);
    return { warnings: warns };
  },

  // 4. the XLSX evidence sheet through the browser's download; the caller unzips it
  async evidence(b, a) {
    const { page } = b;
    await goto(page, a.base + '/product?' + new URLSearchParams(a.ref));
    const link = page.locator('a#evidence-xlsx');
    check(await link.count() === 1, 'no a#evidence-xlsx on /product');
    const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
    check(!(await dl.failure()), `the download failed: ${await dl.failure()}`);
    await dl.saveAs(a.out);
    const head = fs.readFileSync(a.out).subarray(0, 4);
    check(head.equals(Buffer.from('PK\x03\x04', 'latin1')), `${dl.suggestedFilename()} is not a zip (XLSX) file`);
    // the printable sheet shows the same facts, the record's hash among them
    const html = page.locator('a#evidence-html');
    check(await html.count() === 1, 'no a#evidence-html on /product');
    // followed by its address: a printable sheet may open in a tab of its own
    await goto(page, new URL(await html.getAttribute('href'), page.url()).href);
    const text = await bodyText(page);
    check(text.includes(a.key), `the evidence page does not show ${a.key}`);
    check(text.includes(a.hash), `the evidence page does not show the record hash ${a.hash}`);
    return { filename: dl.suggestedFilename(), hash_on_page: true };
  },

  // 5. markup in a company name is text, with the CSP and without it
  async xss(b, a, browser) {
    const where = a.path
      ? a.base + a.path + '?' + new URLSearchParams(a.params || {})
      : a.base + '/?' + new URLSearchParams({ q: a.word });
    const look = async (page) => {
      const res = await goto(page, where);
      const text = await bodyText(page);
      check(text.includes(a.company), `the page text does not hold the company name literally (${a.company})`);
      check(text.includes('<script>'), 'the page text does not hold <script> literally');
      check(text.includes(a.product), `the page text does not hold the product name literally (${a.product})`);
      check(await page.evaluate(() => typeof window.__pwned) === 'undefined', 'window.__pwned is set: the script ran');
      const injected = await page.evaluate(() => [...document.querySelectorAll('script, img[onerror], [onerror]')]
        .map((e) => e.outerHTML));
      check(injected.length === 0, `markup from the catalog became elements: ${injected.join(' ')}`);
      return res;
    };
    const res = await look(b.page);
    const csp = (await res.allHeaders())['content-security-policy'];
    check(csp, 'no Content-Security-Policy header');
    // the CSP would stop an inline script anyway: ask again with it off, so
    // only the escaping stands between the name and the script
    const open = await openPage(browser, { bypassCSP: true });
    try {
      await look(open.page);
      check(open.problems.length === 0, open.problems.join('\n'));
    } finally {
      await open.context.close();
    }
    return { csp, bypassed_csp_checked: true };
  },

  // 7. pages holding another member's long words (no space to break at)
  // stay as wide as the window on screen, and those marked print (the
  // evidence sheet) printed on A4 (794 px at 96 dpi): what overflows is cut
  // off on paper, the record hash with it
  async fits(b, a) {
    const { page } = b;
    const wide = [];
    const widths = {};
    for (const media of ['screen', 'print']) {
      await page.emulateMedia({ media });
      await page.setViewportSize({ width: media === 'print' ? 794 : 1280, height: 800 });
      for (const p of a.pages.filter((q) => media === 'screen' || q.print)) {
        await goto(page, p.url);
        const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        widths[`${media} ${p.name}`] = sw;
        if (sw > iw + 1) wide.push(`${media} ${p.name}: ${sw} px wide in a window of ${iw}`);
      }
    }
    await page.emulateMedia({ media: 'screen' });
    check(wide.length === 0, wide.join('\n'));
    return { widths };
  },

  // 6. every page at 1280×800 under a.dir; all are taken before failing
  async screenshots(b, a) {
    const { page } = b;
    const bad = [];
    const saved = [];
    fs.mkdirSync(a.dir, { recursive: true });
    for (const p of a.pages) {
      let res;
      try {
        res = await page.goto(p.url, { waitUntil: 'load' });
      } catch (e) {
        bad.push(`${p.name}: ${e.message}`);
        continue;
      }
      const file = path.join(a.dir, p.name + '.png');
      await page.screenshot({ path: file });
      saved.push(file);
      if (!res || res.status() !== 200) bad.push(`${p.name}: ${p.url} answered ${res && res.status()}`);
      else if (a.expect && a.expect[p.name] && !(await bodyText(page)).includes(a.expect[p.name]))
        bad.push(`${p.name}: ${p.url} does not show ${a.expect[p.name]}`);
    }
    check(bad.length === 0, bad.join('\n'));
    return { saved };
  },
};

async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

async function runOne(browser, name, args) {
  const fn = scenarios[name];
  if (!fn) return { ok: false, error: `no scenario ${name} (have: ${Object.keys(scenarios).join(', ')})`, log: [] };
  const b = await openPage(browser);
  try {
    const result = await fn(b, args, browser);
    check(b.problems.length === 0, b.problems.join('\n'));
    return { ok: true, result };
  } catch (e) {
    const msg = e instanceof Failure ? e.message : (e && e.stack) || String(e);
    return { ok: false, error: msg + (b.problems.length ? '\n' + b.problems.join('\n') : ''), log: b.log.slice(-20) };
  } finally {
    await b.context.close().catch(() => {});
  }
}

async function serve() {
  const browser = await launch();
  let idle = setTimeout(() => process.exit(0), IDLE_EXIT_MS);
  const rl = readline.createInterface({ input: process.stdin });
  let queue = Promise.resolve();
  rl.on('line', (line) => {
    clearTimeout(idle);
    queue = queue.then(async () => {
      let req;
      try {
        req = JSON.parse(line);
      } catch (e) {
        process.stdout.write(JSON.stringify({ id: null, ok: false, error: `bad request: ${e.message}` }) + '\n');
        return;
      }
      const rep = await runOne(browser, req.scenario, req.args || {});
      process.stdout.write(JSON.stringify({ id: req.id, ...rep }) + '\n');
      idle = setTimeout(() => process.exit(0), IDLE_EXIT_MS);
    });
  });
  rl.on('close', () => {
    queue.then(() => browser.close()).then(() => process.exit(0));
  });
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') return serve();
  if (argv.length !== 2) {
    process.stderr.write('usage: runner.js --serve | runner.js SCENARIO JSON-ARGS\n');
    process.exit(2);
  }
  const browser = await launch();
  const rep = await runOne(browser, argv[0], JSON.parse(argv[1]));
  await browser.close();
  if (rep.ok) {
    process.stdout.write(JSON.stringify(rep.result) + '\n');
    process.exit(0);
  }
  process.stderr.write(`${argv[0]}: ${rep.error}\n${rep.log.join('\n')}\n`);
  process.exit(1);
}

main().catch((e) => {
  process.stderr.write(`${(e && e.stack) || e}\n`);
  process.exit(1);
});
