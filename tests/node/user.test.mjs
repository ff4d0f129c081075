// User features with unchanged pusher-js and the npm SDK: sign-in, send-to-user, watchlist,
// terminate connections, the authorized-connections timeout.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  connected,
  createClient,
  disconnectAll,
  expectNoFrame,
  hmacHex,
  sleep,
  subscribe,
  uniq,
  waitForEvent,
  waitForFrame,
  waitForState,
} from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

/** A connected, signed-in pusher-js client for `user`. */
async function signedIn(server, user, extra = {}) {
  const client = await connected(createClient(server, { user, ...extra }));
  client.signin();
  await waitForFrame(client, (m) => m.event === 'pusher:signin_success', { what: 'pusher:signin_success' });
  return client;
}

describe('users', () => {
  const ctx = useServer({ before, after });
  afterEach(disconnectAll);

  test('signin: pusher:signin_success carries the exact user_data', T, async () => {
    const id = uniq('u');
    const user = { id, user_info: { name: 'Alice' } };
    const client = await signedIn(ctx.server, user);
    const frame = client.received.find((m) => m.event === 'pusher:signin_success');
    assert.equal(frame.data.user_data, JSON.stringify(user));
    assert.deepEqual(client.user.user_data, user);
    // pusher-js then subscribes to #server-to-user-{id}; that must succeed.
    await waitForFrame(
      client,
      (m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === `#server-to-user-${id}`,
      { what: 'subscription to #server-to-user-' },
    );
  });

  test('signin with a bad signature: pusher:error 4009, connection stays open', T, async () => {
    const user = { id: uniq('u') };
    const client = await connected(
      createClient(ctx.server, {
        authenticate: ({ socketId }) => {
          const userData = JSON.stringify(user);
          return {
            auth: `${ctx.server.app.key}:${hmacHex('wrong', `${socketId}::user::${userData}`)}`,
            user_data: userData,
          };
        },
      }),
    );
    const socketId = client.connection.socket_id;
    client.signin();
    const err = await waitForFrame(client, (m) => m.event === 'pusher:error', { what: 'pusher:error' });
    assert.equal(err.data.code, 4009, JSON.stringify(err));
    await sleep(1000);
    assert.equal(client.connection.state, 'connected');
    assert.equal(client.connection.socket_id, socketId);
    assert.ok(!client.received.some((m) => m.event === 'pusher:signin_success'));
  });

  test('#server-to-user- channel refused to a connection not signed in as that user', T, async () => {
    const me = uniq('me');
    const other = uniq('other');
    const client = await signedIn(ctx.server, { id: me });
    const since = client.received.length;
    client.send_event('pusher:subscribe', { auth: '', channel: `#server-to-user-${other}` });
    await waitForFrame(client, (m) => m.event === 'pusher:error', { since });
    assert.ok(
      !client.received
        .slice(since)
        .some((m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === `#server-to-user-${other}`),
    );
    // Not signed in at all: refused as well.
    const anon = await connected(createClient(ctx.server));
    const since2 = anon.received.length;
    anon.send_event('pusher:subscribe', { auth: '', channel: `#server-to-user-${me}` });
    await waitForFrame(anon, (m) => m.event === 'pusher:error', { since: since2 });
    assert.equal(anon.connection.state, 'connected');
  });

  test('sendToUser reaches every connection of that user via pusher.user.bind', T, async () => {
    const id = uniq('u');
    const c1 = await signedIn(ctx.server, { id });
    const c2 = await signedIn(ctx.server, { id });
    const bystander = await signedIn(ctx.server, { id: uniq('other') });
    for (const c of [c1, c2]) {
      await waitForFrame(c, (m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel?.startsWith('#'));
    }
    const g1 = waitForEvent(c1.user, 'notice');
    const g2 = waitForEvent(c2.user, 'notice');
    await c1.sdk.sendToUser(id, 'notice', { text: 'for you' });
    assert.deepEqual((await g1).data, { text: 'for you' });
    assert.deepEqual((await g2).data, { text: 'for you' });
    await expectNoFrame(bystander, (m) => m.event === 'notice', 500);
  });

  test('watchlist: online and offline events', T, async () => {
    const watcher = uniq('watcher');
    const friend = uniq('friend');
    const early = uniq('early');
    // `early` is online before the watcher signs in: reported in the initial status.
    const earlyClient = await signedIn(ctx.server, { id: early });
    const w = await connected(createClient(ctx.server, { user: { id: watcher, watchlist: [friend, early] } }));
    const initial = waitForEvent(w.user.watchlist, 'online', {
      filter: (e) => e.user_ids.includes(early),
      what: `online [${early}]`,
    });
    w.signin();
    await initial;

    const online = waitForEvent(w.user.watchlist, 'online', {
      filter: (e) => e.user_ids.includes(friend),
      what: `online [${friend}]`,
    });
    const f = await signedIn(ctx.server, { id: friend });
    await online;

    const offline = waitForEvent(w.user.watchlist, 'offline', {
      ms: 8000,
      filter: (e) => e.user_ids.includes(friend),
      what: `offline [${friend}]`,
    });
    f.disconnect();
    await offline;
    const frame = w.received.find((m) => m.event === 'pusher_internal:watchlist_events');
    assert.ok(Array.isArray(frame.data.events), JSON.stringify(frame));
    earlyClient.disconnect();
  });

  test('watchlist: a user online on two sockets goes offline only after the last', T, async () => {
    const watcher = uniq('watcher');
    const friend = uniq('friend');
    const w = await connected(createClient(ctx.server, { user: { id: watcher, watchlist: [friend] } }));
    w.signin();
    await waitForFrame(w, (m) => m.event === 'pusher:signin_success');
    const online = waitForEvent(w.user.watchlist, 'online', { filter: (e) => e.user_ids.includes(friend) });
    const f1 = await signedIn(ctx.server, { id: friend });
    await online;
    const f2 = await signedIn(ctx.server, { id: friend });
    let offlineSeen = false;
    w.user.watchlist.bind('offline', (e) => {
      if (e.user_ids.includes(friend)) offlineSeen = true;
    });
    f1.disconnect();
    await sleep(1000);
    assert.equal(offlineSeen, false, 'still online through the second socket');
    const offline = waitForEvent(w.user.watchlist, 'offline', { filter: (e) => e.user_ids.includes(friend) });
    f2.disconnect();
    await offline;
  });

  test('watchlist over 100 ids: signin succeeds, then pusher:error 4302', T, async () => {
    const watchlist = Array.from({ length: 101 }, (_, i) => `w${i}-${uniq()}`);
    const client = await connected(createClient(ctx.server, { user: { id: uniq('many'), watchlist } }));
    client.signin();
    const ok = await waitForFrame(client, (m) => m.event === 'pusher:signin_success');
    const err = await waitForFrame(client, (m) => m.event === 'pusher:error' && m.data?.code === 4302, {
      what: 'pusher:error 4302',
    });
    assert.ok(client.received.indexOf(ok) < client.received.indexOf(err), 'signin_success comes first');
    assert.equal(client.connection.state, 'connected');
  });

  test('a second signin as a different user is refused; the first identity stays', T, async () => {
    const first = uniq('first');
    const client = await signedIn(ctx.server, { id: first });
    const since = client.received.length;
    const auth = client.sdk.authenticateUser(client.connection.socket_id, { id: uniq('second') });
    client.send_event('pusher:signin', auth);
    await waitForFrame(client, (m) => m.event === 'pusher:error', { since });
    assert.ok(!client.received.slice(since).some((m) => m.event === 'pusher:signin_success'));
    // Still reachable as the first user.
    await waitForFrame(client, (m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === `#server-to-user-${first}`);
    const got = waitForEvent(client.user, 'still-me');
    await client.sdk.sendToUser(first, 'still-me', {});
    await got;
  });

  test('terminateUserConnections closes every signed-in connection of the user with 4009', T, async () => {
    const id = uniq('victim');
    const c1 = await signedIn(ctx.server, { id });
    const c2 = await signedIn(ctx.server, { id });
    const other = await signedIn(ctx.server, { id: uniq('safe') });
    // A presence-only connection with the same user id is not signed in: not affected.
    const presenceOnly = await connected(createClient(ctx.server, { presence: { user_id: id, user_info: {} } }));
    await subscribe(presenceOnly, uniq('presence-'));

    const res = await c1.sdk.terminateUserConnections(id);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    for (const c of [c1, c2]) {
      const err = await waitForFrame(c, (m) => m.event === 'pusher:error', { what: 'pusher:error 4009' });
      assert.equal(err.data.code, 4009);
      await waitForState(c, 'disconnected', 5000);
    }
    await sleep(1500);
    // 4009 is a "refused" code: pusher-js does not reconnect on its own.
    assert.equal(c1.connection.state, 'disconnected');
    assert.equal(other.connection.state, 'connected');
    assert.equal(presenceOnly.connection.state, 'connected');
    // "If nothing else is done, the user will be able to reconnect."
    c1.connect();
    await waitForState(c1, 'connected');
  });
});

describe('user authentication disabled (RELAY_APP_ENABLE_USER_AUTHENTICATION=false)', () => {
  const ctx = useServer({ before, after }, { env: { RELAY_APP_ENABLE_USER_AUTHENTICATION: 'false' } });
  afterEach(disconnectAll);

  test('signin is refused with pusher:error, the connection stays', T, async () => {
    const client = await connected(createClient(ctx.server, { user: { id: uniq('u') } }));
    client.signin();
    await waitForFrame(client, (m) => m.event === 'pusher:error');
    await sleep(500);
    assert.ok(!client.received.some((m) => m.event === 'pusher:signin_success'));
    assert.equal(client.connection.state, 'connected');
  });
});

describe('authorized connections (user_authentication_timeout = 2)', () => {
  const app = { id: '7001', key: 'authz-key', secret: 'authz-secret', user_authentication_timeout: 2 };
  const ctx = useServer({ before, after }, { config: { apps: [app] } });
  afterEach(disconnectAll);

  test('a connection that neither signs in nor subscribes privately is closed with 4009', T, async () => {
    const lazy = await connected(createClient(ctx.server));
    await subscribe(lazy, uniq('public-'));
    const err = await waitForFrame(lazy, (m) => m.event === 'pusher:error', { ms: 6000 });
    assert.equal(err.data.code, 4009);
    await waitForState(lazy, 'disconnected', 5000);
  });

  test('signed-in and private-subscribed connections survive the timeout', T, async () => {
    const user = await signedIn(ctx.server, { id: uniq('u') });
    const priv = await connected(createClient(ctx.server));
    await subscribe(priv, uniq('private-'));
    const ids = [user.connection.socket_id, priv.connection.socket_id];
    await sleep(4000);
    assert.equal(user.connection.state, 'connected');
    assert.equal(priv.connection.state, 'connected');
    assert.deepEqual([user.connection.socket_id, priv.connection.socket_id], ids);
  });
});
