// Relay console: plain JavaScript, no build step, no dependencies.
//
// Every data call goes to /admin/* with the admin bearer token, which is kept in this tab's
// sessionStorage only. The live feed is read with fetch() and a ReadableStream (EventSource
// cannot send headers, and the token must not end up in a URL).
'use strict';

(() => {
  const TOKEN_KEY = 'relay.console.token';
  const FEED_CAP = 500;
  const CHART_POINTS = 120;

  // ---------------------------------------------------------------- helpers

  const $ = (id) => document.getElementById(id);

  /** Creates an element: h('td', {class: 'x'}, 'text', child). Text is never parsed as HTML. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.firstChild.remove();
  }

  function show(el, visible) {
    el.hidden = !visible;
  }

  const numberFormat = new Intl.NumberFormat('en');
  const fmt = (n) => (typeof n === 'number' ? numberFormat.format(n) : '–');

  function bytes(n) {
    if (typeof n !== 'number') return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i += 1;
    }
    return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
  }

  function clock(ms) {
    const d = new Date(ms);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  /** Seed 002 datetimes are UTC `YYYY-MM-DD HH:MM:SS`; shown as given, marked UTC. */
  function utc(s) {
    return s ? `${s} UTC` : '–';
  }

  function cut(s, n) {
    s = String(s ?? '');
    return s.length > n ? `${s.slice(0, n)}…` : s;
  }

  /** A notice element (role set by the container). */
  function notice(kind, ...content) {
    return h('p', { class: `notice notice-${kind}` }, ...content);
  }

  function setNotice(container, kind, ...content) {
    clear(container);
    if (content.length) container.append(notice(kind, ...content));
  }

  async function copyText(text, button) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch {
      ok = false;
    }
    if (!ok) {
      const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
      area.value = text;
      document.body.append(area);
      area.select();
      try {
        ok = document.execCommand('copy');
      } catch {
        ok = false;
      }
      area.remove();
      button.focus();
    }
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  }

  function copyButton(text, what) {
    return h('button', {
      type: 'button',
      class: 'btn btn-small',
      'aria-label': `Copy ${what}`,
      onclick: (e) => copyText(text, e.currentTarget),
    }, 'Copy');
  }

  /** A button that asks for confirmation in place before running `action`. */
  function confirmButton(label, what, question, action) {
    const wrap = h('span', { class: 'confirm' });
    const start = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': `${label} ${what}` }, label);
    const ask = () => {
      clear(wrap);
      const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, `Yes, ${label.toLowerCase()}`);
      const no = h('button', { type: 'button', class: 'btn btn-small' }, 'Cancel');
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        no.disabled = true;
        try {
          await action();
        } finally {
          if (wrap.isConnected) reset();
        }
      });
      no.addEventListener('click', () => {
        reset();
        start.focus();
      });
      wrap.append(h('span', { class: 'confirm-q', role: 'alert' }, question), ' ', yes, ' ', no);
      no.focus();
    };
    const reset = () => {
      clear(wrap);
      wrap.append(start);
    };
    start.addEventListener('click', ask);
    reset();
    return wrap;
  }

  // ---------------------------------------------------------------- API

  let token = sessionStorage.getItem(TOKEN_KEY);

  class ApiError extends Error {
    constructor(status, message, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  function errorMessage(status, body) {
    if (body && typeof body === 'object') {
      if (typeof body.error === 'string') return body.error;
      if (typeof body.message === 'string') return body.message;
    }
    return `HTTP ${status}`;
  }

  /** Calls the admin API; a 401 signs out (the token is wrong or was rotated). */
  async function api(method, path, body, opts = {}) {
    const headers = { authorization: `Bearer ${opts.token ?? token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal: opts.signal,
      });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, 'The server cannot be reached.');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!res.ok) {
      if (res.status === 401 && !opts.token) signOut('The admin token was refused: sign in again.');
      throw new ApiError(res.status, errorMessage(res.status, data), data);
    }
    return data;
  }

  // ---------------------------------------------------------------- apps (shared by views)

  let apps = [];

  async function loadApps() {
    const data = await api('GET', '/admin/apps');
    apps = data.apps || [];
    for (const select of [$('live-app'), $('send-app')]) {
      const current = select.value;
      clear(select);
      for (const app of apps) {
        select.append(h('option', { value: app.id }, app.enabled === false ? `${app.id} (disabled)` : app.id));
      }
      if (apps.some((a) => a.id === current)) select.value = current;
    }
    return apps;
  }

  // ---------------------------------------------------------------- routing

  const views = {
    live: { el: 'view-live', enter: enterLive, leave: leaveLive },
    overview: { el: 'view-overview', enter: enterOverview, leave: leaveOverview },
    sites: { el: 'view-sites', enter: enterSites },
    webhooks: { el: 'view-webhooks', enter: enterWebhooks },
    deliveries: { el: 'view-deliveries', enter: enterDeliveries },
    send: { el: 'view-send', enter: enterSend },
    login: { el: 'view-login', enter: enterLogin },
  };
  let current = null;

  function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'webhooks' && parts[1]) return { name: 'deliveries', arg: parts[1] };
    if (views[parts[0]] && parts[0] !== 'deliveries') return { name: parts[0], arg: parts[1] };
    return { name: 'live' };
  }

  function route() {
    let target = parseHash();
    if (!token) target = { name: 'login' };
    else if (target.name === 'login') target = { name: 'live' };
    if (current) {
      views[current.name].leave?.();
      $(views[current.name].el).hidden = true;
    }
    current = target;
    const view = views[target.name];
    $(view.el).hidden = false;
    const signedIn = Boolean(token);
    show($('nav'), signedIn);
    show($('logout'), signedIn);
    for (const link of document.querySelectorAll('#nav a')) {
      const active = link.dataset.route === target.name ||
        (target.name === 'deliveries' && link.dataset.route === 'webhooks');
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const title = $(view.el).querySelector('h1');
    document.title = `${title ? title.textContent : 'Relay'} · Relay console`;
    view.enter(target.arg);
    if (routedOnce && title) title.focus({ preventScroll: false });
    routedOnce = true;
  }
  let routedOnce = false;

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // ---------------------------------------------------------------- login

  function enterLogin() {
    const input = $('login-token');
    input.value = '';
    setTimeout(() => input.focus(), 0);
  }

  function signOut(message) {
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    stopFeed();
    const err = $('login-error');
    err.textContent = message || '';
    show(err, Boolean(message));
    route();
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('login-token');
    const err = $('login-error');
    const candidate = input.value.trim();
    const button = e.target.querySelector('button[type=submit]');
    if (!candidate) {
      err.textContent = 'Enter the admin token.';
      show(err, true);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      await api('GET', '/admin/apps', undefined, { token: candidate });
      token = candidate;
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = '';
      input.removeAttribute('aria-invalid');
      show(err, false);
      const target = parseHash().name;
      go(target === 'login' ? '#/live' : location.hash || '#/live');
    } catch (error) {
      err.textContent = error.status === 401
        ? 'That token was refused (401). Check RELAY_ADMIN_TOKEN on the server.'
        : `Sign-in failed: ${error.message}`;
      show(err, true);
      input.setAttribute('aria-invalid', 'true');
      input.select();
    } finally {
      button.disabled = false;
    }
  });

  $('logout').addEventListener('click', () => {
    signOut('');
  });

  // ---------------------------------------------------------------- live

  const live = {
    events: [], // newest last
    pending: [], // received while paused
    paused: false,
    controller: null,
    app: null,
    retry: 0,
    total: 0,
  };

  const TYPE_LABELS = {
    connection_open: 'connected',
    connection_close: 'disconnected',
    subscribed: 'subscribed',
    unsubscribed: 'unsubscribed',
    member_added: 'member added',
    member_removed: 'member removed',
    client_event: 'client event',
    api_event: 'API event',
    ingested_event: 'ingested event',
    lagged: 'skipped',
  };

  function liveStatus(text, kind) {
    const el = $('live-status');
    el.textContent = text;
    el.className = `pill pill-${kind}`;
  }

  async function enterLive() {
    try {
      await loadApps();
    } catch (error) {
      if (error.status !== 401) liveStatus(`Error: ${error.message}`, 'bad');
      return;
    }
    if (!current || current.name !== 'live') return;
    if (!apps.length) {
      liveStatus('No apps configured', 'bad');
      return;
    }
    const saved = sessionStorage.getItem('relay.console.liveApp');
    if (!live.app && saved && apps.some((a) => a.id === saved)) $('live-app').value = saved;
    startFeed($('live-app').value);
    renderFeed();
  }

  function leaveLive() {
    stopFeed();
  }

  function stopFeed() {
    if (live.controller) live.controller.abort();
    live.controller = null;
    clearTimeout(live.retryTimer);
  }

  function startFeed(appId) {
    stopFeed();
    if (live.app !== appId) {
      live.events = [];
      live.pending = [];
      live.total = 0;
    }
    live.app = appId;
    sessionStorage.setItem('relay.console.liveApp', appId);
    const controller = new AbortController();
    live.controller = controller;
    readFeed(appId, controller).catch(() => {});
  }

  async function readFeed(appId, controller) {
    liveStatus('Connecting…', 'wait');
    let res;
    try {
      res = await fetch(`/admin/feed?app_id=${encodeURIComponent(appId)}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (error) {
      if (controller.signal.aborted) return;
      return reconnect(appId, controller, 'Disconnected');
    }
    if (res.status === 401) {
      signOut('The admin token was refused: sign in again.');
      return;
    }
    if (!res.ok || !res.body) {
      let msg = `HTTP ${res.status}`;
      try {
        msg = errorMessage(res.status, await res.json());
      } catch {
        // keep the status
      }
      return reconnect(appId, controller, `Feed error: ${msg}`);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        buffer = buffer.replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          handleSse(block);
        }
      }
    } catch {
      // aborted or network error
    }
    if (!controller.signal.aborted) reconnect(appId, controller, 'Disconnected');
  }

  function reconnect(appId, controller, why) {
    if (controller.signal.aborted || live.controller !== controller) return;
    live.retry = Math.min(live.retry + 1, 5);
    const delay = Math.min(1000 * 2 ** (live.retry - 1), 10_000);
    liveStatus(`${why}; retrying in ${Math.round(delay / 1000)} s`, 'bad');
    live.retryTimer = setTimeout(() => {
      if (live.controller === controller) readFeed(appId, controller).catch(() => {});
    }, delay);
  }

  /** One server-sent event block: `event:`, `data:` lines, `:` comments. */
  function handleSse(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event === 'hello') {
      live.retry = 0;
      liveStatus(`Watching ${live.app}`, 'ok');
      return;
    }
    if (!data.length) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (event === 'lagged') payload = { type: 'lagged', skipped: payload.skipped, at: Date.now() };
    addEvent(payload);
  }

  function addEvent(ev) {
    live.total += 1;
    if (live.paused) {
      live.pending.push(ev);
      if (live.pending.length > FEED_CAP) live.pending.shift();
      updateCount();
      return;
    }
    pushEvent(ev);
    if (matches(ev)) {
      const body = $('live-feed');
      body.prepend(feedRow(ev));
      while (body.children.length > FEED_CAP) body.lastElementChild.remove();
    }
    updateCount();
  }

  function pushEvent(ev) {
    live.events.push(ev);
    if (live.events.length > FEED_CAP) live.events.shift();
  }

  function matches(ev) {
    const channel = $('live-channel').value.trim().toLowerCase();
    const event = $('live-event').value.trim().toLowerCase();
    if (channel && !String(ev.channel ?? '').toLowerCase().includes(channel)) return false;
    if (event) {
      const hay = [ev.event, ev.type, TYPE_LABELS[ev.type]].map((s) => String(s ?? '').toLowerCase());
      if (!hay.some((s) => s.includes(event))) return false;
    }
    return true;
  }

  function dataCell(data) {
    if (data === undefined || data === null) return null;
    let text = typeof data === 'string' ? data : JSON.stringify(data);
    try {
      // Pretty-print JSON payloads when they are expanded.
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === 'object') text = JSON.stringify(parsed, null, 2);
    } catch {
      // not JSON: as given
    }
    const oneLine = text.replace(/\s+/g, ' ');
    if (oneLine.length <= 120) return h('code', { class: 'data' }, oneLine);
    return h('details', { class: 'data' },
      h('summary', {}, h('code', {}, cut(oneLine, 120))),
      h('pre', {}, text));
  }

  function feedRow(ev) {
    const details = [];
    const kv = (k, v) => (v === undefined || v === null || v === '' ? null : h('span', { class: 'kv' }, h('span', { class: 'k' }, k), ' ', String(v)));
    if (ev.type === 'lagged') {
      details.push(`${fmt(ev.skipped)} events skipped: the console fell behind`);
    } else {
      details.push(kv('socket', ev.socket_id), kv('user', ev.user_id));
      if (ev.type === 'connection_close') details.push(kv('code', ev.code ?? 'none'));
      if (ev.source) details.push(kv('source', ev.source));
      details.push(dataCell(ev.data));
    }
    const type = ev.type || 'unknown';
    return h('tr', { class: `ev ev-${type}` },
      h('td', { class: 'time' }, h('time', { datetime: new Date(ev.at || Date.now()).toISOString() }, clock(ev.at || Date.now()))),
      h('td', {}, h('span', { class: `badge badge-${type}` }, TYPE_LABELS[type] || type)),
      h('td', { class: 'mono' }, ev.channel ?? ''),
      h('td', { class: 'mono' }, ev.event ?? ''),
      h('td', { class: 'details' }, details.filter(Boolean).flatMap((d) => [d, ' '])));
  }

  function renderFeed() {
    const body = $('live-feed');
    clear(body);
    const rows = [];
    for (let i = live.events.length - 1; i >= 0; i -= 1) {
      if (matches(live.events[i])) rows.push(feedRow(live.events[i]));
    }
    body.append(...rows);
    updateCount();
  }

  function updateCount() {
    const shown = $('live-feed').children.length;
    show($('live-empty'), shown === 0);
    $('live-empty').textContent = live.events.length && !shown
      ? 'No events match the filters.'
      : 'No events yet. Connect a client, subscribe to a channel or publish an event and it shows up here.';
    let text = `${fmt(shown)} shown of the last ${fmt(live.events.length)} (at most ${FEED_CAP} kept)`;
    if (live.paused) text += ` · paused, ${fmt(live.pending.length)} new waiting`;
    $('live-count').textContent = text;
  }

  $('live-app').addEventListener('change', (e) => {
    startFeed(e.target.value);
    renderFeed();
  });
  $('live-controls').addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['live-channel', 'live-event']) $(id).addEventListener('input', renderFeed);

  $('live-pause').addEventListener('click', (e) => {
    live.paused = !live.paused;
    const button = e.currentTarget;
    button.setAttribute('aria-pressed', String(live.paused));
    button.textContent = live.paused ? 'Resume' : 'Pause';
    if (!live.paused) {
      for (const ev of live.pending) pushEvent(ev);
      live.pending = [];
      renderFeed();
    }
    updateCount();
  });

  $('live-clear').addEventListener('click', () => {
    live.events = [];
    live.pending = [];
    renderFeed();
  });

  // ---------------------------------------------------------------- overview

  const overview = { timer: null, samples: [], last: null, appsAt: 0 };

  function enterOverview() {
    leaveOverview();
    const tick = async () => {
      await pollStats();
      if (current && current.name === 'overview') overview.timer = setTimeout(tick, 1000);
    };
    tick();
  }

  function leaveOverview() {
    clearTimeout(overview.timer);
    overview.timer = null;
  }

  async function pollStats() {
    let stats;
    try {
      if (Date.now() - overview.appsAt > 10_000) {
        await loadApps();
        overview.appsAt = Date.now();
      }
      stats = await api('GET', '/admin/stats');
    } catch (error) {
      if (error.status !== 401) {
        $('overview-error').textContent = `Could not load the figures: ${error.message}`;
        show($('overview-error'), true);
      }
      return;
    }
    show($('overview-error'), false);
    const now = performance.now();
    if (overview.last) {
      const dt = (now - overview.last.t) / 1000;
      if (dt > 0) {
        overview.samples.push({
          in: Math.max(0, stats.messages_in - overview.last.in) / dt,
          out: Math.max(0, stats.messages_out - overview.last.out) / dt,
        });
        if (overview.samples.length > CHART_POINTS) overview.samples.shift();
      }
    }
    overview.last = { t: now, in: stats.messages_in, out: stats.messages_out };
    renderStats(stats);
    drawChart();
    $('overview-updated').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  function renderStats(s) {
    const q = s.webhook_queue;
    const latest = overview.samples[overview.samples.length - 1];
    const figures = [
      ['Connections', fmt(s.connections)],
      ['Connections since start', fmt(s.connections_total)],
      ['Subscriptions', fmt(s.subscriptions)],
      ['Messages in', fmt(s.messages_in)],
      ['Messages out', fmt(s.messages_out)],
      ['Bytes out', bytes(s.bytes_out)],
      ['Messages/s (in · out)', latest ? `${latest.in.toFixed(1)} · ${latest.out.toFixed(1)}` : '–'],
      ['Slow consumers', fmt(s.slow_consumers), s.slow_consumers > 0 ? 'warn' : ''],
      ['Webhook queue (pending · in flight)', q ? `${fmt(q.pending)} · ${fmt(q.in_flight)}` : 'n/a'],
      ['Webhook deliveries failed', q ? fmt(q.failed) : 'n/a', q && q.failed > 0 ? 'warn' : ''],
      ['Store', s.store || '–'],
    ];
    const dl = $('overview-figures');
    clear(dl);
    for (const [label, value, kind] of figures) {
      dl.append(h('div', { class: `figure ${kind || ''}` }, h('dt', {}, label), h('dd', {}, value)));
    }
    const byId = new Map((s.apps || []).map((a) => [a.id, a]));
    const body = $('overview-apps');
    clear(body);
    const list = apps.length ? apps : s.apps || [];
    for (const app of list) {
      const counts = byId.get(app.id) || app;
      body.append(h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, app.id),
        h('td', { class: 'mono' }, app.key ?? '–'),
        h('td', {}, app.enabled === undefined ? '–' : app.enabled ? 'yes' : 'no'),
        h('td', {}, app.client_events === undefined ? '–' : app.client_events ? 'enabled' : 'disabled'),
        h('td', { class: 'num' }, fmt(counts.connections)),
        h('td', { class: 'num' }, fmt(counts.channels))));
    }
    if (!list.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'empty' }, 'No apps configured.')));
    $('chart-now').textContent = latest ? `now: ${latest.in.toFixed(1)} in/s, ${latest.out.toFixed(1)} out/s` : 'measuring…';
  }

  function drawChart() {
    const canvas = $('chart');
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 800;
    const height = canvas.clientHeight || 180;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const css = getComputedStyle(document.documentElement);
    const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const pad = { l: 44, r: 8, t: 10, b: 20 };
    const w = width - pad.l - pad.r;
    const hgt = height - pad.t - pad.b;
    const samples = overview.samples;
    const max = Math.max(1, ...samples.map((s) => Math.max(s.in, s.out)));
    const top = niceCeil(max);

    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = color('--muted', '#666');
    ctx.strokeStyle = color('--grid', '#ddd');
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i += 1) {
      const y = pad.t + hgt - (hgt * i) / 4;
      ctx.beginPath();
      ctx.moveTo(pad.l, Math.round(y) + 0.5);
      ctx.lineTo(pad.l + w, Math.round(y) + 0.5);
      ctx.stroke();
      ctx.fillText(formatRate((top * i) / 4), pad.l - 6, y);
    }
    ctx.textAlign = 'left';
    ctx.textBaseline = 'alphabetic';
    ctx.fillText(`${CHART_POINTS} s ago`, pad.l, height - 4);
    ctx.textAlign = 'right';
    ctx.fillText('now', pad.l + w, height - 4);

    const line = (key, stroke) => {
      if (samples.length < 2) return;
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 2;
      ctx.beginPath();
      samples.forEach((s, i) => {
        const x = pad.l + w - ((samples.length - 1 - i) * w) / (CHART_POINTS - 1);
        const y = pad.t + hgt - (s[key] / top) * hgt;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
    };
    line('out', color('--chart-out', '#c05621'));
    line('in', color('--chart-in', '#2b6cb0'));
    if (samples.length < 2) {
      ctx.fillStyle = color('--muted', '#666');
      ctx.textAlign = 'center';
      ctx.fillText('Collecting samples…', pad.l + w / 2, pad.t + hgt / 2);
    }
    const latest = samples[samples.length - 1];
    canvas.setAttribute('aria-label', latest
      ? `Messages per second over the last two minutes; now ${latest.in.toFixed(1)} in and ${latest.out.toFixed(1)} out`
      : 'Messages per second: collecting samples');
  }

  function niceCeil(n) {
    const p = 10 ** Math.floor(Math.log10(n));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
    return 10 * p;
  }

  function formatRate(n) {
    return n >= 1000 ? `${(n / 1000).toFixed(n >= 10000 ? 0 : 1)}k` : String(Math.round(n * 10) / 10);
  }

  // ---------------------------------------------------------------- sites

  async function enterSites() {
    await loadSites();
  }

  async function loadSites() {
    const body = $('sites-list');
    let data;
    try {
      data = await api('GET', '/admin/sites');
    } catch (error) {
      if (error.status !== 401) setNotice($('site-result'), 'error', `Could not load sites: ${error.message}`);
      return;
    }
    clear(body);
    const sites = (data.sites || []).slice().sort((a, b) => a.domain.localeCompare(b.domain));
    for (const site of sites) body.append(siteRow(site));
    show($('sites-empty'), sites.length === 0);
  }

  function siteRow(site) {
    const backups = h('div', { class: 'backups', hidden: true });
    const backupsButton = h('button', { type: 'button', class: 'btn btn-small', 'aria-expanded': 'false' }, 'Backups');
    backupsButton.addEventListener('click', async () => {
      const open = backupsButton.getAttribute('aria-expanded') === 'true';
      backupsButton.setAttribute('aria-expanded', String(!open));
      backups.hidden = open;
      if (open) return;
      clear(backups);
      backups.append(h('p', { class: 'muted small' }, 'Loading…'));
      try {
        const data = await api('GET', `/admin/sites/${encodeURIComponent(site.domain)}/backups`);
        clear(backups);
        const list = data.backups || [];
        if (!list.length) backups.append(h('p', { class: 'muted small' }, 'No backups reported for this site.'));
        else {
          backups.append(h('ul', { class: 'plain small' }, list.map((b) => h('li', {},
            h('span', { class: 'mono' }, b.backup_id), ' ', h('span', { class: `badge badge-${b.status}` }, b.status),
            ` ${b.progress ?? 0}%`, b.error_message ? ` — ${b.error_message}` : '',
            h('span', { class: 'muted' }, ` (updated ${b.updated_at})`)))));
        }
      } catch (error) {
        clear(backups);
        backups.append(h('p', { class: 'notice notice-error' }, `Could not load backups: ${error.message}`));
      }
    });
    return h('tr', { 'data-domain': site.domain },
      h('th', { scope: 'row' }, site.domain),
      h('td', {}, h('code', { class: 'website-id' }, site.website_id), ' ', copyButton(site.website_id, `website_id of ${site.domain}`), backups),
      h('td', { class: 'actions' }, backupsButton, ' ',
        confirmButton('Remove', site.domain, `Remove ${site.domain}?`, async () => {
          try {
            await api('DELETE', `/admin/sites/${encodeURIComponent(site.domain)}`);
            setNotice($('site-result'), 'ok', `Removed ${site.domain}.`);
            await loadSites();
            $('site-domain').focus();
          } catch (error) {
            setNotice($('site-result'), 'error', `Could not remove ${site.domain}: ${error.message}`);
          }
        })));
  }

  $('site-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const domain = form.domain.value.trim();
    const websiteId = form.website_id.value.trim();
    const result = $('site-result');
    if (!domain) {
      setNotice(result, 'error', 'Enter a domain.');
      form.domain.setAttribute('aria-invalid', 'true');
      form.domain.focus();
      return;
    }
    form.domain.removeAttribute('aria-invalid');
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const site = await api('POST', '/admin/sites', websiteId ? { domain, website_id: websiteId } : { domain });
      clear(result);
      result.append(h('div', { class: 'notice notice-ok added' },
        h('p', {}, 'Added ', h('strong', {}, site.domain), '. Its website_id (the channel its events are published on):'),
        h('p', {}, h('code', { class: 'website-id big', id: 'site-added-id' }, site.website_id), ' ',
          copyButton(site.website_id, 'the new website_id'))));
      form.reset();
      await loadSites();
    } catch (error) {
      const why = error.status === 409 ? `${domain} is already registered.` : error.message;
      setNotice(result, 'error', `Could not add the site: ${why}`);
    } finally {
      button.disabled = false;
    }
  });

  // ---------------------------------------------------------------- webhooks

  let webhooks = [];
  let editing = null; // webhook id being edited, or null for a new one

  async function enterWebhooks() {
    await loadWebhooks();
  }

  async function loadWebhooks() {
    let data;
    try {
      data = await api('GET', '/admin/webhooks');
    } catch (error) {
      if (error.status !== 401) setNotice($('webhooks-message'), 'error', `Could not load webhooks: ${error.message}`);
      return;
    }
    webhooks = data.webhooks || [];
    const body = $('webhooks-list');
    clear(body);
    for (const hook of webhooks) body.append(webhookRow(hook));
    show($('webhooks-empty'), webhooks.length === 0);
  }

  function failing(hook) {
    return hook.status === 'disabled' || Boolean(hook.last_error);
  }

  function statusBadge(status) {
    return h('span', { class: `badge badge-${status}` }, status);
  }

  function webhookRow(hook) {
    const result = h('div', { class: 'row-result', role: 'status' });
    const enabled = hook.status === 'active';
    const toggle = h('button', {
      type: 'button',
      class: 'btn btn-small',
      'aria-label': `${enabled ? 'Disable' : 'Enable'} ${hook.name}`,
    }, enabled ? 'Disable' : 'Enable');
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      try {
        await api('PUT', `/admin/webhooks/${hook.id}`, { status: enabled ? 'inactive' : 'active' });
        setNotice($('webhooks-message'), 'ok', `${hook.name} ${enabled ? 'disabled' : 'enabled'}.`);
        await loadWebhooks();
        $('webhooks-list').querySelector(`tr[data-id="${hook.id}"] .toggle`)?.focus();
      } catch (error) {
        toggle.disabled = false;
        setNotice(result, 'error', `Could not change the status: ${error.message}`);
      }
    });
    toggle.classList.add('toggle');

    const test = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Send a test event to ${hook.name}` }, 'Test');
    test.addEventListener('click', () => runTest(hook, test, result));

    const problems = [];
    if (hook.status === 'disabled') {
      problems.push(h('p', { class: 'problem' }, h('strong', {}, 'Disabled: '), hook.disabled_reason || 'too many failures'));
    }
    if (hook.last_error) problems.push(h('p', { class: 'problem' }, h('strong', {}, 'Last error: '), cut(hook.last_error, 300)));

    return h('tr', { class: failing(hook) ? 'failing' : '', 'data-id': hook.id },
      h('th', { scope: 'row' }, h('a', { href: `#/webhooks/${hook.id}` }, hook.name),
        failing(hook) ? h('span', { class: 'badge badge-failing' }, 'failing') : null),
      h('td', {},
        h('div', { class: 'mono url' }, hook.url),
        h('div', { class: 'small muted' }, 'events: ', h('span', { class: 'mono' }, (hook.events || []).join(', ')),
          hook.website_ids && hook.website_ids.length ? ` · ${hook.website_ids.length} site(s)` : ' · all sites',
          ` · ${hook.retry_count} retries`),
        problems),
      h('td', {}, statusBadge(hook.status)),
      h('td', { class: 'small' }, hook.last_triggered_at ? utc(hook.last_triggered_at) : h('span', { class: 'muted' }, 'never')),
      h('td', { class: 'actions' },
        h('div', { class: 'buttons' },
          h('a', { class: 'btn btn-small', href: `#/webhooks/${hook.id}`, 'aria-label': `Delivery log of ${hook.name}` }, 'Deliveries'),
          test,
          h('button', {
            type: 'button', class: 'btn btn-small', 'aria-label': `Edit ${hook.name}`,
            onclick: () => openEditor(hook),
          }, 'Edit'),
          toggle,
          confirmButton('Delete', hook.name, `Delete ${hook.name}?`, async () => {
            try {
              await api('DELETE', `/admin/webhooks/${hook.id}`);
              setNotice($('webhooks-message'), 'ok', `Deleted ${hook.name}.`);
              await loadWebhooks();
            } catch (error) {
              setNotice(result, 'error', `Could not delete: ${error.message}`);
            }
          })),
        result));
  }

  async function runTest(hook, button, container) {
    button.disabled = true;
    setNotice(container, 'info', `Sending a test event to ${hook.name}…`);
    try {
      const r = await api('POST', `/admin/webhooks/${hook.id}/test`);
      const parts = [
        h('strong', {}, r.success ? 'Test delivered' : 'Test failed'),
        ` — ${r.status_code ? `HTTP ${r.status_code}` : 'no response'}`,
        typeof r.response_time === 'number' ? ` in ${r.response_time} ms` : '',
        r.message ? `. ${r.message}` : '',
      ];
      setNotice(container, r.success ? 'ok' : 'error', ...parts);
      container.firstChild.classList.add('test-result');
      return r;
    } catch (error) {
      setNotice(container, 'error', `Could not send the test: ${error.message}`);
      return null;
    } finally {
      button.disabled = false;
    }
  }

  function openEditor(hook) {
    editing = hook ? hook.id : null;
    const form = $('webhook-form');
    form.reset();
    $('webhook-form-title').textContent = hook ? `Edit ${hook.name}` : 'New webhook';
    $('webhook-save').textContent = hook ? 'Save changes' : 'Create webhook';
    show($('webhook-form-error'), false);
    if (hook) {
      form.name.value = hook.name;
      form.url.value = hook.url;
      form.events.value = (hook.events || []).join(', ');
      form.website_ids.value = (hook.website_ids || []).join(', ');
      form.status.value = hook.status === 'inactive' ? 'inactive' : 'active';
      form.retry_count.value = hook.retry_count;
      form.secret.value = hook.secret || '';
      form.headers.value = Object.entries(hook.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
    }
    show($('webhook-editor'), true);
    form.name.focus();
  }

  function closeEditor() {
    show($('webhook-editor'), false);
    editing = null;
    $('webhook-new').focus();
  }

  const list = (s) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

  $('webhook-new').addEventListener('click', () => openEditor(null));
  $('webhook-cancel').addEventListener('click', closeEditor);

  $('webhook-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const err = $('webhook-form-error');
    const fail = (message, field) => {
      err.textContent = message;
      show(err, true);
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        field.focus();
      }
    };
    for (const f of form.elements) f.removeAttribute?.('aria-invalid');
    const body = {
      name: form.name.value.trim(),
      url: form.url.value.trim(),
      events: list(form.events.value),
      status: form.status.value,
    };
    if (!body.name) return fail('Enter a name.', form.name);
    if (!body.url) return fail('Enter the URL to deliver to.', form.url);
    if (!body.events.length) return fail('Enter at least one event, or * for all.', form.events);
    const sites = list(form.website_ids.value);
    if (sites.length) body.website_ids = sites;
    else if (editing !== null) body.website_ids = null;
    const retries = form.retry_count.value.trim();
    if (retries !== '') {
      const n = Number(retries);
      if (!Number.isInteger(n) || n < 0 || n > 20) return fail('Retries must be a whole number from 0 to 20.', form.retry_count);
      body.retry_count = n;
    }
    const secret = form.secret.value.trim();
    if (secret) body.secret = secret;
    const headers = {};
    for (const line of form.headers.value.split('\n')) {
      if (!line.trim()) continue;
      const colon = line.indexOf(':');
      if (colon <= 0) return fail(`Header lines are "Name: value": ${line}`, form.headers);
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    body.headers = headers;
    const button = $('webhook-save');
    button.disabled = true;
    try {
      const saved = editing === null
        ? await api('POST', '/admin/webhooks', body)
        : await api('PUT', `/admin/webhooks/${editing}`, body);
      show($('webhook-editor'), false);
      setNotice($('webhooks-message'), 'ok', `${editing === null ? 'Created' : 'Saved'} ${saved.name}.`);
      editing = null;
      await loadWebhooks();
      $('webhooks-list').querySelector(`tr[data-id="${saved.id}"] a`)?.focus();
    } catch (error) {
      fail(error.message);
    } finally {
      button.disabled = false;
    }
  });

  // ---------------------------------------------------------------- deliveries

  let deliveriesFor = null;

  async function enterDeliveries(id) {
    deliveriesFor = id;
    clear($('deliveries-message'));
    $('deliveries-title').textContent = 'Delivery log';
    await loadDeliveries();
  }

  async function loadDeliveries() {
    const id = deliveriesFor;
    let hook;
    let deliveries;
    let attempts;
    try {
      [hook, { deliveries }, { attempts }] = await Promise.all([
        api('GET', `/admin/webhooks/${encodeURIComponent(id)}`),
        api('GET', `/admin/webhooks/${encodeURIComponent(id)}/deliveries`),
        api('GET', `/admin/webhooks/${encodeURIComponent(id)}/attempts`),
      ]);
    } catch (error) {
      if (error.status !== 401) {
        setNotice($('deliveries-message'), 'error', error.status === 404 ? 'No such webhook.' : `Could not load the log: ${error.message}`);
      }
      return;
    }
    if (id !== deliveriesFor) return;
    $('deliveries-title').textContent = `Delivery log: ${hook.name}`;
    document.title = `${hook.name} · Relay console`;
    const summary = $('deliveries-summary');
    clear(summary);
    summary.append(statusBadge(hook.status), ' ', h('span', { class: 'mono' }, hook.url),
      ` · events ${(hook.events || []).join(', ')}`,
      hook.last_error ? h('span', { class: 'problem-inline' }, ` · last error: ${cut(hook.last_error, 200)}`) : '');
    renderDeliveries(hook, deliveries || []);
    renderAttempts(attempts || []);
  }

  function statusCell(code, error) {
    if (code) return h('span', { class: `badge ${code >= 200 && code < 300 ? 'badge-ok' : 'badge-bad'}` }, String(code));
    if (error) return h('span', { class: 'badge badge-bad' }, 'error');
    return h('span', { class: 'muted' }, '–');
  }

  function attemptDetails(a) {
    return h('li', {},
      `#${a.number} `, statusCell(a.status_code, a.error),
      typeof a.response_time === 'number' ? ` ${a.response_time} ms` : '',
      ` · ${a.trigger || ''} · ${utc(a.created_at)}`,
      a.error ? h('div', { class: 'problem' }, a.error) : null,
      a.response ? h('pre', { class: 'excerpt' }, cut(a.response, 500)) : null);
  }

  function renderDeliveries(hook, deliveries) {
    const body = $('deliveries-list');
    clear(body);
    for (const d of deliveries) {
      const result = h('div', { class: 'row-result', role: 'status' });
      const canRedeliver = !['pending', 'in_flight'].includes(d.state);
      const redeliver = h('button', { type: 'button', class: 'btn btn-small', disabled: !canRedeliver, 'aria-label': `Redeliver delivery ${d.id}` }, 'Redeliver');
      redeliver.addEventListener('click', async () => {
        redeliver.disabled = true;
        try {
          await api('POST', `/admin/webhooks/${hook.id}/deliveries/${d.id}/redeliver`);
          setNotice($('deliveries-message'), 'ok', `Delivery ${d.id} queued again.`);
          setTimeout(loadDeliveries, 800);
        } catch (error) {
          redeliver.disabled = false;
          setNotice(result, 'error', error.message);
        }
      });
      const log = d.attempt_log || [];
      body.append(h('tr', { class: d.state === 'failed' ? 'failing' : '', 'data-id': d.id },
        h('td', { class: 'small' }, utc(d.created_at), d.finished_at ? h('div', { class: 'muted' }, `finished ${d.finished_at}`) : null,
          d.state === 'pending' || d.state === 'retrying' ? h('div', { class: 'muted' }, `next ${d.next_attempt_at}`) : null),
        h('td', { class: 'mono' }, d.event, h('div', { class: 'muted small' }, d.message_id)),
        h('td', {}, h('span', { class: `badge badge-${d.state}` }, d.state)),
        h('td', { class: 'num' }, `${d.attempts}/${d.max_attempts}`),
        h('td', {}, statusCell(d.last_status, d.last_error), d.last_error ? h('div', { class: 'problem small' }, cut(d.last_error, 200)) : null),
        h('td', {}, log.length
          ? h('details', {}, h('summary', {}, `${log.length} attempt${log.length === 1 ? '' : 's'}`), h('ol', { class: 'attempt-log plain' }, log.map(attemptDetails)))
          : h('span', { class: 'muted' }, 'none yet')),
        h('td', { class: 'actions' }, redeliver, result)));
    }
    show($('deliveries-empty'), deliveries.length === 0);
  }

  function renderAttempts(attempts) {
    const body = $('attempts-list');
    clear(body);
    for (const a of attempts) {

      body.append(h('tr', { class: a.error || (a.status_code && (a.status_code < 200 || a.status_code >= 300)) ? 'failing' : '' },
        h('td', { class: 'small' }, utc(a.created_at)),
        h('td', {}, h('span', { class: 'badge' }, a.trigger || '–'), h('span', { class: 'muted small' }, ` #${a.number}`)),
        h('td', {}, statusCell(a.status_code, a.error)),
        h('td', { class: 'num' }, typeof a.response_time === 'number' ? `${a.response_time} ms` : '–'),
        h('td', {},
          a.error ? h('div', { class: 'problem' }, cut(a.error, 300)) : null,
          a.response ? h('code', { class: 'excerpt' }, cut(a.response, 300)) : null,
          a.error || a.response ? null : h('span', { class: 'muted' }, 'empty response'))));
    }
    show($('attempts-empty'), attempts.length === 0);
  }

  $('deliveries-refresh').addEventListener('click', loadDeliveries);
  $('deliveries-test').addEventListener('click', async (e) => {
    const hook = { id: deliveriesFor, name: $('deliveries-title').textContent.replace(/^Delivery log: /, '') };
    await runTest(hook, e.currentTarget, $('deliveries-message'));
    await loadDeliveries();
  });
  $('recover-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = e.target.since;
    if (!input.value) {
      setNotice($('deliveries-message'), 'error', 'Pick a time to recover from.');
      input.focus();
      return;
    }
    const since = new Date(input.value);
    try {
      const r = await api('POST', `/admin/webhooks/${encodeURIComponent(deliveriesFor)}/recover`, { since: since.toISOString() });
      setNotice($('deliveries-message'), 'ok', `${fmt(r.queued)} deliveries queued again.`);
      setTimeout(loadDeliveries, 800);
    } catch (error) {
      setNotice($('deliveries-message'), 'error', `Could not recover: ${error.message}`);
    }
  });

  // ---------------------------------------------------------------- event sender

  async function enterSend() {
    try {
      await loadApps();
    } catch (error) {
      if (error.status !== 401) setNotice($('send-result'), 'error', `Could not load apps: ${error.message}`);
    }
  }

  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    const result = $('send-result');
    for (const f of form.elements) f.removeAttribute?.('aria-invalid');
    const invalid = (field, message) => {
      field.setAttribute('aria-invalid', 'true');
      setNotice(result, 'error', message);
      field.focus();
    };
    const appId = form.app.value;
    const channel = form.channel.value.trim();
    const event = form.event.value.trim();
    if (!appId) return invalid(form.app, 'No app to send to.');
    if (!channel) return invalid(form.channel, 'Enter a channel.');
    if (!event) return invalid(form.event, 'Enter an event name.');
    let data;
    try {
      data = JSON.parse(form.data.value.trim() || '{}');
    } catch (error) {
      return invalid(form.data, `Data is not valid JSON: ${error.message}`);
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const r = await api('POST', `/admin/apps/${encodeURIComponent(appId)}/events`, { channel, event, data });
      const n = r.delivered;
      setNotice(result, 'ok', h('strong', { class: 'delivered' }, `Delivered to ${fmt(n)} ${n === 1 ? 'connection' : 'connections'}`),
        ` — ${event} on ${channel} at ${new Date().toLocaleTimeString()}.`);
    } catch (error) {
      setNotice(result, 'error', `Not sent: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });

  // ---------------------------------------------------------------- start

  window.addEventListener('hashchange', route);
  route();
})();
