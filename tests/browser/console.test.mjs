// The web console (/console) in headless Chromium, against the real server binary ($RELAY_BIN):
// sign-in, the live feed (a pusher-js client, API publishes, ingested events), the overview,
// sites, webhooks with their test event and delivery log, and the event sender. A screenshot of
// each page goes to tests/artifacts/console/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import PusherSDK from 'pusher';
import Pusher from 'pusher-js';
import { startServer } from '../node/lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.resolve(HERE, '..', 'artifacts', 'console');
const CHROMIUM = process.env.RELAY_CHROMIUM ?? '/usr/bin/chromium';
const ADMIN_TOKEN = 'console-admin-token';
const INGEST_TOKEN = 'console-ingest-token';
const T = { timeout: 60_000 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A local webhook receiver: `/hook` answers 200, `/fail` 500, `/gone` 410. */
async function startReceiver() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers, body });
      const status = req.url.startsWith('/fail') ? 500 : req.url.startsWith('/gone') ? 410 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: status === 200, note: `receiver answered ${status}` }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    requests,
    url: (p) => `http://127.0.0.1:${server.address().port}${p}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function until(what, check, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('web console', () => {
  let server;
  let receiver;
  let browser;
  let page;
  const clients = [];
  const problems = []; // page errors and CSP violations

  const admin = async (method, p, body) => {
    const res = await fetch(`${server.baseUrl}${p}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const ingest = async (domain, event, data) => {
    const res = await fetch(`${server.baseUrl}/api/events/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-wpfort-token': INGEST_TOKEN },
      // The seed's shape: {domain, event, data: {event, data: {origin, vertical, status, …}}}.
      body: JSON.stringify({
        domain,
        event,
        data: {
          event,
          data: {
            origin: 'wpsec/backend/worker/frontend',
            vertical: event.split('.')[0],
            status: 'success',
            message: 'from the console test',
            ...data,
          },
        },
      }),
    });
    assert.equal(res.status, 200, await res.text());
  };

  const pusherClient = async () => {
    const client = new Pusher(server.app.key, {
      cluster: 'mt1',
      wsHost: '127.0.0.1',
      wsPort: server.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      disableStats: true,
    });
    clients.push(client);
    await until('pusher-js to connect', () => client.connection.state === 'connected');
    return client;
  };

  const subscribed = (client, name) =>
    new Promise((resolve, reject) => {
      const channel = client.subscribe(name);
      const timer = setTimeout(() => reject(new Error(`no subscription to ${name}`)), 10_000);
      channel.bind('pusher:subscription_succeeded', () => {
        clearTimeout(timer);
        resolve(channel);
      });
    });

  const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  /** Opens a console URL with a full load (a hash-only change would not reload the app). */
  const open = async (hash) => {
    await page.goto(`${server.baseUrl}/console${hash}`);
    await page.reload();
  };
  const view = (name) => page.locator(`#view-${name}`);

  const nav = async (label) => {
    await page.getByRole('link', { name: label, exact: true }).click();
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    receiver = await startReceiver();
    server = await startServer({
      env: {
        RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
        RELAY_INGEST_TOKEN: INGEST_TOKEN,
        RELAY_WEBHOOKS_ALLOW_HTTP: 'true',
        RELAY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS: 'true',
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      colorScheme: 'light',
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // Refusals the tests provoke on purpose (401, 409, 400) are logged by Chromium as failed
      // resource loads; anything else (CSP violations above all) is a problem.
      const expected = /Failed to load resource: the server responded with a status of 4\d\d/;
      if (msg.type() === 'error' && !expected.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await browser?.close();
    await receiver?.close();
    const exit = await server?.stop();
    if (process.env.RELAY_TEST_SHOW_LOGS && server) process.stderr.write(server.logs());
    return exit;
  });

  test('serves the console with a strict CSP and no inline code', T, async () => {
    const res = await fetch(`${server.baseUrl}/console`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-security-policy'), /script-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline <script>');
    assert.doesNotMatch(html, /<style|\sstyle=/i, 'no inline styles');
    for (const file of ['app.js', 'style.css']) {
      assert.equal((await fetch(`${server.baseUrl}/console/${file}`)).status, 200, file);
    }
  });

  test('a wrong token is refused and not stored', T, async () => {
    await page.goto(`${server.baseUrl}/console`);
    await view('login').getByLabel('Admin token').fill('not-the-token');
    await view('login').getByRole('button', { name: 'Sign in' }).click();
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /refused/i);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator('#nav').isVisible(), false);
    await shot('login-refused');
  });

  test('signs in with the admin token (session storage only)', T, async () => {
    await view('login').getByLabel('Admin token').fill(ADMIN_TOKEN);
    await view('login').getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#nav').waitFor({ state: 'visible' });
    await page.waitForURL(/#\/live$/);
    assert.equal(await page.locator('#login-error').isVisible(), false);
    const stored = await page.evaluate(() => Object.values(sessionStorage));
    assert.ok(stored.includes(ADMIN_TOKEN));
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    // The feed is open and the default app is picked.
    await page.locator('#live-status', { hasText: `Watching ${server.app.id}` }).waitFor();
  });

  test('live view: a pusher-js client connects and subscribes, API and ingested events appear', T, async () => {
    const feed = page.locator('#live-feed');
    const client = await pusherClient();
    const socketId = client.connection.socket_id;
    await feed.locator('tr.ev-connection_open', { hasText: socketId }).waitFor();
    await subscribed(client, 'console-room');
    await feed.locator('tr.ev-subscribed', { hasText: 'console-room' }).waitFor();
    assert.match(await feed.locator('tr.ev-subscribed').first().textContent(), new RegExp(socketId.replace('.', '\\.')));

    // A publish through the signed HTTP API (npm `pusher`).
    const sdk = new PusherSDK({
      appId: server.app.id, key: server.app.key, secret: server.app.secret,
      host: '127.0.0.1', port: String(server.port), useTLS: false,
    });
    await sdk.trigger('console-room', 'order-shipped', { order: 1234 });
    await feed.locator('tr.ev-api_event', { hasText: 'order-shipped' }).waitFor();
    assert.match(await feed.locator('tr.ev-api_event').first().textContent(), /1234/);

    // An event ingested on /api/events/create for a site registered through the admin API.
    const site = await admin('POST', '/admin/sites', { domain: 'ingest.example.com' });
    assert.equal(site.status, 201);
    await ingest('ingest.example.com', 'wpcore_layer.core_check.started', { operation_id: 'op-42' });
    const row = feed.locator('tr.ev-ingested_event', { hasText: 'wpcore_layer.core_check.started' });
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(site.body.website_id));

    // Newest first.
    assert.match(await feed.locator('tr').first().textContent(), /core_check\.started/);

    // Channel filter.
    await view('live').getByLabel('Channel filter').fill('console-room');
    assert.equal(await feed.locator('tr.ev-ingested_event').count(), 0);
    assert.ok((await feed.locator('tr.ev-api_event').count()) >= 1);
    // Event filter on top.
    await view('live').getByLabel('Event or type filter').fill('subscribed');
    assert.equal(await feed.locator('tr').count(), 1);
    await view('live').getByLabel('Channel filter').fill('');
    await view('live').getByLabel('Event or type filter').fill('');

    // Pause holds new events back; resume shows them.
    await view('live').getByRole('button', { name: 'Pause' }).click();
    await sdk.trigger('console-room', 'while-paused', {});
    await page.locator('#live-count', { hasText: '1 new waiting' }).waitFor();
    assert.equal(await feed.locator('tr', { hasText: 'while-paused' }).count(), 0);
    await view('live').getByRole('button', { name: 'Resume' }).click();
    await feed.locator('tr', { hasText: 'while-paused' }).waitFor();

    // A client event and a disconnect are shown too.
    client.unsubscribe('console-room');
    await feed.locator('tr.ev-unsubscribed', { hasText: 'console-room' }).waitFor();
    await shot('live');

    // Clear empties the view.
    await view('live').getByRole('button', { name: 'Clear' }).click();
    assert.equal(await feed.locator('tr').count(), 0);
    assert.ok(await page.locator('#live-empty').isVisible());
    client.disconnect();
    await feed.locator('tr.ev-connection_close', { hasText: socketId }).waitFor();
    await pusherClient(); // one connection stays for the overview
  });

  test('overview: figures, per-app counts and the messages/s chart', T, async () => {
    await nav('Overview');
    await page.waitForURL(/#\/overview$/);
    const appRow = page.locator('#overview-apps tr', { hasText: server.app.key });
    await appRow.waitFor();
    // connections ≥ 1 (the client left connected above)
    await until('the connection count', async () => Number((await appRow.locator('td.num').first().textContent()).replace(/,/g, '')) >= 1);
    const figures = await page.locator('#overview-figures').textContent();
    for (const label of ['Connections', 'Messages in', 'Messages out', 'Bytes out', 'Webhook queue', 'Store']) {
      assert.ok(figures.includes(label), `missing figure ${label}`);
    }
    // Traffic for the chart: a few publishes a second for ~3 s.
    const sdk = new PusherSDK({
      appId: server.app.id, key: server.app.key, secret: server.app.secret,
      host: '127.0.0.1', port: String(server.port), useTLS: false,
    });
    const client = clients[clients.length - 1];
    await subscribed(client, 'chart-room');
    // ~6 s of traffic, so the chart has a few seconds of samples.
    for (let i = 0; i < 40; i += 1) {
      await sdk.trigger('chart-room', 'tick', { i });
      await sleep(150);
    }
    await until('a non-zero rate', async () => /now: [\d.]+ in\/s, (?!0\.0 )[\d.]+ out/.test(await page.locator('#chart-now').textContent()));
    const label = await page.locator('#chart').getAttribute('aria-label');
    assert.match(label, /now/);
    await shot('overview');
  });

  test('sites: add one (website_id shown, copyable), list, remove with confirmation', T, async () => {
    await nav('Sites');
    await page.waitForURL(/#\/sites$/);
    await page.locator('#sites-list tr', { hasText: 'ingest.example.com' }).waitFor();
    await view('sites').getByLabel('Domain').fill('console-added.example.org');
    await view('sites').getByRole('button', { name: 'Add site' }).click();
    const added = page.locator('#site-added-id');
    await added.waitFor();
    const websiteId = (await added.textContent()).trim();
    assert.match(websiteId, UUID);
    const listed = await admin('GET', '/admin/sites');
    assert.ok(listed.body.sites.some((s) => s.domain === 'console-added.example.org' && s.website_id === websiteId));
    await page.locator('#sites-list tr', { hasText: 'console-added.example.org' }).waitFor();

    await view('sites').getByRole('button', { name: 'Copy the new website_id' }).click();
    await page.locator('#site-result button', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), websiteId);

    // A duplicate is refused with a clear message.
    await view('sites').getByLabel('Domain').fill('console-added.example.org');
    await view('sites').getByRole('button', { name: 'Add site' }).click();
    await page.locator('#site-result .notice-error', { hasText: 'already registered' }).waitFor();

    // Remove asks first; cancel keeps it, confirm removes it.
    await admin('POST', '/admin/sites', { domain: 'to-remove.example.net' });
    await open('#/sites');
    await page.locator('#sites-list tr', { hasText: 'to-remove.example.net' }).waitFor();
    const row = page.locator('#sites-list tr[data-domain="to-remove.example.net"]');
    await row.getByRole('button', { name: 'Remove to-remove.example.net' }).click();
    await row.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('button', { name: 'Remove to-remove.example.net' }).click();
    await row.getByRole('button', { name: 'Yes, remove' }).click();
    await page.locator('#site-result', { hasText: 'Removed to-remove.example.net' }).waitFor();
    assert.equal(await page.locator('#sites-list tr[data-domain="to-remove.example.net"]').count(), 0);
    assert.ok(!(await admin('GET', '/admin/sites')).body.sites.some((s) => s.domain === 'to-remove.example.net'));

    // Show the added site's id again for the screenshot.
    await view('sites').getByLabel('Domain').fill('shop.example.com');
    await view('sites').getByRole('button', { name: 'Add site' }).click();
    await page.locator('#site-added-id').waitFor();
    await shot('sites');
  });

  test('webhooks: create in the UI, send its test event, see deliveries and attempts, redeliver', T, async () => {
    // Two failing endpoints made through the API, to see them stand out.
    const gone = await admin('POST', '/admin/webhooks', {
      name: 'Retired endpoint', url: receiver.url('/gone'), events: ['*'], retry_count: 0,
    });
    assert.equal(gone.status, 201, JSON.stringify(gone.body));
    const broken = await admin('POST', '/admin/webhooks', {
      name: 'Broken endpoint', url: receiver.url('/fail'), events: ['wpcore_layer.*'], retry_count: 0,
    });
    assert.equal(broken.status, 201, JSON.stringify(broken.body));

    await nav('Webhooks');
    await page.waitForURL(/#\/webhooks$/);
    await view('webhooks').getByRole('button', { name: 'New webhook' }).click();
    await view('webhooks').getByLabel('Name', { exact: true }).fill('Console receiver');
    await view('webhooks').getByLabel('URL').fill(receiver.url('/hook'));
    await view('webhooks').getByLabel(/^Events/).fill('*');
    await view('webhooks').getByLabel(/^Retries/).fill('2');
    await view('webhooks').getByLabel(/^Extra headers/).fill('X-From: console');
    await shot('webhook-form');
    await view('webhooks').getByRole('button', { name: 'Create webhook' }).click();
    await page.locator('#webhooks-message', { hasText: 'Created Console receiver' }).waitFor();
    const list = (await admin('GET', '/admin/webhooks')).body.webhooks;
    const hook = list.find((w) => w.name === 'Console receiver');
    assert.ok(hook, 'created through the UI');
    assert.equal(hook.url, receiver.url('/hook'));
    assert.deepEqual(hook.events, ['*']);
    assert.equal(hook.retry_count, 2);
    assert.deepEqual(hook.headers, { 'X-From': 'console' });
    const row = page.locator(`#webhooks-list tr[data-id="${hook.id}"]`);

    // Test event: result shown in the row, and the receiver got it.
    await row.getByRole('button', { name: 'Send a test event to Console receiver' }).click();
    const result = row.locator('.test-result');
    await result.waitFor();
    assert.match(await result.textContent(), /Test delivered — HTTP 200 in \d+ ms/);
    assert.ok(receiver.requests.some((r) => r.url === '/hook' && r.headers['x-from'] === 'console'));

    // An ingested event is delivered to the matching webhooks (and fails on the two broken ones).
    await ingest('ingest.example.com', 'wpcore_layer.core_check.completed', {});
    await until('the receiver to get the event', () =>
      receiver.requests.some((r) => r.url === '/hook' && r.body.includes('wpcore_layer.core_check.completed')));
    await until('the failing webhooks to be marked', async () => {
      const hooks = (await admin('GET', '/admin/webhooks')).body.webhooks;
      return hooks.find((w) => w.id === gone.body.id)?.status === 'disabled' &&
        hooks.find((w) => w.id === broken.body.id)?.last_error;
    });
    await page.reload();
    await row.waitFor();
    assert.ok(await page.locator(`#webhooks-list tr[data-id="${gone.body.id}"]`).evaluate((el) => el.classList.contains('failing')));
    assert.ok(await page.locator(`#webhooks-list tr[data-id="${broken.body.id}"]`).evaluate((el) => el.classList.contains('failing')));
    assert.ok(!(await row.evaluate((el) => el.classList.contains('failing'))));
    assert.match(await page.locator(`#webhooks-list tr[data-id="${gone.body.id}"]`).textContent(), /disabled/);
    await shot('webhooks');

    // Disable and enable again.
    await row.getByRole('button', { name: 'Disable Console receiver' }).click();
    await page.locator('#webhooks-message', { hasText: 'Console receiver disabled' }).waitFor();
    assert.equal((await admin('GET', `/admin/webhooks/${hook.id}`)).body.status, 'inactive');
    await row.getByRole('button', { name: 'Enable Console receiver' }).click();
    await page.locator('#webhooks-message', { hasText: 'Console receiver enabled' }).waitFor();
    assert.equal((await admin('GET', `/admin/webhooks/${hook.id}`)).body.status, 'active');

    // Edit.
    await row.getByRole('button', { name: 'Edit Console receiver' }).click();
    assert.equal(await view('webhooks').getByLabel('Name', { exact: true }).inputValue(), 'Console receiver');
    await view('webhooks').getByLabel(/^Retries/).fill('4');
    await view('webhooks').getByRole('button', { name: 'Save changes' }).click();
    await page.locator('#webhooks-message', { hasText: 'Saved Console receiver' }).waitFor();
    assert.equal((await admin('GET', `/admin/webhooks/${hook.id}`)).body.retry_count, 4);

    // The delivery log.
    await row.getByRole('link', { name: 'Delivery log of Console receiver' }).click();
    await page.waitForURL(new RegExp(`#/webhooks/${hook.id}$`));
    await page.locator('#deliveries-title', { hasText: 'Console receiver' }).waitFor();
    const delivery = page.locator('#deliveries-list tr', { hasText: 'wpcore_layer.core_check.completed' });
    await until('a succeeded delivery', async () => {
      if ((await delivery.count()) && /succeeded/.test(await delivery.first().textContent())) return true;
      await view('deliveries').getByRole('button', { name: 'Refresh' }).click();
      await sleep(300);
      return false;
    });
    assert.match(await delivery.first().textContent(), /200/);
    const testAttempt = page.locator('#attempts-list tr', { hasText: 'test' });
    await testAttempt.first().waitFor();
    assert.match(await testAttempt.first().textContent(), /200[\s\S]*\d+ ms[\s\S]*receiver answered 200/);
    await delivery.first().locator('summary').click();
    assert.match(await delivery.first().locator('.attempt-log').textContent(), /#1[\s\S]*200[\s\S]*receiver answered 200/);

    // Redeliver: queued again, and a second attempt is recorded.
    const before = receiver.requests.filter((r) => r.url === '/hook' && r.body.includes('wpcore_layer.core_check.completed')).length;
    await delivery.first().getByRole('button', { name: /Redeliver/ }).click();
    await page.locator('#deliveries-message', { hasText: 'queued again' }).waitFor();
    await until('the redelivery', () =>
      receiver.requests.filter((r) => r.url === '/hook' && r.body.includes('wpcore_layer.core_check.completed')).length > before);
    await until('two attempts in the log', async () => {
      await view('deliveries').getByRole('button', { name: 'Refresh' }).click();
      await sleep(300);
      return /2\//.test(await delivery.first().locator('td.num').textContent());
    });

    // The test button on this page works too.
    await view('deliveries').getByRole('button', { name: 'Send test event' }).click();
    await page.locator('#deliveries-message .test-result', { hasText: 'HTTP 200' }).waitFor();
    await delivery.first().locator('details').evaluate((el) => {
      el.open = true;
    });
    await shot('deliveries');

    // A failing webhook's log shows the error.
    await open(`#/webhooks/${broken.body.id}`);
    const failed = page.locator('#deliveries-list tr', { hasText: 'wpcore_layer.core_check.completed' });
    await failed.waitFor();
    assert.match(await failed.textContent(), /failed[\s\S]*500/);
    await shot('deliveries-failing');
  });

  test('event sender: publishes to a subscribed pusher-js client and shows the count', T, async () => {
    const client = await pusherClient();
    const channel = await subscribed(client, 'sender-room');
    const got = new Promise((resolve) => channel.bind('greeting', resolve));
    await nav('Event sender');
    await page.waitForURL(/#\/send$/);
    await view('send').getByLabel('Channel').fill('sender-room');
    await view('send').getByLabel('Event name').fill('greeting');

    await view('send').getByLabel(/^Data/).fill('{not json');
    await view('send').getByRole('button', { name: 'Send event' }).click();
    await page.locator('#send-result .notice-error', { hasText: 'not valid JSON' }).waitFor();

    await view('send').getByLabel(/^Data/).fill('{"text": "hello from the console", "n": 7}');
    await view('send').getByRole('button', { name: 'Send event' }).click();
    await page.locator('#send-result', { hasText: 'Delivered to 1 connection' }).waitFor();
    assert.deepEqual(await got, { text: 'hello from the console', n: 7 });

    // A server-side refusal is shown (invalid channel name).
    await view('send').getByLabel('Channel').fill('bad channel name!');
    await view('send').getByRole('button', { name: 'Send event' }).click();
    await page.locator('#send-result .notice-error', { hasText: 'Not sent' }).waitFor();

    await view('send').getByLabel('Channel').fill('sender-room');
    await view('send').getByLabel(/^Data/).fill('{"text": "hello from the console", "n": 7}');
    await view('send').getByRole('button', { name: 'Send event' }).click();
    await page.locator('#send-result', { hasText: 'Delivered to 1 connection' }).waitFor();
    await shot('send');
  });

  test('keyboard: the navigation is reachable and usable with Tab and Enter', T, async () => {
    await open('#/live');
    await page.locator('#nav').waitFor({ state: 'visible' });
    await page.keyboard.press('Tab'); // skip link
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Live');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/overview$/);
    // Focus moves to the new page's heading.
    await page.waitForFunction(() => document.activeElement.id === 'overview-title');
  });

  test('logging out forgets the token; a rotated token signs out', T, async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length <= 1 && !Object.values(sessionStorage).includes('console-admin-token')), true);
    // A stale token in storage is refused at the first call and the form comes back.
    await page.evaluate(() => sessionStorage.setItem('relay.console.token', 'stale'));
    await open('#/sites');
    await page.locator('#login-error', { hasText: 'refused' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('relay.console.token')), null);
  });

  test('no page errors and no CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
