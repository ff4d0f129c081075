// Per-app limits and switches from the TOML config, seen through pusher-js and the npm SDK:
// max_event_payload_bytes (HTTP 413, client events rejected), max_channels_per_trigger,
// max_batch_size, max_client_events_per_second, subscription_count_events.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  collect,
  connected,
  createClient,
  disconnectAll,
  expectNoFrame,
  expectRequestError,
  sdkFor,
  sleep,
  subscribe,
  uniq,
  waitForEvent,
  waitForFrame,
} from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

const SMALL = {
  id: '9001',
  key: 'small-key',
  secret: 'small-secret',
  enable_client_messages: true,
  max_event_payload_bytes: 100,
  max_channels_per_trigger: 2,
  max_batch_size: 2,
  max_client_events_per_second: 3,
};
const COUNTS = {
  id: '9002',
  key: 'counts-key',
  secret: 'counts-secret',
  subscription_count_events: true,
};

function status(err) {
  return `${err.status}: ${err.body}`;
}

describe('configured limits', () => {
  const ctx = useServer({ before, after }, { config: { apps: [SMALL, COUNTS] } });
  afterEach(disconnectAll);
  const sdk = () => sdkFor(ctx.server, SMALL);

  test('max_event_payload_bytes = 100: 101 bytes is 413, 100 bytes is fine', T, async () => {
    const err = await expectRequestError(sdk().trigger(uniq('p-'), 'e', 'x'.repeat(101)));
    assert.equal(err.status, 413, status(err));
    const ok = await sdk().trigger(uniq('p-'), 'e', 'x'.repeat(100));
    assert.equal(ok.status, 200);
  });

  test('max_channels_per_trigger = 2: three channels is 400', T, async () => {
    const err = await expectRequestError(sdk().trigger([uniq('a-'), uniq('b-'), uniq('c-')], 'e', {}));
    assert.equal(err.status, 400, status(err));
    const ok = await sdk().trigger([uniq('a-'), uniq('b-')], 'e', {});
    assert.equal(ok.status, 200);
  });

  test('max_batch_size = 2: three items is 400', T, async () => {
    const item = () => ({ channel: uniq('batch-'), name: 'e', data: '1' });
    const err = await expectRequestError(sdk().triggerBatch([item(), item(), item()]));
    assert.equal(err.status, 400, status(err));
    const ok = await sdk().triggerBatch([item(), item()]);
    assert.equal(ok.status, 200);
  });

  test('client event over max_event_payload_bytes: pusher:error, not relayed, connection stays', T, async () => {
    const name = uniq('private-');
    const a = await connected(createClient(ctx.server, { app: SMALL }));
    const b = await connected(createClient(ctx.server, { app: SMALL }));
    const chA = await subscribe(a, name);
    const chB = await subscribe(b, name);
    const since = a.received.length;
    chA.trigger('client-big', { blob: 'x'.repeat(200) });
    await waitForFrame(a, (m) => m.event === 'pusher:error', { since });
    await expectNoFrame(b, (m) => m.event === 'client-big', 500);
    const got = waitForEvent(chB, 'client-small');
    chA.trigger('client-small', { s: 1 });
    await got;
    assert.equal(a.connection.state, 'connected');
  });

  test('max_client_events_per_second = 3: the 4th in a burst is rejected with 4301', T, async () => {
    const name = uniq('private-');
    const a = await connected(createClient(ctx.server, { app: SMALL }));
    const b = await connected(createClient(ctx.server, { app: SMALL }));
    const chA = await subscribe(a, name);
    await subscribe(b, name);
    const got = collect(b.channel(name), 'client-tick');
    const since = a.received.length;
    for (let i = 0; i < 6; i += 1) chA.trigger('client-tick', { i });
    await waitForFrame(a, (m) => m.event === 'pusher:error' && m.data?.code === 4301, { since });
    await sleep(500);
    assert.ok(got.length >= 3 && got.length <= 5, `delivered ${got.length} of 6`);
    assert.equal(a.connection.state, 'connected');
  });

  test('subscription_count_events: subscribers get pusher:subscription_count', T, async () => {
    const name = uniq('counted-');
    const a = await connected(createClient(ctx.server, { app: COUNTS }));
    const chA = await subscribe(a, name);
    const two = waitForEvent(chA, 'pusher:subscription_count', {
      ms: 5000,
      filter: (d) => d.subscription_count === 2,
      what: 'subscription_count 2',
    });
    const b = await connected(createClient(ctx.server, { app: COUNTS }));
    await subscribe(b, name);
    await two;
    await waitForFrame(a, () => chA.subscriptionCount === 2);
  });

  test('subscription_count_events: never on presence channels', T, async () => {
    const name = uniq('presence-counted-');
    const a = await connected(createClient(ctx.server, { app: COUNTS, presence: { user_id: 'p1', user_info: {} } }));
    await subscribe(a, name);
    const b = await connected(createClient(ctx.server, { app: COUNTS, presence: { user_id: 'p2', user_info: {} } }));
    await subscribe(b, name);
    await expectNoFrame(a, (m) => m.event === 'pusher_internal:subscription_count', 1500);
  });

  test('subscription_count_events off (default): no subscription_count frames', T, async () => {
    const name = uniq('uncounted-');
    const a = await connected(createClient(ctx.server, { app: SMALL }));
    await subscribe(a, name);
    const b = await connected(createClient(ctx.server, { app: SMALL }));
    await subscribe(b, name);
    await expectNoFrame(a, (m) => m.event === 'pusher_internal:subscription_count', 1500);
  });
});
