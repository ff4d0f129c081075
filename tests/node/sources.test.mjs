// Plugin webhook sources (issue 8) seen by an unchanged pusher-js dashboard: a Fluent Community
// webhook signed exactly as seed 002's JavaScript example signs, and a Fast Events webhook signed
// as seed 004's NodeJS example, posted to /hooks/{id}, reach the site's channel.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { connected, createClient, disconnectAll, subscribe, waitForEvent } from './lib/clients.mjs';
import { useServer } from './lib/server.mjs';

const T = { timeout: 30_000 };
const ADMIN_TOKEN = 'e2e-admin-token';
const DOMAIN = 'community.example';
const WEBSITE_ID = '5b0c6f4e-8f7a-4b8e-9d3c-2a1e0f9b7c61';

async function adminPost(server, path, body) {
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Seed 002, "Webhook Payload Structure".
const FLUENT_PAYLOAD = {
  event: 'feed.created',
  timestamp: '2024-01-15T10:30:00Z',
  data: {
    id: 123,
    user_id: 45,
    title: 'Welcome to our community!',
    message: "We're excited to have you here...",
    space_id: 12,
    created_at: '2024-01-15 10:30:00',
  },
  xprofile: {
    user_id: 45,
    total_points: 6425,
    is_verified: 1,
    status: 'active',
    display_name: 'User Name',
    username: 'username',
    avatar: 'avatar_url',
    created_at: '2024-03-05 16:37:02',
    short_description: 'User description',
    meta: {
      website: 'website_url',
      cover_photo: 'cover_photo_url',
      social_links: { twitter: '@handle', youtube: '@handle', linkedin: 'handle', fb: 'handle', instagram: 'handle' },
      badge_slug: ['badge1', 'badge2'],
    },
    badge: null,
  },
};

describe('webhook sources', () => {
  const ctx = useServer({ before, after }, { env: { RELAY_ADMIN_TOKEN: ADMIN_TOKEN } });
  afterEach(disconnectAll);

  before(async () => {
    const site = await adminPost(ctx.server, '/admin/sites', { domain: DOMAIN, website_id: WEBSITE_ID });
    assert.equal(site.status, 201);
  });

  test("a Fluent Community webhook signed like the seed's JS example reaches pusher-js", T, async () => {
    const secret = 'whsec_abc123';
    const created = await adminPost(ctx.server, '/admin/sources', {
      kind: 'fluent_community',
      domain: DOMAIN,
      secret,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.receive_url, `/hooks/${created.body.id}`);

    const client = await connected(createClient(ctx.server));
    const channel = await subscribe(client, WEBSITE_ID);
    const got = waitForEvent(channel, 'fluent_community.feed.created');

    // The seed's verifyWebhookSignature, on the sending side.
    const payload = JSON.stringify(FLUENT_PAYLOAD);
    const hmac = crypto.createHmac('sha256', secret);
    const digest = 'sha256=' + hmac.update(payload).digest('hex');
    const res = await fetch(`${ctx.server.baseUrl}${created.body.receive_url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fluent-signature': digest },
      body: payload,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: true });
    const { data } = await got;
    assert.deepEqual(data, FLUENT_PAYLOAD);

    // A wrong secret: 401, as the seed's receiver answers.
    const forged = 'sha256=' + crypto.createHmac('sha256', 'guess').update(payload).digest('hex');
    const bad = await fetch(`${ctx.server.baseUrl}${created.body.receive_url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-fluent-signature': forged },
      body: payload,
    });
    assert.equal(bad.status, 401);
  });

  test("a Fast Events webhook signed like the seed's NodeJS example reaches pusher-js", T, async () => {
    const secret = 'yoursharedsecret';
    const created = await adminPost(ctx.server, '/admin/sources', { kind: 'fast_events', domain: DOMAIN, secret });
    assert.equal(created.status, 201);
    const client = await connected(createClient(ctx.server));
    const channel = await subscribe(client, WEBSITE_ID);
    const got = waitForEvent(channel, 'fast_events.order.created');

    const order = { id: 981, event_id: 12, name: 'Jane Doe', email: 'jane@example.com', tickets: [{ type: 'Adult', qty: 2 }] };
    const payload = JSON.stringify(order);
    const signature = crypto.createHmac('sha256', secret).update(payload).digest().toString('base64');
    const res = await fetch(`${ctx.server.baseUrl}${created.body.receive_url}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Fast-Events/1.6.0 (WordPress/6.1.1)',
        'x-fe-webhook-id': '1',
        'x-fe-webhook-source': 'https://vinyl-openair.com/',
        'x-fe-webhook-topic': 'order.created',
        'x-fe-webhook-resource': 'order',
        'x-fe-webhook-event': 'created',
        'x-fe-webhook-delivery-id': crypto.randomUUID(),
        'x-fe-webhook-signature': signature,
      },
      body: payload,
    });
    assert.equal(res.status, 200);
    const { data } = await got;
    assert.deepEqual(data, order);

    // The plugin's "Test webhook": empty body, 200.
    const test = await fetch(`${ctx.server.baseUrl}${created.body.receive_url}`, { method: 'POST' });
    assert.equal(test.status, 200);
  });
});
