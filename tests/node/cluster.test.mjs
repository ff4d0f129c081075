// Three Relay nodes on one Redis: an unchanged pusher-js client on node A receives what the npm
// SDK triggered through node B's HTTP API and what curl-style ingestion posted to node C.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { connected, createClient, disconnectAll, sdkFor, subscribe, uniq, waitForEvent } from './lib/clients.mjs';
import { DEFAULT_APP, freePort, startServer } from './lib/server.mjs';
import { setTimeout as sleep } from 'node:timers/promises';

const T = { timeout: 60_000 };
const ADMIN = 'cluster-admin-token';
const INGEST = 'cluster-ingest-token';

describe('cluster', () => {
  let redis;
  let database;
  const nodes = [];
  const psql = (sql) =>
    execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  before(async () => {
    // Sites, webhooks and the inbox are shared through PostgreSQL; channel state through Redis.
    database = `relay_node_cluster_${process.pid}_${Date.now()}`;
    psql(`CREATE DATABASE ${database}`);
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    await sleep(300);
    for (const name of ['a', 'b', 'c']) {
      nodes.push(
        await startServer({
          env: {
            REDIS_URL: `redis://127.0.0.1:${port}`,
            DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${database}`,
            RELAY_NODE_ID: name,
            RELAY_ADMIN_TOKEN: ADMIN,
            RELAY_INGEST_TOKEN: INGEST,
          },
        }),
      );
    }
    for (const node of nodes) {
      for (let i = 0; i < 100; i += 1) {
        const res = await fetch(`${node.baseUrl}/ready`);
        if (res.status === 200) break;
        await sleep(50);
      }
    }
  });
  after(async () => {
    disconnectAll();
    for (const node of nodes) await node.stop();
    redis?.kill('SIGKILL');
    try {
      psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch {
      // best effort
    }
  });

  test('pusher-js on A gets events published through B and ingested on C', T, async () => {
    const [a, b, c] = nodes;
    const site = await fetch(`${a.baseUrl}/admin/sites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ domain: 'cluster.example' }),
    }).then((r) => r.json());
    const client = await connected(createClient(a));
    const channel = await subscribe(client, site.website_id);

    const fromB = waitForEvent(channel, 'from-b');
    await sdkFor(b, DEFAULT_APP).trigger(site.website_id, 'from-b', { hello: 'b' });
    assert.deepEqual((await fromB).data, { hello: 'b' });

    const fromC = waitForEvent(channel, 'filesystem_layer.filesystem_scan.started');
    const res = await fetch(`${c.baseUrl}/api/events/create`, {
      method: 'POST',
      headers: { 'x-wpfort-token': INGEST, 'content-type': 'application/json' },
      body: JSON.stringify({
        domain: 'cluster.example',
        event: 'filesystem_layer.filesystem_scan.started',
        data: { origin: 'wpsec', vertical: 'filesystem_layer', status: 'success', message: 'Deep scan started' },
      }),
    });
    assert.equal(res.status, 200);
    assert.equal((await fromC).data.message, 'Deep scan started');
  });

  test('the same presence user on two nodes is one member', T, async () => {
    const [a, b, c] = nodes;
    const name = uniq('presence-cl-');
    const one = await connected(createClient(a, { presence: { user_id: 'same', user_info: { n: 1 } } }));
    await subscribe(one, name);
    const two = await connected(createClient(b, { presence: { user_id: 'same', user_info: { n: 1 } } }));
    const channelTwo = await subscribe(two, name);
    assert.equal(channelTwo.members.count, 1);
    const info = await sdkFor(c, DEFAULT_APP).get({ path: `/channels/${name}`, params: { info: 'user_count,subscription_count' } });
    assert.deepEqual(await info.json(), { occupied: true, user_count: 1, subscription_count: 2 });
  });
});
