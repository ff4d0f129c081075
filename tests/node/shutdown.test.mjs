// Graceful shutdown: SIGTERM/SIGINT send pusher:error 4200 + close 4200 to every socket and the
// server exits 0; pusher-js reconnects at once to the next server on the same address, with a new
// socket_id, and re-subscribes its channels.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  connected,
  createClient,
  disconnectAll,
  sdkFor,
  subscribe,
  uniq,
  waitForEvent,
  waitForFrame,
  waitForState,
} from './lib/clients.mjs';
import { startServer } from './lib/server.mjs';

const T = { timeout: 60_000 };

async function exitWithin(server, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`server did not exit within ${ms} ms; output:\n${server.logs()}`)), ms);
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('graceful shutdown', () => {
  const servers = [];
  afterEach(async () => {
    disconnectAll();
    for (const s of servers.splice(0)) await s.stop(2000);
  });

  test('idle server exits 0 on SIGTERM', T, async () => {
    const server = await startServer();
    servers.push(server);
    server.child.kill('SIGTERM');
    const exit = await exitWithin(server, 10_000);
    assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}; output:\n${server.logs()}`);
  });

  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal}: clients get 4200, the server exits 0, pusher-js reconnects to the next server`, T, async () => {
      const first = await startServer();
      servers.push(first);
      const client = await connected(createClient(first));
      const name = uniq('survivor-');
      await subscribe(client, name);
      const oldSocketId = client.connection.socket_id;
      const errors = [];
      client.connection.bind('error', (e) => errors.push(e));

      first.child.kill(signal);
      const frame = await waitForFrame(client, (m) => m.event === 'pusher:error', {
        ms: 10_000,
        what: 'pusher:error 4200',
      });
      assert.equal(frame.data.code, 4200, JSON.stringify(frame));
      const exit = await exitWithin(first, 10_000);
      assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}; output:\n${first.logs()}`);
      // The close code was 4200 too (pusher-js reports a 4xxx close as a PusherError with that code).
      const closeCodes = errors.map((e) => e?.data?.code ?? e?.error?.data?.code).filter(Boolean);
      // One error for the pusher:error frame and one for the close frame.
      assert.ok(
        closeCodes.filter((c) => c === 4200).length >= 2,
        `expected the pusher:error frame and the close, both 4200; errors seen: ${JSON.stringify(errors)}`,
      );
      assert.notEqual(client.connection.state, 'disconnected', '4200 must not be a permanent disconnect');

      const second = await startServer({ port: first.port });
      servers.push(second);
      await waitForState(client, 'connected', 30_000);
      assert.notEqual(client.connection.socket_id, oldSocketId, 'a new socket_id after reconnecting');
      // pusher-js re-subscribed its channel on the new server.
      const channel = client.channel(name);
      if (!channel.subscribed) await waitForEvent(channel, 'pusher:subscription_succeeded');
      const got = waitForEvent(channel, 'after-restart');
      await sdkFor(second).trigger(name, 'after-restart', { ok: 1 });
      assert.deepEqual((await got).data, { ok: 1 });
    });
  }
});
