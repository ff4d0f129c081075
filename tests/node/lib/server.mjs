// Spawns the real relay server binary ($RELAY_BIN) for black-box tests.
//
// Every server gets its own free port on 127.0.0.1, its own environment (RELAY_* variables from
// the caller's environment are dropped so that nothing leaks in), optionally a TOML config file
// written to a temporary directory, and is killed (SIGTERM, then SIGKILL) by `stop()`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The default app used by tests. The id is numeric because the PyPI SDK only accepts those. */
export const DEFAULT_APP = Object.freeze({
  id: '424242',
  key: 'e2e-app-key',
  secret: 'e2e-app-secret',
});

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export function relayBin() {
  const bin = process.env.RELAY_BIN;
  if (!bin) {
    throw new Error(
      'RELAY_BIN is not set: point it at the relay server binary ' +
        '(e.g. RELAY_BIN=target/debug/relay-server-e2e), or run the suite through `cargo test`',
    );
  }
  return bin;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

function tomlValue(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  throw new Error(`cannot encode ${typeof v} as TOML`);
}

/** Minimal TOML writer: top-level scalars plus `[[apps]]` tables. */
export function toToml(config) {
  const lines = [];
  for (const [k, v] of Object.entries(config)) {
    if (k === 'apps' || k === 'extraToml' || v === undefined) continue;
    lines.push(`${k} = ${tomlValue(v)}`);
  }
  for (const app of config.apps ?? []) {
    lines.push('', '[[apps]]');
    for (const [k, v] of Object.entries(app)) {
      if (v === undefined) continue;
      lines.push(`${k} = ${tomlValue(v)}`);
    }
  }
  // Tables the writer does not model ([webhooks], [[apps.webhooks]] after the last app, ...).
  if (config.extraToml) lines.push('', config.extraToml);
  return lines.join('\n') + '\n';
}

/**
 * Starts a server.
 *
 * options:
 *   env:    extra environment variables (for the env-configured default app)
 *   config: object written as TOML and passed with `--config` ({ activity_timeout, apps: [...] });
 *           `bind` is filled in.
 *   port:   reuse a given port (graceful-shutdown test)
 *   app:    the app that helpers use by default (defaults to DEFAULT_APP, or config.apps[0])
 */
export async function startServer(options = {}) {
  const bin = relayBin();
  const port = options.port ?? (await freePort());
  const bind = `127.0.0.1:${port}`;

  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('RELAY_')) env[k] = v;
  }
  env.RUST_LOG = process.env.RELAY_TEST_RUST_LOG ?? 'info';
  env.RELAY_BIND = bind;

  const args = [];
  let dir = null;
  let app = options.app;
  if (options.config) {
    dir = mkdtempSync(path.join(tmpdir(), 'relay-e2e-'));
    const file = path.join(dir, 'relay.toml');
    const config = { bind, ...options.config };
    writeFileSync(file, toToml(config));
    args.push('--config', file);
    app ??= config.apps?.[0] && {
      id: String(config.apps[0].id),
      key: config.apps[0].key,
      secret: config.apps[0].secret,
    };
  } else {
    env.RELAY_APP_ID = DEFAULT_APP.id;
    env.RELAY_APP_KEY = DEFAULT_APP.key;
    env.RELAY_APP_SECRET = DEFAULT_APP.secret;
  }
  Object.assign(env, options.env ?? {});
  app ??= {
    id: env.RELAY_APP_ID ?? DEFAULT_APP.id,
    key: env.RELAY_APP_KEY ?? DEFAULT_APP.key,
    secret: env.RELAY_APP_SECRET ?? DEFAULT_APP.secret,
  };

  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const keep = (chunk) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exit = null;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      resolve(exit);
    });
    child.on('error', (err) => {
      exit = { code: null, signal: null, error: err };
      live.delete(child);
      resolve(exit);
    });
  });

  const server = {
    port,
    bind,
    app,
    child,
    exited,
    baseUrl: `http://${bind}`,
    logs: () => output,
    get exit() {
      return exit;
    },
    /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit status. */
    async stop(graceMs = 5000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exit) child.kill('SIGKILL');
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      if (dir) rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exit) {
      throw new Error(
        `relay server exited before becoming healthy (${JSON.stringify(exit)}); args ${JSON.stringify(
          args,
        )}; output:\n${output}`,
      );
    }
    try {
      const res = await fetch(`${server.baseUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop(1000);
      throw new Error(`relay server not healthy on ${bind} after 30 s; output:\n${output}`);
    }
    await sleep(50);
  }
  return server;
}

/**
 * Registers before/after hooks that start one server for the enclosing describe block.
 * Returns a getter object: `ctx.server`.
 */
export function useServer(hooks, options = {}) {
  const ctx = { server: null };
  hooks.before(async () => {
    ctx.server = await startServer(typeof options === 'function' ? options() : options);
  });
  hooks.after(async () => {
    if (ctx.server) {
      const res = await ctx.server.stop();
      if (process.env.RELAY_TEST_SHOW_LOGS) process.stderr.write(ctx.server.logs());
      ctx.server = null;
      return res;
    }
  });
  return ctx;
}
