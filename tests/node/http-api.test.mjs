// Every HTTP API endpoint through the npm `pusher` SDK, plus hand-built requests for the request
// signature rules (bad signature, stale timestamp, wrong body_md5...), size limits and errors.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  collect,
  connected,
  createClient,
  disconnectAll,
  expectNoFrame,
  expectRequestError,
  md5Hex,
  sdkFor,
  signedFetch,
  sleep,
  subscribe,
  uniq,
  waitForEvent,
  waitForFrame,
} from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

const APP = { id: '8001', key: 'api-key', secret: 'api-secret', max_event_payload_bytes: 10240 };
const OTHER = { id: '8002', key: 'other-key', secret: 'other-secret' };

function assertJsonError(res, status) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text ?? res.body}`);
  const text = res.text ?? res.body;
  let parsed;
  assert.doesNotThrow(() => {
    parsed = JSON.parse(text);
  }, `error body is JSON: ${text}`);
  assert.equal(typeof parsed.error, 'string', `{"error": "..."}: ${text}`);
}

describe('HTTP API', () => {
  const ctx = useServer({ before, after }, { config: { apps: [APP, OTHER] } });
  afterEach(disconnectAll);
  const sdk = () => sdkFor(ctx.server, APP);

  test('trigger answers {} and delivers to every channel', T, async () => {
    const client = await connected(createClient(ctx.server));
    const [n1, n2] = [uniq('multi-a-'), uniq('multi-b-')];
    const c1 = await subscribe(client, n1);
    const c2 = await subscribe(client, n2);
    const g1 = waitForEvent(c1, 'fan');
    const g2 = waitForEvent(c2, 'fan');
    const res = await sdk().trigger([n1, n2], 'fan', { to: 'all' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    assert.deepEqual((await g1).data, { to: 'all' });
    assert.deepEqual((await g2).data, { to: 'all' });
  });

  test('trigger with socket_id excludes that connection on every channel', T, async () => {
    const [n1, n2] = [uniq('ex-a-'), uniq('ex-b-')];
    const excluded = await connected(createClient(ctx.server));
    const other = await connected(createClient(ctx.server));
    for (const c of [excluded, other]) {
      await subscribe(c, n1);
      await subscribe(c, n2);
    }
    const got = collect(other.channel(n1), 'ex');
    const got2 = collect(other.channel(n2), 'ex');
    await sdk().trigger([n1, n2], 'ex', { x: 1 }, { socket_id: excluded.connection.socket_id });
    await waitForFrame(other, () => got.length === 1 && got2.length === 1);
    await expectNoFrame(excluded, (m) => m.event === 'ex', 700, 'excluded socket received the event');
  });

  test('trigger with info returns subscription_count and user_count', T, async () => {
    const pub = uniq('info-');
    const pres = uniq('presence-info-');
    const a = await connected(createClient(ctx.server, { presence: { user_id: 'same', user_info: {} } }));
    const b = await connected(createClient(ctx.server, { presence: { user_id: 'same', user_info: {} } }));
    for (const c of [a, b]) {
      await subscribe(c, pub);
      await subscribe(c, pres);
    }
    const r1 = await (await sdk().trigger(pub, 'e', {}, { info: 'subscription_count' })).json();
    assert.deepEqual(r1, { channels: { [pub]: { subscription_count: 2 } } });
    const r2 = await (await sdk().trigger(pres, 'e', {}, { info: 'user_count,subscription_count' })).json();
    assert.deepEqual(r2, { channels: { [pres]: { user_count: 1, subscription_count: 2 } } });
  });

  test('triggerBatch answers {} and delivers each item; per-item socket_id', T, async () => {
    const [n1, n2] = [uniq('batch-a-'), uniq('batch-b-')];
    const a = await connected(createClient(ctx.server));
    const c1 = await subscribe(a, n1);
    const c2 = await subscribe(a, n2);
    const g1 = waitForEvent(c1, 'b1');
    const seen2 = collect(c2, 'b2');
    const res = await sdk().triggerBatch([
      { channel: n1, name: 'b1', data: { i: 1 } },
      { channel: n2, name: 'b2', data: { i: 2 }, socket_id: a.connection.socket_id },
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    assert.deepEqual((await g1).data, { i: 1 });
    await sleep(500);
    assert.equal(seen2.length, 0, 'the batch item with socket_id excluded the socket');
  });

  test('triggerBatch with info answers {"batch": [...]} index-aligned', T, async () => {
    const n1 = uniq('batchinfo-');
    const n2 = uniq('batchinfo-');
    const a = await connected(createClient(ctx.server));
    await subscribe(a, n1);
    const res = await sdk().triggerBatch([
      { channel: n1, name: 'x', data: '1', info: 'subscription_count' },
      { channel: n2, name: 'x', data: '2' },
    ]);
    const body = await res.json();
    assert.equal(body.batch.length, 2, JSON.stringify(body));
    assert.deepEqual(body.batch[0], { subscription_count: 1 });
    assert.deepEqual(body.batch[1], {});
  });

  test('triggerBatch with more than max_batch_size (10) items: 400', T, async () => {
    const batch = Array.from({ length: 11 }, (_, i) => ({ channel: uniq('big-'), name: 'x', data: String(i) }));
    const err = await expectRequestError(sdk().triggerBatch(batch));
    assertJsonError(err, 400);
  });

  test('oversize payload: 413 for trigger and for a batch item', T, async () => {
    const big = 'x'.repeat(10_241);
    assertJsonError(await expectRequestError(sdk().trigger(uniq('big-'), 'big', big)), 413);
    const err = await expectRequestError(
      sdk().triggerBatch([
        { channel: uniq('ok-'), name: 'small', data: 'ok' },
        { channel: uniq('big-'), name: 'big', data: big },
      ]),
    );
    assertJsonError(err, 413);
    // A payload at the limit is accepted.
    const res = await sdk().trigger(uniq('edge-'), 'edge', 'y'.repeat(10_240));
    assert.equal(res.status, 200);
  });

  test('oversize batch is rejected as a whole (nothing published)', T, async () => {
    const name = uniq('atomic-');
    const client = await connected(createClient(ctx.server));
    await subscribe(client, name);
    await expectRequestError(
      sdk().triggerBatch([
        { channel: name, name: 'first', data: 'ok' },
        { channel: name, name: 'second', data: 'z'.repeat(20_000) },
      ]),
    );
    await expectNoFrame(client, (m) => m.event === 'first', 500, 'item of a rejected batch was published');
  });

  test('GET /channels lists occupied channels, filter_by_prefix, info=user_count', T, async () => {
    const tag = uniq('');
    const pub = `list-${tag}`;
    const pres = `presence-list-${tag}`;
    const user = uniq('listed');
    const a = await connected(createClient(ctx.server, { presence: { user_id: user, user_info: {} }, user: { id: user } }));
    await subscribe(a, pub);
    await subscribe(a, pres);
    a.signin();
    await waitForFrame(a, (m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel?.startsWith('#'));

    const all = await (await sdk().get({ path: '/channels' })).json();
    assert.deepEqual(all.channels[pub], {});
    assert.deepEqual(all.channels[pres], {});
    assert.ok(
      !Object.keys(all.channels).some((n) => n.startsWith('#')),
      `#server-to-user- channels are not listed: ${JSON.stringify(all)}`,
    );

    const filtered = await (
      await sdk().get({ path: '/channels', params: { filter_by_prefix: 'presence-list-', info: 'user_count' } })
    ).json();
    assert.deepEqual(filtered, { channels: { [pres]: { user_count: 1 } } });

    const byPrefix = await (await sdk().get({ path: '/channels', params: { filter_by_prefix: `list-${tag}` } })).json();
    assert.deepEqual(byPrefix, { channels: { [pub]: {} } });
  });

  test('GET /channels with info=subscription_count', T, async () => {
    const name = uniq('subcount-');
    for (let i = 0; i < 2; i += 1) await subscribe(await connected(createClient(ctx.server)), name);
    const body = await (
      await sdk().get({ path: '/channels', params: { filter_by_prefix: name, info: 'subscription_count' } })
    ).json();
    assert.deepEqual(body, { channels: { [name]: { subscription_count: 2 } } });
  });

  test('GET /channels with info=user_count but no presence- prefix: 400', T, async () => {
    const err = await expectRequestError(sdk().get({ path: '/channels', params: { info: 'user_count' } }));
    assertJsonError(err, 400);
  });

  test('GET /channels/{name}: occupied, subscription_count, user_count', T, async () => {
    const pub = uniq('one-');
    const pres = uniq('presence-one-');
    const a = await connected(createClient(ctx.server, { presence: { user_id: 'u1', user_info: {} } }));
    const b = await connected(createClient(ctx.server, { presence: { user_id: 'u2', user_info: {} } }));
    for (const c of [a, b]) {
      await subscribe(c, pub);
      await subscribe(c, pres);
    }
    const one = await (await sdk().get({ path: `/channels/${pub}`, params: { info: 'subscription_count' } })).json();
    assert.deepEqual(one, { occupied: true, subscription_count: 2 });
    const plain = await (await sdk().get({ path: `/channels/${pub}` })).json();
    assert.deepEqual(plain, { occupied: true });
    const p = await (
      await sdk().get({ path: `/channels/${pres}`, params: { info: 'user_count,subscription_count' } })
    ).json();
    assert.deepEqual(p, { occupied: true, user_count: 2, subscription_count: 2 });
    const empty = await (await sdk().get({ path: `/channels/${uniq('empty-')}` })).json();
    assert.deepEqual(empty, { occupied: false });
  });

  test('GET /channels/{name} with info=user_count on a non-presence channel: 400', T, async () => {
    const err = await expectRequestError(sdk().get({ path: `/channels/${uniq('pub-')}`, params: { info: 'user_count' } }));
    assertJsonError(err, 400);
  });

  test('GET /channels/{name}/users lists distinct users; non-presence: 400', T, async () => {
    const pres = uniq('presence-users-');
    for (const id of ['x1', 'x2', 'x2']) {
      const c = await connected(createClient(ctx.server, { presence: { user_id: id, user_info: {} } }));
      await subscribe(c, pres);
    }
    const body = await (await sdk().get({ path: `/channels/${pres}/users` })).json();
    assert.deepEqual(body.users.map((u) => u.id).sort(), ['x1', 'x2']);
    assertJsonError(await expectRequestError(sdk().get({ path: `/channels/${uniq('pub-')}/users` })), 400);
  });

  test('trigger to #server-to-user- (sendToUser) is accepted', T, async () => {
    const res = await sdk().sendToUser(uniq('nobody'), 'ev', { x: 1 });
    assert.equal(res.status, 200);
  });

  test('trigger validation errors: 400 with a JSON error body', T, async () => {
    const path = `/apps/${APP.id}/events`;
    const cases = [
      ['invalid channel name', { name: 'e', data: '{}', channels: ['bad channel!'] }],
      ['channel name over 164 chars', { name: 'e', data: '{}', channels: [`c-${'x'.repeat(170)}`] }],
      ['more than 100 channels', { name: 'e', data: '{}', channels: Array.from({ length: 101 }, (_, i) => `c${i}`) }],
      ['missing name', { data: '{}', channels: ['c'] }],
      ['missing data', { name: 'e', channels: ['c'] }],
      ['missing channels', { name: 'e', data: '{}' }],
      ['event name over 200 chars', { name: 'e'.repeat(201), data: '{}', channels: ['c'] }],
      ['pusher_internal: event name', { name: 'pusher_internal:member_added', data: '{}', channels: ['c'] }],
      ['malformed socket_id', { name: 'e', data: '{}', channels: ['c'], socket_id: 'abc' }],
      ['body not JSON', '{"name": "e", '],
    ];
    for (const [what, body] of cases) {
      const res = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body });
      assert.equal(res.status, 400, `${what}: got ${res.status} ${res.text}`);
      assertJsonError(res, 400);
    }
  });

  test('non-SDK publishers: data as an object is stringified; "" is valid data', T, async () => {
    const name = uniq('obj-');
    const client = await connected(createClient(ctx.server));
    const channel = await subscribe(client, name);
    const seen = collect(channel, 'raw');
    const path = `/apps/${APP.id}/events`;
    const r1 = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: { name: 'raw', channel: name, data: { a: 1 } } });
    assert.equal(r1.status, 200, r1.text);
    const r2 = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: { name: 'raw', channels: [name], data: '' } });
    assert.equal(r2.status, 200, r2.text);
    await waitForFrame(client, () => seen.length === 2);
    assert.deepEqual(seen[0].data, { a: 1 });
    assert.equal(seen[1].data, '');
  });
});

