// Presence channels with unchanged pusher-js: rosters, members.me, joins/leaves, the same user on
// several sockets, member_removed on disconnect, signature over the exact channel_data bytes.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  collect,
  connected,
  createClient,
  disconnectAll,
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

function member(id, name = `user ${id}`) {
  return { user_id: id, user_info: { name } };
}

function roster(channel) {
  const ids = [];
  channel.members.each((m) => ids.push(m.id));
  return ids.sort();
}

describe('presence channels', () => {
  const ctx = useServer({ before, after });
  afterEach(disconnectAll);

  const join = async (name, who, extra = {}) => {
    const client = await connected(createClient(ctx.server, { presence: who, ...extra }));
    const channel = await subscribe(client, name);
    return { client, channel };
  };

  test('roster includes the joiner; members.me is set', T, async () => {
    const name = uniq('presence-');
    const a = await join(name, member('alice', 'Alice'));
    assert.equal(a.channel.members.count, 1);
    assert.deepEqual(a.channel.members.me, { id: 'alice', info: { name: 'Alice' } });
    const b = await join(name, member('bob', 'Bob'));
    assert.equal(b.channel.members.count, 2);
    assert.deepEqual(roster(b.channel), ['alice', 'bob']);
    assert.deepEqual(b.channel.members.get('alice').info, { name: 'Alice' });
    assert.equal(b.channel.members.me.id, 'bob');
  });

  test('member_added to others (never to the joiner), member_removed on unsubscribe', T, async () => {
    const name = uniq('presence-');
    const a = await join(name, member('a1'));
    const added = waitForEvent(a.channel, 'pusher:member_added');
    const b = await join(name, member('b1', 'Bee'));
    const { data } = await added;
    assert.deepEqual(data, { id: 'b1', info: { name: 'Bee' } });
    assert.equal(a.channel.members.count, 2);
    // The joiner never sees its own member_added.
    assert.ok(
      !b.client.received.some((m) => m.event === 'pusher_internal:member_added' && m.channel === name),
    );
    const removed = waitForEvent(a.channel, 'pusher:member_removed');
    b.client.unsubscribe(name);
    assert.deepEqual((await removed).data, { id: 'b1', info: { name: 'Bee' } });
    assert.equal(a.channel.members.count, 1);
  });

  test('member_removed when a member disconnects (not only on unsubscribe)', T, async () => {
    const name = uniq('presence-');
    const a = await join(name, member('stay'));
    const b = await join(name, member('leave'));
    const removed = waitForEvent(a.channel, 'pusher:member_removed', { ms: 8000 });
    b.client.disconnect();
    assert.equal((await removed).data.id, 'leave');
  });

  test('same user on two sockets: counted once, member_added once, member_removed after the last', T, async () => {
    const name = uniq('presence-');
    const observer = await join(name, member('observer'));
    const added = collect(observer.channel, 'pusher:member_added');
    const removed = collect(observer.channel, 'pusher:member_removed');

    const s1 = await join(name, member('multi', 'Multi'));
    const s2 = await join(name, member('multi', 'Multi'));
    await sleep(500);
    assert.equal(added.length, 1, `member_added once, got ${JSON.stringify(added)}`);
    assert.equal(observer.channel.members.count, 2);
    assert.equal(s2.channel.members.count, 2, 'the second socket sees 2 distinct users');
    assert.deepEqual(roster(s2.channel), ['multi', 'observer']);
    assert.equal(s2.channel.members.me.id, 'multi');

    // HTTP API agrees: 2 distinct users.
    const res = await observer.client.sdk.get({ path: `/channels/${name}/users` });
    const body = await res.json();
    assert.deepEqual(body.users.map((u) => u.id).sort(), ['multi', 'observer']);

    s1.client.disconnect();
    await sleep(800);
    assert.equal(removed.length, 0, 'no member_removed while another socket of the user remains');
    assert.equal(observer.channel.members.count, 2);

    s2.client.unsubscribe(name);
    await waitForFrame(observer.client, (m) => m.event === 'pusher_internal:member_removed' && m.channel === name);
    await sleep(200);
    assert.equal(removed.length, 1);
    assert.equal(removed[0].data.id, 'multi');
    assert.equal(observer.channel.members.count, 1);
  });

  test('numeric user_id is reported as a string', T, async () => {
    const name = uniq('presence-');
    const a = await join(name, { user_id: 10, user_info: { name: 'Ten' } });
    assert.equal(String(a.channel.members.me?.id), '10', 'members.me is set for a numeric id');
    const frame = a.client.received.find(
      (m) => m.event === 'pusher_internal:subscription_succeeded' && m.channel === name,
    );
    assert.deepEqual(frame.data.presence.ids, ['10'], `roster ids are strings: ${JSON.stringify(frame)}`);
    const b = await join(name, member('eleven'));
    assert.deepEqual(roster(b.channel), ['10', 'eleven']);
    const body = await (await a.client.sdk.get({ path: `/channels/${name}/users` })).json();
    assert.ok(body.users.some((u) => u.id === '10'), JSON.stringify(body));
  });

  test('channel_data is verified as received (Python-style JSON with spaces)', T, async () => {
    const name = uniq('presence-');
    const channelData = '{"user_id": "py", "user_info": {"name": "Mr. Channels"}}';
    const client = createClient(ctx.server, {
      authorize: ({ socketId, channelName }) => ({
        auth: `${ctx.server.app.key}:${hmacHex(ctx.server.app.secret, `${socketId}:${channelName}:${channelData}`)}`,
        channel_data: channelData,
      }),
    });
    await connected(client);
    const channel = await subscribe(client, name);
    assert.deepEqual(channel.members.me, { id: 'py', info: { name: 'Mr. Channels' } });
  });

  test('bad presence signature: subscription error, connection stays', T, async () => {
    const name = uniq('presence-');
    const channelData = JSON.stringify(member('mallory'));
    const client = createClient(ctx.server, {
      authorize: ({ socketId, channelName }) => ({
        auth: `${ctx.server.app.key}:${hmacHex(ctx.server.app.secret, `${socketId}:${channelName}`)}`,
        channel_data: channelData,
      }),
    });
    await connected(client);
    await subscribeExpectingError(client, name);
    assert.equal(client.connection.state, 'connected');
  });

  test('presence-cache channel: roster and cache miss', T, async () => {
    const name = uniq('presence-cache-');
    const client = await connected(createClient(ctx.server, { presence: member('cached') }));
    const channel = client.subscribe(name);
    await waitForEvent(channel, 'pusher:cache_miss');
    assert.equal(channel.members.me?.id, 'cached');
  });
});

