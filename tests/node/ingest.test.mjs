// Event ingestion seen by an unchanged pusher-js dashboard: what curl posts to
// /api/events/create (the seed's own example) and to each backup webhook reaches the website
// channel.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { connected, createClient, disconnectAll, subscribe, waitForEvent } from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const run = promisify(execFile);
const T = { timeout: 30_000 };
const INGEST_TOKEN = '123123123';
const ADMIN_TOKEN = 'e2e-admin-token';
const WEBSITE_ID = 'dc50c5ec-d5fe-4040-86f7-9615d45df55e';

// Seed 000's curl example body, verbatim.
const SEED_BODY = `{"domain": "sub2.test-wpworld.uk", "event": "wpcore_layer.core_reinstall.started", "data": {"event": "wpcore_layer.core_reinstall.started",
            "data": {
            "origin": "wpsec/backend/worker/frontend",
            "vertical": "wpcore_layer",
            "status": "success",
            "message": "WordPress core reinstall started",
            "operation_id": "wpsec_core_reinstall_685cac1d3fe1f9.94536193",
            "version": "current",
            "started_at": "2025-06-26 02:10:37",
            "check_status_endpoint": "https://dev.wptech.group/wp-json/wpsec/v1/core-reinstall?operation_id=wpsec_core_reinstall_685cac1d3fe1f9.94536193"
        }
  }}`;

/** `curl -X POST <url> -H 'Content-Type: application/json' -H 'x-wpfort-token: …' -d <body>` */
async function curl(server, path, body) {
  const { stdout } = await run('curl', [
    '-sS', '-X', 'POST', `${server.baseUrl}${path}`,
    '-H', 'Content-Type: application/json',
    '-H', `x-wpfort-token: ${INGEST_TOKEN}`,
    '-d', body,
    '-w', '\n%{http_code}',
  ]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) };
}

describe('ingestion', () => {
  const ctx = useServer({ before, after }, {
    env: { RELAY_INGEST_TOKEN: INGEST_TOKEN, RELAY_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  afterEach(disconnectAll);

  before(async () => {
    const res = await fetch(`${ctx.server.baseUrl}/admin/sites`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ domain: 'sub2.test-wpworld.uk', website_id: WEBSITE_ID }),
    });
    assert.equal(res.status, 201);
  });

  test("the seed's curl example reaches pusher-js on the website channel", T, async () => {
    const client = await connected(createClient(ctx.server));
    const channel = await subscribe(client, WEBSITE_ID);
    const got = waitForEvent(channel, 'wpcore_layer.core_reinstall.started');
    const reply = await curl(ctx.server, '/api/events/create', SEED_BODY);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, {
      success: true,
      message: 'Event created successfully',
      websiteId: WEBSITE_ID,
      channel: WEBSITE_ID,
      event: 'wpcore_layer.core_reinstall.started',
    });
    const { data } = await got;
    assert.deepEqual(data, JSON.parse(SEED_BODY).data);
  });

  test('backup progress, complete and failed webhooks reach pusher-js', T, async () => {
    const client = await connected(createClient(ctx.server));
    const channel = await subscribe(client, WEBSITE_ID);

    let got = waitForEvent(channel, 'backup.backup.progress');
    let reply = await curl(ctx.server, '/webhooks/backup-progress',
      '{"domain":"sub2.test-wpworld.uk","backup_id":"backup_123456789","status":"in_progress","progress":45.7}');
    assert.deepEqual([reply.status, reply.body], [200, { success: true }]);
    let { data } = await got;
    assert.equal(data.vertical, 'backup');
    assert.equal(data.metadata.progress, 46);

    got = waitForEvent(channel, 'backup.backup.completed');
    reply = await curl(ctx.server, '/webhooks/backup-complete',
      '{"domain":"sub2.test-wpworld.uk","backup_id":"backup_123456789"}');
    assert.equal(reply.status, 200);
    ({ data } = await got);
    assert.equal(data.status, 'success');
    assert.equal(data.metadata.progress, 100);

    got = waitForEvent(channel, 'backup.backup.failed');
    reply = await curl(ctx.server, '/webhooks/backup-failed',
      '{"domain":"sub2.test-wpworld.uk","backup_id":"backup_2","error_message":"Insufficient disk space"}');
    assert.equal(reply.status, 200);
    ({ data } = await got);
    assert.equal(data.status, 'failed');
    assert.equal(data.metadata.error_message, 'Insufficient disk space');
  });

  test('errors as curl sees them: 401, 400, 404', T, async () => {
    const bad = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST',
      `${ctx.server.baseUrl}/api/events/create`, '-H', 'x-wpfort-token: wrong', '-d', SEED_BODY]);
    assert.equal(bad.stdout, '401');
    const invalid = await curl(ctx.server, '/api/events/create', '{"domain":"sub2.test-wpworld.uk"}');
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error, /event/);
    const unknown = await curl(ctx.server, '/webhooks/backup-complete', '{"domain":"nowhere.example","backup_id":"b"}');
    assert.equal(unknown.status, 404);
  });
});
