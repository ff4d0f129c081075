// Real client libraries pointed at a test server: pusher-js 8 (Node build) and the npm `pusher` SDK,
// plus await-able helpers that always time out (so no test can hang).
import crypto from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import PusherSDK from 'pusher';
import Pusher from 'pusher-js';

/** 32 bytes of 0x07 (spec §11 test vector), base64. */
export const ENCRYPTION_MASTER_KEY_BASE64 = Buffer.alloc(32, 7).toString('base64');

let counter = 0;
/** A channel (or user) name unique within this process. */
export function uniq(prefix = '') {
  counter += 1;
  return `${prefix}${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** The npm `pusher` server SDK for `app` on `server`. */
export function sdkFor(server, app = server.app, extra = {}) {
  return new PusherSDK({
    appId: String(app.id),
    key: app.key,
    secret: app.secret,
    host: '127.0.0.1',
    port: String(server.port),
    useTLS: false,
    encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY_BASE64,
    timeout: 10_000,
    ...extra,
  });
}

const openClients = new Set();

/**
 * A pusher-js client. Channel authorization and user authentication run through `customHandler`s
 * that call the npm SDK's `authorizeChannel` / `authenticateUser`.
 *
 * options:
 *   app, sdk     which app / SDK signs (defaults: server.app, sdkFor(server, app))
 *   presence     presence data ({user_id, user_info}) or a function (channelName) => data
 *   user         user data for `signin()` ({id, user_info?, watchlist?})
 *   authorize    replaces the channel customHandler body: ({socketId, channelName}) => authResponse
 *   authenticate replaces the user customHandler body: ({socketId}) => authResponse
 *   pusher       extra pusher-js options
 */
export function createClient(server, options = {}) {
  const app = options.app ?? server.app;
  const sdk = options.sdk ?? sdkFor(server, app);
  const messages = [];
  const errors = [];
  const client = new Pusher(app.key, {
    cluster: 'mt1',
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: {
      customHandler: (params, callback) => {
        try {
          if (options.authorize) {
            callback(null, options.authorize(params));
            return;
          }
          const presence =
            typeof options.presence === 'function'
              ? options.presence(params.channelName)
              : options.presence;
          const data = params.channelName.startsWith('presence-') ? presence : undefined;
          callback(null, sdk.authorizeChannel(params.socketId, params.channelName, data));
        } catch (err) {
          callback(err, null);
        }
      },
    },
    userAuthentication: {
      customHandler: (params, callback) => {
        try {
          if (options.authenticate) {
            callback(null, options.authenticate(params));
            return;
          }
          if (!options.user) throw new Error('createClient: no `user` option for signin');
          callback(null, sdk.authenticateUser(params.socketId, options.user));
        } catch (err) {
          callback(err, null);
        }
      },
    },
    ...(options.pusher ?? {}),
  });
  // Every decoded frame the client received after the handshake, and every error it reported.
  client.connection.bind('message', (m) => messages.push(m));
  client.connection.bind('error', (e) => errors.push(e));
  client.received = messages;
  client.errorsSeen = errors;
  client.sdk = sdk;
  openClients.add(client);
  return client;
}

/** Disconnects every client created so far (call in afterEach / after). */
export function disconnectAll() {
  for (const c of openClients) {
    try {
      c.disconnect();
    } catch {
      // ignore
    }
  }
  openClients.clear();
}

function describeClient(client) {
  const conn = client.connection;
  const recent = (client.received ?? [])
    .slice(-8)
    .map((m) => JSON.stringify(m))
    .join('\n    ');
  return `state=${conn.state} socket_id=${conn.socket_id}\n  last frames:\n    ${recent}`;
}

/** Resolves when `client.connection.state === state`; rejects after `ms`. */
export function waitForState(client, state, ms = 10_000) {
  if (client.connection.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onChange = ({ current }) => {
      if (current === state) {
        clearTimeout(timer);
        client.connection.unbind('state_change', onChange);
        resolve();
      }
    };
    const timer = setTimeout(() => {
      client.connection.unbind('state_change', onChange);
      reject(new Error(`timed out after ${ms} ms waiting for state ${state}; ${describeClient(client)}`));
    }, ms);
    client.connection.bind('state_change', onChange);
  });
}

/** Connects (if needed) and waits for `connected`. */
export async function connected(client, ms = 10_000) {
  if (client.connection.state === 'initialized') client.connect();
  await waitForState(client, 'connected', ms);
  return client;
}

/**
 * Resolves with `{data, metadata}` on the next `event` emitted by `target` (a channel, a client's
 * connection, `client.user`, `client.user.watchlist`...) for which `filter(data)` holds.
 */
export function waitForEvent(target, event, { ms = 5000, filter = () => true, what = '' } = {}) {
  return new Promise((resolve, reject) => {
    const handler = (data, metadata) => {
      let ok = false;
      try {
        ok = filter(data, metadata);
      } catch {
        ok = false;
      }
      if (!ok) return;
      clearTimeout(timer);
      target.unbind(event, handler);
      resolve({ data, metadata });
    };
    const timer = setTimeout(() => {
      target.unbind(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for event ${event} ${what}`));
    }, ms);
    target.bind(event, handler);
  });
}

