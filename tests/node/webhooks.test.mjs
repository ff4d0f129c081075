// Pusher-format app webhooks checked by the npm `pusher` SDK's own validator
// (`pusher.webhook({headers, rawBody}).isValid()`): exact Content-Type, X-Pusher-Key and
// X-Pusher-Signature over the exact body.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, afterEach, before, describe, test } from 'node:test';
import { connected, createClient, disconnectAll, sdkFor, subscribe, uniq, waitForEvent } from './lib/clients.mjs';
import { DEFAULT_APP, startServer } from './lib/server.mjs';

const T = { timeout: 30_000 };

/** A local receiver that keeps every request's headers and raw body. */
async function receiver() {
  const requests = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/pusher-webhooks`,
    requests,
    async events(predicate, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const all = requests.flatMap((r) => JSON.parse(r.rawBody).events);
        if (predicate(all)) return all;
        if (Date.now() > deadline) throw new Error(`webhook events so far: ${JSON.stringify(all)}`);
        await new Promise((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

describe('pusher webhooks', () => {
  let hook;
  let server;
  before(async () => {
    hook = await receiver();
    server = await startServer({
      config: {
        apps: [{ ...DEFAULT_APP, enable_client_messages: true }],
        extraToml: [
          `[[apps.webhooks]]`,
          `url = "${hook.url}"`,
          `event_types = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss"]`,
          `[webhooks]`,
          `allow_http = true`,
          `allow_private_networks = true`,
          `pusher_flap_delay_ms = 300`,
        ].join('\n'),
      },
    });
  });
  after(async () => {
    await server?.stop();
    await hook?.close();
  });
  afterEach(disconnectAll);

  test('every request passes the SDK validator', T, async () => {
    const name = uniq('presence-wh-');
    const client = await connected(createClient(server, { presence: { user_id: 'alice', user_info: { n: 1 } } }));
    const channel = await subscribe(client, name);
    channel.trigger('client-ping', { hello: true });
    const other = await connected(createClient(server, { presence: { user_id: 'bob' } }));
    const otherChannel = await subscribe(other, name);
    const got = waitForEvent(otherChannel, 'client-ping', { ms: 3000 }).catch(() => null);
    channel.trigger('client-ping', { hello: 2 });
    await got;
    client.disconnect();
    other.disconnect();
    const events = await hook.events((all) => all.some((e) => e.name === 'channel_vacated' && e.channel === name));

    const sdk = sdkFor(server);
    for (const request of hook.requests) {
      assert.equal(request.headers['content-type'], 'application/json');
      const webhook = sdk.webhook({ headers: request.headers, rawBody: request.rawBody });
      assert.equal(webhook.isValid(), true, `valid: ${request.rawBody}`);
      assert.ok(Math.abs(webhook.getTime().getTime() - Date.now()) < 60_000);
    }
    const mine = events.filter((e) => e.channel === name);
    const kinds = mine.map((e) => e.name);
    assert.equal(kinds.filter((k) => k === 'channel_occupied').length, 1);
    assert.equal(kinds.filter((k) => k === 'channel_vacated').length, 1);
    assert.deepEqual(mine.filter((e) => e.name === 'member_added').map((e) => e.user_id).sort(), ['alice', 'bob']);
    assert.deepEqual(mine.filter((e) => e.name === 'member_removed').map((e) => e.user_id).sort(), ['alice', 'bob']);
    const clientEvents = mine.filter((e) => e.name === 'client_event');
    assert.ok(clientEvents.every((e) => e.event === 'client-ping' && e.user_id === 'alice'));
    assert.deepEqual(clientEvents.map((e) => JSON.parse(e.data)), [{ hello: true }, { hello: 2 }]);
  });

  test('a wrong secret makes the SDK validator refuse the request', T, async () => {
    const client = await connected(createClient(server));
    await subscribe(client, uniq('cache-wh-'));
    await hook.events((all) => all.some((e) => e.name === 'cache_miss'));
    const request = hook.requests.at(-1);
    const wrong = sdkFor(server, { ...server.app, secret: 'not-the-secret' });
    assert.equal(wrong.webhook({ headers: request.headers, rawBody: request.rawBody }).isValid(), false);
  });
});
