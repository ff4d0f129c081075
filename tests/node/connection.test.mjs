// Connection lifecycle with unchanged pusher-js: handshake, refusals (unknown key, disabled app,
// connection quota), ping/pong with a short activity timeout, and the HTTP health endpoints.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { connected, createClient, disconnectAll, sleep, subscribe, waitForFrame, waitForState } from './lib/clients.mjs';
import { DEFAULT_APP, useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };
const SOCKET_ID = /^\d+\.\d+$/;

describe('handshake (env-configured default app)', () => {
  const ctx = useServer({ before, after });
  afterEach(disconnectAll);

  test('pusher-js connects and gets a digits.digits socket_id', T, async () => {
    const client = await connected(createClient(ctx.server));
    assert.equal(client.connection.state, 'connected');
    assert.match(client.connection.socket_id, SOCKET_ID);
  });

  test('two connections get different socket_ids', T, async () => {
    const a = await connected(createClient(ctx.server));
    const b = await connected(createClient(ctx.server));
    assert.notEqual(a.connection.socket_id, b.connection.socket_id);
  });

  test('unknown app key: pusher-js ends `disconnected` and does not retry', T, async () => {
    const client = createClient(ctx.server, { app: { ...DEFAULT_APP, key: 'no-such-key' } });
    const states = [];
    client.connection.bind('state_change', ({ current }) => states.push(current));
    const errors = [];
    client.connection.bind('error', (e) => errors.push(e));
    // (pusher-js connects from its constructor)
    await waitForState(client, 'disconnected', 10_000);
    const settled = states.length;
    // Stay a while: a retrying client would go back to `connecting`.
    await sleep(3000);
    assert.equal(client.connection.state, 'disconnected', `states: ${states.join(' -> ')}`);
    assert.deepEqual(states.slice(settled), [], `no reconnect attempt; states: ${states.join(' -> ')}`);
    assert.ok(!states.includes('connected'), `states: ${states.join(' -> ')}`);
    const codes = errors.map((e) => e?.data?.code ?? e?.error?.data?.code).filter(Boolean);
    assert.ok(codes.includes(4001), `expected an error with code 4001, got ${JSON.stringify(errors)}`);
  });

  test('GET /health, /ready and /metrics', T, async () => {
    const health = await fetch(`${ctx.server.baseUrl}/health`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${ctx.server.baseUrl}/ready`);
    assert.equal(ready.status, 200);
    // Generate some traffic first so the counters have something to show.
    const client = await connected(createClient(ctx.server));
    await subscribe(client, 'metrics-probe');
    const metrics = await fetch(`${ctx.server.baseUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    const text = await metrics.text();
    assert.match(text, /^# (HELP|TYPE) /m, 'Prometheus text format');
    assert.match(text, /connection/i, 'exposes a connections metric');
  });
});

describe('refusals configured per app (TOML)', () => {
  const apps = {
    disabled: { id: '5001', key: 'disabled-key', secret: 'disabled-secret', enabled: false },
    quota: { id: '5002', key: 'quota-key', secret: 'quota-secret', max_connections: 1 },
  };
  const ctx = useServer({ before, after }, { config: { apps: [apps.quota, apps.disabled] } });
  afterEach(disconnectAll);

  test('disabled app: error 4003, client ends `disconnected` without retrying', T, async () => {
    const client = createClient(ctx.server, { app: apps.disabled });
    const errors = [];
    client.connection.bind('error', (e) => errors.push(e));
    client.connect();
    await waitForState(client, 'disconnected', 10_000);
    await sleep(2000);
    assert.equal(client.connection.state, 'disconnected');
    const codes = errors.map((e) => e?.data?.code ?? e?.error?.data?.code).filter(Boolean);
    assert.ok(codes.includes(4003), `expected 4003, got ${JSON.stringify(errors)}`);
  });

  test('max_connections = 1: the second connection is refused with 4004', T, async () => {
    const first = await connected(createClient(ctx.server, { app: apps.quota }));
    const second = createClient(ctx.server, { app: apps.quota });
    const errors = [];
    second.connection.bind('error', (e) => errors.push(e));
    second.connect();
    await waitForState(second, 'disconnected', 10_000);
    const codes = errors.map((e) => e?.data?.code ?? e?.error?.data?.code).filter(Boolean);
    assert.ok(codes.includes(4004), `expected 4004, got ${JSON.stringify(errors)}`);
    assert.equal(first.connection.state, 'connected');
    // Once the first leaves, a new connection is accepted again.
    first.disconnect();
    const deadline = Date.now() + 5000;
    for (;;) {
      const again = createClient(ctx.server, { app: apps.quota });
      try {
        await connected(again, 2000);
        break;
      } catch (err) {
        again.disconnect();
        if (Date.now() > deadline) throw new Error(`the freed slot was not reusable: ${err.message}`);
        await sleep(200);
      }
    }
  });
});

describe('activity timeout and ping/pong', () => {
  const ctx = useServer({ before, after }, {
    config: {
      activity_timeout: 2,
      pong_timeout: 3,
      apps: [{ id: '5101', key: 'ping-key', secret: 'ping-secret' }],
    },
  });
  afterEach(disconnectAll);

  test('server advertises the configured activity_timeout and answers pusher:ping', T, async () => {
    const client = createClient(ctx.server, { pusher: { activityTimeout: 120_000, pongTimeout: 3000 } });
    await connected(client);
    const socketId = client.connection.socket_id;
    // pusher-js uses min(own 120 s, server 2 s): it pings after 2 s of silence.
    assert.equal(client.connection.activityTimeout, 2000);
    await waitForFrame(client, (m) => m.event === 'pusher:pong', { ms: 6000, what: 'pusher:pong' });
    // Idle a few activity periods: the connection must survive them (pings keep it alive).
    await sleep(7000);
    assert.equal(client.connection.state, 'connected');
    assert.equal(client.connection.socket_id, socketId, 'no reconnect happened');
    const pongs = client.received.filter((m) => m.event === 'pusher:pong').length;
    assert.ok(pongs >= 2, `expected several pongs, got ${pongs}`);
  });
});