/** Collects every `event` emitted by `target` from now on. Call `.stop()` to unbind. */
export function collect(target, event) {
  const seen = [];
  const handler = (data, metadata) => seen.push({ data, metadata });
  target.bind(event, handler);
  seen.stop = () => target.unbind(event, handler);
  return seen;
}

/** Resolves with the first frame received by `client` (after `since` frames) matching `pred`. */
export async function waitForFrame(client, pred, { ms = 5000, since = 0, what = '' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = client.received.slice(since).find((m) => {
      try {
        return pred(m);
      } catch {
        return false;
      }
    });
    if (hit) return hit;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for a frame ${what}; ${describeClient(client)}`);
    }
    await sleep(20);
  }
}

/**
 * Subscribes and waits for `pusher:subscription_succeeded`. Rejects on a subscription error
 * (pusher-js `pusher:subscription_error`, or a server `pusher:error` naming the channel).
 */
export function subscribe(client, name, ms = 5000) {
  const channel = client.subscribe(name);
  if (channel.subscribed) return Promise.resolve(channel);
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      channel.unbind('pusher:subscription_succeeded', ok);
      channel.unbind('pusher:subscription_error', fail);
      channel.unbind('pusher:error', fail);
    };
    const ok = () => {
      cleanup();
      resolve(channel);
    };
    const fail = (err) => {
      cleanup();
      reject(new Error(`subscription to ${name} failed: ${JSON.stringify(err)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms subscribing to ${name}; ${describeClient(client)}`));
    }, ms);
    channel.bind('pusher:subscription_succeeded', ok);
    channel.bind('pusher:subscription_error', fail);
    channel.bind('pusher:error', fail);
  });
}

/** Subscribes and expects a failure: resolves with the server's `pusher:error` frame for it. */
export async function subscribeExpectingError(client, name, ms = 5000) {
  const since = client.received.length;
  const channel = client.subscribe(name);
  const succeeded = collect(channel, 'pusher:subscription_succeeded');
  try {
    return await waitForFrame(
      client,
      (m) => m.event === 'pusher:error' && (m.channel === name || m.channel === undefined),
      { ms, since, what: `pusher:error for the subscription to ${name}` },
    );
  } finally {
    succeeded.stop();
    if (succeeded.length) throw new Error(`subscription to ${name} unexpectedly succeeded`);
  }
}

/** Waits `ms` and asserts nothing matching `pred` was received by `client` meanwhile. */
export async function expectNoFrame(client, pred, ms = 700, what = '') {
  const since = client.received.length;
  await sleep(ms);
  const hit = client.received.slice(since).find(pred);
  if (hit) throw new Error(`unexpected frame ${what}: ${JSON.stringify(hit)}`);
}

/** Sign `message` with HMAC-SHA256 (hex), as every Pusher library does. */
export function hmacHex(secret, message) {
  return crypto.createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}

export function md5Hex(body) {
  return crypto.createHash('md5').update(body, 'utf8').digest('hex');
}

/**
 * A hand-built, signed HTTP API request (spec §7.2), so signatures can be broken on purpose.
 *
 * opts: method, path (e.g. `/apps/1/events`), body (string or object), params (extra query
 * params), key, secret, timestamp, bodyMd5 (override; `null` to omit), signature (override),
 * authVersion.
 */
export async function signedFetch(server, opts) {
  const app = opts.app ?? server.app;
  const method = (opts.method ?? 'GET').toUpperCase();
  const body =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const params = {
    auth_key: opts.key ?? app.key,
    auth_timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: opts.authVersion ?? '1.0',
    ...(opts.params ?? {}),
  };
  if (body !== undefined && body !== '' && opts.bodyMd5 !== null) {
    params.body_md5 = opts.bodyMd5 ?? md5Hex(body);
  } else if (opts.bodyMd5) {
    params.body_md5 = opts.bodyMd5;
  }
  const sorted = Object.keys(params)
    .map((k) => [k.toLowerCase(), params[k]])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const toSign = `${method}\n${opts.path}\n${sorted.map(([k, v]) => `${k}=${v}`).join('&')}`;
  const signature = opts.signature ?? hmacHex(opts.secret ?? app.secret, toSign);
  const qs = new URLSearchParams({ ...params, auth_signature: signature }).toString();
  const res = await fetch(`${server.baseUrl}${opts.path}?${qs}`, {
    method,
    body,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** Runs an SDK call that must fail; resolves with the SDK's RequestError (status, body). */
export async function expectRequestError(promise) {
  try {
    const res = await promise;
    const body = res && typeof res.text === 'function' ? await res.text() : res;
    throw new Error(`expected the request to fail, got status ${res?.status}: ${body}`);
  } catch (err) {
    if (err && err.status !== undefined) return err;
    throw err;
  }
}

export async function json(response) {
  assertOk(response);
  return response.json();
}

function assertOk(response) {
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}`);
}

export { Pusher, PusherSDK, sleep };