describe('presence limits (TOML)', () => {
  const app = {
    id: '6001',
    key: 'limits-key',
    secret: 'limits-secret',
    max_presence_members: 2,
    max_presence_user_info_bytes: 64,
  };
  const ctx = useServer({ before, after }, { config: { apps: [app] } });
  afterEach(disconnectAll);

  test('max_presence_members: the third distinct user is rejected, a known user still joins', T, async () => {
    const name = uniq('presence-');
    const c1 = await connected(createClient(ctx.server, { presence: member('m1') }));
    await subscribe(c1, name);
    const c2 = await connected(createClient(ctx.server, { presence: member('m2') }));
    await subscribe(c2, name);
    const c3 = await connected(createClient(ctx.server, { presence: member('m3') }));
    await subscribeExpectingError(c3, name);
    assert.equal(c3.connection.state, 'connected');
    // Same user as an existing member does not count as a new member.
    const c1b = await connected(createClient(ctx.server, { presence: member('m1') }));
    await subscribe(c1b, name);
  });

  test('user_info over max_presence_user_info_bytes is rejected', T, async () => {
    const client = await connected(
      createClient(ctx.server, { presence: { user_id: 'big', user_info: { blob: 'x'.repeat(200) } } }),
    );
    await subscribeExpectingError(client, uniq('presence-'));
  });
});
