// Public, private, encrypted and cache channels with unchanged pusher-js; events published with the
// npm `pusher` SDK.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  collect,
  connected,
  createClient,
  disconnectAll,
  expectNoFrame,
  hmacHex,
  sleep,
  subscribe,
  subscribeExpectingError,
  uniq,
  waitForEvent,
  waitForFrame,
} from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

describe('channels', () => {
  const ctx = useServer({ before, after });
  afterEach(disconnectAll);
  const sdk = () => createClient(ctx.server).sdk;

  test('public channel: event published by the SDK reaches the subscriber', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('public-');
    const channel = await subscribe(client, name);
    const got = waitForEvent(channel, 'greeting');
    await sdk().trigger(name, 'greeting', { message: 'hello', n: 1 });
    const { data, metadata } = await got;
    assert.deepEqual(data, { message: 'hello', n: 1 });
    assert.equal(metadata.user_id, undefined, 'HTTP-published events carry no user_id');
  });

  test('public channel: data is passed through byte-for-byte (non-JSON string, unicode)', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('public-');
    const channel = await subscribe(client, name);
    const s = collect(channel, 'raw');
    await sdk().trigger(name, 'raw', 'just text, not JSON');
    await sdk().trigger(name, 'raw', '{"spaced": 1,  "ü": "✓"}');
    await waitForFrame(client, (m) => m.event === 'raw' && m.channel === name && s.length === 2);
    assert.equal(s[0].data, 'just text, not JSON');
    assert.deepEqual(s[1].data, { spaced: 1, ü: '✓' });
  });

  test('channel names with , ; = @ . are accepted', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = `odd,name;with=all@the.chars-${uniq()}`;
    const channel = await subscribe(client, name);
    const got = waitForEvent(channel, 'odd');
    await sdk().trigger(name, 'odd', { ok: true });
    assert.deepEqual((await got).data, { ok: true });
  });

  test('channel name over 164 chars: subscription error, connection stays', T, async () => {
    const client = await connected(createClient(ctx.server));
    const long = `public-${'x'.repeat(170)}`;
    const err = await subscribeExpectingError(client, long);
    assert.equal(err.event, 'pusher:error');
    assert.equal(client.connection.state, 'connected');
  });

  test('unsubscribe: no more events are delivered', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('public-');
    await subscribe(client, name);
    client.unsubscribe(name);
    await sleep(300);
    await sdk().trigger(name, 'late', { x: 1 });
    await expectNoFrame(client, (m) => m.channel === name, 700, 'after unsubscribe');
  });

  test('duplicate subscribe: pusher:error "Existing subscription to channel X"', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('public-');
    await subscribe(client, name);
    const since = client.received.length;
    // pusher-js never sends a duplicate itself: send the raw frame over its connection.
    client.send_event('pusher:subscribe', { auth: '', channel: name });
    const err = await waitForFrame(client, (m) => m.event === 'pusher:error', { since });
    assert.match(err.data.message, new RegExp(`Existing subscription to channel ${name}`));
    // Still subscribed exactly once: one event arrives once.
    const channel = client.channel(name);
    const s = collect(channel, 'once');
    await sdk().trigger(name, 'once', {});
    await waitForFrame(client, (m) => m.event === 'once');
    await sleep(300);
    assert.equal(s.length, 1);
    assert.equal(client.connection.state, 'connected');
  });

  test('unsubscribe of a channel never subscribed is silent', T, async () => {
    const client = await connected(createClient(ctx.server));
    client.send_event('pusher:unsubscribe', { channel: uniq('never-') });
    await expectNoFrame(client, () => true, 700, 'after unsubscribing an unknown channel');
    assert.equal(client.connection.state, 'connected');
  });

  test('private channel: authorized with the SDK signature, receives events', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('private-');
    const channel = await subscribe(client, name);
    const got = waitForEvent(channel, 'secret-event');
    await sdk().trigger(name, 'secret-event', { s: 42 });
    assert.deepEqual((await got).data, { s: 42 });
  });

  test('private channel, bad signature: pusher:error with the channel, connection stays open', T, async () => {
    const ok = uniq('public-');
    const bad = uniq('private-');
    const client = createClient(ctx.server, {
      authorize: ({ socketId, channelName }) => ({
        auth: `${ctx.server.app.key}:${hmacHex('wrong-secret', `${socketId}:${channelName}`)}`,
      }),
    });
    await connected(client);
    const publicChannel = await subscribe(client, ok);
    const socketId = client.connection.socket_id;
    const err = await subscribeExpectingError(client, bad);
    assert.equal(err.channel, bad, `error names the channel: ${JSON.stringify(err)}`);
    assert.equal(err.data.code ?? null, null, `auth failure code is null: ${JSON.stringify(err)}`);
    await sleep(500);
    assert.equal(client.connection.state, 'connected');
    assert.equal(client.connection.socket_id, socketId, 'not reconnected');
    // The other subscription still works, the failed one receives nothing.
    const got = waitForEvent(publicChannel, 'still');
    await sdk().trigger([ok, bad], 'still', {});
    await got;
    await expectNoFrame(client, (m) => m.channel === bad && m.event === 'still', 500);
  });

  test('private channel, auth signed with another app key: rejected', T, async () => {
    const client = createClient(ctx.server, {
      authorize: ({ socketId, channelName }) => ({
        auth: `other-key:${hmacHex(ctx.server.app.secret, `${socketId}:${channelName}`)}`,
      }),
    });
    await connected(client);
    await subscribeExpectingError(client, uniq('private-'));
    assert.equal(client.connection.state, 'connected');
  });

  test('private channel, empty auth: rejected', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('private-');
    const since = client.received.length;
    client.send_event('pusher:subscribe', { auth: '', channel: name });
    const err = await waitForFrame(client, (m) => m.event === 'pusher:error', { since });
    assert.ok(err);
    assert.ok(
      !client.received.slice(since).some((m) => m.event === 'pusher_internal:subscription_succeeded'),
    );
  });

  test('encrypted channel: SDK-encrypted event is decrypted by pusher-js', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('private-encrypted-');
    const channel = await subscribe(client, name);
    const got = waitForEvent(channel, 'sealed');
    await sdk().trigger(name, 'sealed', { plain: 'text', n: 7 });
    assert.deepEqual((await got).data, { plain: 'text', n: 7 });
    // On the wire the relay only saw ciphertext.
    const frame = client.received.find((m) => m.event === 'sealed');
    assert.ok(frame.data.ciphertext && frame.data.nonce, `wire frame: ${JSON.stringify(frame)}`);
  });

  test('encrypted channel: classified as private (bad signature rejected)', T, async () => {
    const client = createClient(ctx.server, {
      authorize: ({ socketId, channelName }) => ({
        auth: `${ctx.server.app.key}:${hmacHex('nope', `${socketId}:${channelName}`)}`,
        shared_secret: Buffer.alloc(32, 1).toString('base64'),
      }),
    });
    await connected(client);
    await subscribeExpectingError(client, uniq('private-encrypted-'));
  });

  test('cache channel miss: pusher:cache_miss after subscription_succeeded', T, async () => {
    const client = await connected(createClient(ctx.server));
    const name = uniq('cache-');
    const order = [];
    const channel = client.subscribe(name);
    channel.bind_global((event) => order.push(event));
    await waitForEvent(channel, 'pusher:cache_miss');
    assert.deepEqual(order.slice(0, 2), ['pusher:subscription_succeeded', 'pusher:cache_miss']);
  });

  test('cache channel hit: a late subscriber gets the last event right after subscribing', T, async () => {
    const name = uniq('cache-');
    await sdk().trigger(name, 'state', { v: 1 });
    await sdk().trigger(name, 'state', { v: 2 });
    const client = await connected(createClient(ctx.server));
    const order = [];
    const channel = client.subscribe(name);
    channel.bind_global((event, data) => order.push([event, data]));
    const { data } = await waitForEvent(channel, 'state');
    assert.deepEqual(data, { v: 2 }, 'the last event is cached');
    assert.equal(order[0][0], 'pusher:subscription_succeeded');
    assert.ok(!order.some(([e]) => e === 'pusher:cache_miss'), `no cache_miss: ${JSON.stringify(order)}`);
    await sleep(300);
    assert.equal(order.filter(([e]) => e === 'state').length, 1, 'only the last event is replayed');
  });

  test('private-cache channel hit with authorization', T, async () => {
    const name = uniq('private-cache-');
    await sdk().trigger(name, 'state', { p: true });
    const client = await connected(createClient(ctx.server));
    const channel = client.subscribe(name);
    const { data } = await waitForEvent(channel, 'state');
    assert.deepEqual(data, { p: true });
  });

  test('private-encrypted-cache channel: cached ciphertext decrypted by pusher-js', T, async () => {
    const name = uniq('private-encrypted-cache-');
    await sdk().trigger(name, 'state', { hidden: 'yes' });
    const client = await connected(createClient(ctx.server));
    const channel = client.subscribe(name);
    const { data } = await waitForEvent(channel, 'state');
    assert.deepEqual(data, { hidden: 'yes' });
  });
});