describe('HTTP API request authentication', () => {
  const ctx = useServer({ before, after }, { config: { apps: [APP, OTHER] } });
  const path = `/apps/${APP.id}/events`;
  const body = () => ({ name: 'auth-test', channels: [uniq('auth-')], data: '{"k":"v"}' });

  test('control: a correctly hand-signed request succeeds', T, async () => {
    const res = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body() });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, {});
    const get = await signedFetch(ctx.server, { app: APP, path: `/apps/${APP.id}/channels` });
    assert.equal(get.status, 200, get.text);
  });

  test('wrong secret: 401 with a JSON error', T, async () => {
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), secret: 'wrong' }), 401);
  });

  test('garbage signature: 401', T, async () => {
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), signature: 'x'.repeat(64) }), 401);
  });

  test('missing auth parameters: 401', T, async () => {
    const res = await fetch(`${ctx.server.baseUrl}/apps/${APP.id}/channels`);
    assertJsonError({ status: res.status, text: await res.text() }, 401);
  });

  test('stale timestamp (more than 600 s old or ahead): 401', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), timestamp: now - 700 }), 401);
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), timestamp: now + 700 }), 401);
    // Within the window: fine.
    const ok = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), timestamp: now - 300 });
    assert.equal(ok.status, 200, ok.text);
  });

  test('wrong body_md5 (signed correctly): 401', T, async () => {
    assertJsonError(
      await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), bodyMd5: md5Hex('something else') }),
      401,
    );
  });

  test('missing body_md5 on a request with a body: 401', T, async () => {
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), bodyMd5: null }), 401);
  });

  test('body changed after signing: 401', T, async () => {
    const original = JSON.stringify(body());
    const tampered = original.replace('"auth-test"', '"auth-tampered"');
    assert.notEqual(tampered, original);
    // Signed over the original md5, sent with another body.
    const res = await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: tampered, bodyMd5: md5Hex(original) });
    assertJsonError(res, 401);
  });

  test('body_md5 of the empty body on GET (PyPI SDK style) is accepted', T, async () => {
    const res = await signedFetch(ctx.server, {
      app: APP,
      path: `/apps/${APP.id}/channels`,
      bodyMd5: 'd41d8cd98f00b204e9800998ecf8427e',
    });
    assert.equal(res.status, 200, res.text);
  });

  test('query parameter added after signing: 401', T, async () => {
    const res = await signedFetch(ctx.server, { app: APP, path: `/apps/${APP.id}/channels` });
    assert.equal(res.status, 200);
    // Re-send an SDK-signed query with an extra unsigned parameter.
    const signed = sdkFor(ctx.server, APP).createSignedQueryString({ method: 'GET', path: `/apps/${APP.id}/channels` });
    const r = await fetch(`${ctx.server.baseUrl}/apps/${APP.id}/channels?${signed}&filter_by_prefix=presence-`);
    assertJsonError({ status: r.status, text: await r.text() }, 401);
  });

  test('auth_key of another app on this app id: 401', T, async () => {
    assertJsonError(await signedFetch(ctx.server, { app: OTHER, method: 'POST', path, body: body() }), 401);
  });

  test('unsupported auth_version: 401', T, async () => {
    assertJsonError(await signedFetch(ctx.server, { app: APP, method: 'POST', path, body: body(), authVersion: '2.0' }), 401);
  });

  test('unknown app id: 401 or 404 with a JSON error', T, async () => {
    const res = await signedFetch(ctx.server, {
      app: { id: '999999', key: 'nope-key', secret: 'nope' },
      method: 'POST',
      path: '/apps/999999/events',
      body: body(),
    });
    assert.ok([401, 404].includes(res.status), `got ${res.status}`);
    assertJsonError(res, res.status);
  });

  test('SDK with a wrong secret gets a 401 RequestError', T, async () => {
    const bad = sdkFor(ctx.server, { ...APP, secret: 'not-the-secret' });
    const err = await expectRequestError(bad.trigger(uniq('x-'), 'e', {}));
    assertJsonError(err, 401);
  });

  test('PyPI-style terminate path /users/{id}/terminate_connections (no /apps prefix) is routed', T, async () => {
    const res = await signedFetch(ctx.server, {
      app: APP,
      method: 'POST',
      path: `/users/${uniq('u')}/terminate_connections`,
      body: '{}',
    });
    assert.equal(res.status, 200, res.text);
  });
});
