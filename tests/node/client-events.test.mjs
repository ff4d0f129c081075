// Client events (`client-*`) between unchanged pusher-js clients: delivery, no echo, user_id on
// presence, the rules that reject them (app flag, public/encrypted channels, rate limit) without
// closing the connection, and that they are never cached.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  collect,
  connected,
  createClient,
  disconnectAll,
  expectNoFrame,
  sleep,
  subscribe,
  uniq,
  waitForEvent,
  waitForFrame,
} from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

async function pair(server, name, presence = [undefined, undefined]) {
  const a = await connected(createClient(server, { presence: presence[0] }));
  const b = await connected(createClient(server, { presence: presence[1] }));
  return { a, b, chA: await subscribe(a, name), chB: await subscribe(b, name) };
}

describe('client events enabled (RELAY_APP_ENABLE_CLIENT_MESSAGES=true)', () => {
  const ctx = useServer({ before, after }, { env: { RELAY_APP_ENABLE_CLIENT_MESSAGES: 'true' } });
  afterEach(disconnectAll);

  test('private channel: delivered to the other subscriber, not echoed, no user_id', T, async () => {
    const name = uniq('private-');
    const { a, chA, chB } = await pair(ctx.server, name);
    const echoed = collect(chA, 'client-typing');
    const got = waitForEvent(chB, 'client-typing');
    assert.equal(chA.trigger('client-typing', { typing: true }), true);
    const { data, metadata } = await got;
    assert.deepEqual(data, { typing: true });
    assert.equal(metadata.user_id, undefined);
    await sleep(500);
    assert.equal(echoed.length, 0, 'the sender does not get its own client event');
    assert.equal(a.connection.state, 'connected');
  });

  test('presence channel: relayed with the sender user_id', T, async () => {
    const name = uniq('presence-');
    const { chA, chB } = await pair(ctx.server, name, [
      { user_id: 'sender', user_info: {} },
      { user_id: 'receiver', user_info: {} },
    ]);
    const got = waitForEvent(chB, 'client-hello');
    chA.trigger('client-hello', { hi: 1 });
    const { data, metadata } = await got;
    assert.deepEqual(data, { hi: 1 });
    assert.equal(metadata.user_id, 'sender');
  });

  test('public channel: rejected with pusher:error, not delivered, connection stays', T, async () => {
    const name = uniq('public-');
    const { a, b } = await pair(ctx.server, name);
    const since = a.received.length;
    a.send_event('client-nope', { x: 1 }, name);
    const err = await waitForFrame(a, (m) => m.event === 'pusher:error', { since });
    assert.ok(err.data.message, JSON.stringify(err));
    await expectNoFrame(b, (m) => m.event === 'client-nope', 500);
    assert.equal(a.connection.state, 'connected');
  });

  test('encrypted channel: rejected with pusher:error', T, async () => {
    const name = uniq('private-encrypted-');
    const { a, b } = await pair(ctx.server, name);
    const since = a.received.length;
    // pusher-js refuses to trigger on encrypted channels; send the frame directly.
    a.send_event('client-enc', { x: 1 }, name);
    await waitForFrame(a, (m) => m.event === 'pusher:error', { since });
    await expectNoFrame(b, (m) => m.event === 'client-enc', 500);
  });

  test('sender not subscribed: rejected', T, async () => {
    const name = uniq('private-');
    const a = await connected(createClient(ctx.server));
    const b = await connected(createClient(ctx.server));
    await subscribe(b, name);
    const since = a.received.length;
    a.send_event('client-outsider', { x: 1 }, name);
    await waitForFrame(a, (m) => m.event === 'pusher:error', { since });
    await expectNoFrame(b, (m) => m.event === 'client-outsider', 500);
  });

  test('event name without client- prefix is not relayed', T, async () => {
    const name = uniq('private-');
    const { a, b } = await pair(ctx.server, name);
    a.send_event('server-ish', { x: 1 }, name);
    await expectNoFrame(b, (m) => m.event === 'server-ish', 700);
    assert.equal(a.connection.state, 'connected');
  });

  test('rate limit: more than 10/s gives pusher:error 4301, connection stays open', T, async () => {
    const name = uniq('private-');
    const { a, b, chA } = await pair(ctx.server, name);
    const socketId = a.connection.socket_id;
    const since = a.received.length;
    const got = collect(b.channel(name), 'client-burst');
    for (let i = 0; i < 25; i += 1) chA.trigger('client-burst', { i });
    const err = await waitForFrame(a, (m) => m.event === 'pusher:error' && m.data?.code === 4301, {
      since,
      what: 'pusher:error 4301',
    });
    assert.ok(err);
    await sleep(1500);
    assert.equal(a.connection.state, 'connected');
    assert.equal(a.connection.socket_id, socketId, 'the connection was not closed');
    // 10/s: a burst of 25 cannot all pass (allowing for a window boundary inside the burst).
    assert.ok(got.length >= 1 && got.length <= 20, `delivered ${got.length} of 25`);
    // After the window passes, client events flow again.
    const again = waitForEvent(b.channel(name), 'client-after');
    chA.trigger('client-after', {});
    await again;
  });

  test('client events are not cached on cache channels', T, async () => {
    const name = uniq('private-cache-');
    const { chA } = await pair(ctx.server, name);
    chA.trigger('client-not-cached', { x: 1 });
    await sleep(300);
    const late = await connected(createClient(ctx.server));
    const channel = late.subscribe(name);
    await waitForEvent(channel, 'pusher:cache_miss');
  });
});

describe('client events disabled (default)', () => {
  const ctx = useServer({ before, after });
  afterEach(disconnectAll);

  test('rejected with pusher:error, not delivered, connection stays', T, async () => {
    const name = uniq('private-');
    const { a, b, chA } = await pair(ctx.server, name);
    const since = a.received.length;
    chA.trigger('client-disabled', { x: 1 });
    const err = await waitForFrame(a, (m) => m.event === 'pusher:error', { since });
    assert.ok(err.data.message);
    await expectNoFrame(b, (m) => m.event === 'client-disabled', 500);
    assert.equal(a.connection.state, 'connected');
  });
});
