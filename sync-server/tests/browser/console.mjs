// Browser walk through the supervisors' console, run by sync-server/tests/console_browser.rs
// against `zhichao serve` filled by `zhichao demo`. Debian's chromium, driven by
// playwright-core (no browser download). Every page is screenshotted into OUT_DIR; any request
// to another host (a CDN) fails the run. Exits non-zero with the reason on the first failure.
import { chromium } from 'playwright-core';
import path from 'node:path';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
};
const BASE_URL = env('BASE_URL');
const OUT_DIR = env('OUT_DIR');
const ACCOUNT = env('ACCOUNT');
const PASSWORD = env('PASSWORD');
const ALERT_ID = env('ALERT_ID');
const NOTICE_ID = env('NOTICE_ID');
const RESPONSE_ID = env('RESPONSE_ID');
const REASON = env('REASON');

const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-dev-shm-usage',
  ],
});
let shot = 0;
const external = [];
const failed = [];
try {
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(BASE_URL) && !u.startsWith('data:')) external.push(u);
  });
  page.on('response', (r) => {
    if (r.status() >= 500) failed.push(`${r.status()} ${r.url()}`);
  });
  const snap = async (name) => {
    shot += 1;
    const file = path.join(OUT_DIR, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(`screenshot ${file}`);
  };

  // Not logged in: the console sends us to its login page.
  await page.goto(`${BASE_URL}/console/`);
  check(page.url().includes('/console/login'), 'an anonymous visit lands on the login page');
  await snap('login');

  // A wrong password is refused, the right one opens the home page.
  await page.getByLabel('账号').fill(ACCOUNT);
  await page.getByLabel('密码').fill('not-the-password');
  await page.locator('form button[type=submit]').click();
  check(page.url().includes('/console/login'), 'a wrong password stays on the login page');
  check((await page.content()).includes('账号或密码错误'), 'a wrong password is reported');
  await page.getByLabel('账号').fill(ACCOUNT);
  await page.getByLabel('密码').fill(PASSWORD);
  await page.locator('form button[type=submit]').click();
  await page.waitForURL(/\/console\/$/);
  check((await page.locator('svg').count()) > 0, 'the home page draws its bar chart');
  await snap('home');

  // Alerts: the list, then the departure alert the patrol closed with its case.
  await page.goto(`${BASE_URL}/console/alerts?status=`);
  await snap('alerts');
  await page.goto(`${BASE_URL}/console/alerts/${ALERT_ID}`);
  check((await page.content()).includes(ALERT_ID), 'the alert page names the alert');
  await snap('alert');
  const caseLink = page.locator('a[href*="/console/cases/"]').first();
  check((await caseLink.count()) > 0, 'the alert links the case that handled it');
  await caseLink.click();
  await page.waitForURL(/\/console\/cases\/[^/?]+$/);
  const caseUrl = page.url();

  // The case: photos that load, and the change history by person.
  const images = page.locator('.gallery img');
  check((await images.count()) >= 2, 'the case shows its photo gallery');
  // Thumbnails load lazily: bring each into view, then wait for all.
  for (let i = 0; i < (await images.count()); i += 1) {
    await images.nth(i).scrollIntoViewIfNeeded();
  }
  await page.waitForFunction(
    () => [...document.querySelectorAll('.gallery img')].every((i) => i.complete),
  );
  const widths = await images.evaluateAll((imgs) => imgs.map((i) => i.naturalWidth));
  check(widths.filter((w) => w > 0).length >= 2, `photo thumbnails load (${widths})`);
  const html = await page.content();
  check(html.includes('officer:wang') && html.includes('officer:li'), 'the history names both officers');
  await snap('case');

  // A photo: the evidence copy and the original's SHA-256.
  await page.locator('.gallery a').first().click();
  await page.waitForLoadState();
  const photoHtml = await page.content();
  check(/[0-9a-f]{64}/.test(photoHtml), 'the photo page shows the SHA-256');
  await snap('photo');
  await page.goto(caseUrl);

  // Cases, notices and units lists.
  await page.goto(`${BASE_URL}/console/cases`);
  await snap('cases');
  await page.goto(`${BASE_URL}/console/notices`);
  await snap('notices');
  await page.goto(`${BASE_URL}/console/units`);
  check((await page.content()).includes('凤城陶瓷'), 'the public list shows the units');
  check((await page.content()).includes('润城镇'), 'townships are shown by their names');
  await snap('units');

  // The ceramics plant's response: return it with a reason.
  await page.goto(`${BASE_URL}/console/notices/${NOTICE_ID}`);
  await snap('notice');
  const form = page.locator(`form:has(input[name=parent][value="${RESPONSE_ID}"])`);
  check((await form.count()) === 1, 'the response awaiting review has a review form');
  await form.locator('textarea[name=reasons]').fill(REASON);
  await Promise.all([
    page.waitForNavigation(),
    form.locator('button[name=decision][value=return]').click(),
  ]);
  await snap('returned');
  const after = await page.content();
  check(
    page.url().includes(`/console/notices/${NOTICE_ID}`),
    `the review leads back to the notice (${page.url()})`,
  );
  check(after.includes(REASON), 'the notice page shows the reason of the return');
  check(after.includes('退回'), 'the notice page shows the response returned');

  // Logout ends the session.
  await page.locator('form[action="/console/logout"] button').click();
  await page.waitForURL(/\/console\/login/);
  await page.goto(`${BASE_URL}/console/cases`);
  check(page.url().includes('/console/login'), 'after logout the console asks for a login again');

  check(external.length === 0, `no request leaves the server (${external.join(', ')})`);
  check(failed.length === 0, `no server error (${failed.join(', ')})`);
} finally {
  await browser.close();
}
