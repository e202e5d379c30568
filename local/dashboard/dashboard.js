// The embedded platform's dashboard: one ES module, no build step, no framework, nothing remote.
// Every piece of data reaches the page through textContent or a sanitized attribute, never innerHTML.

import { learningCharts } from './charts.js';

const POLL_MS = 2_000;
const TOKEN_KEY = 'runbook-autopilot.api-token';
const STATUS_CLASSES = new Set([
  'running',
  'paused',
  'succeeded',
  'failed',
  'aborted',
  'interrupted',
  'timed-out',
  'skipped',
  'dry-run',
  'compensated',
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
]);

// ---------------------------------------------------------------------------------------------------
// DOM building

/** Only http(s) and same-origin links: a `javascript:` URL in data must never become clickable. */
function safeUrl(value) {
  try {
    const url = new URL(String(value), window.location.origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}

/** What a link points at, short: the path on this platform, the whole URL elsewhere. */
function linkPath(value) {
  const href = safeUrl(value);
  if (href === '#') return String(value);
  const url = new URL(href);
  return url.origin === window.location.origin ? url.pathname : url.href;
}

/** Creates an element; props set attributes and listeners, children become text nodes unless they are nodes. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function')
      element.addEventListener(key.slice(2), value);
    else if (key === 'href') element.setAttribute('href', safeUrl(value));
    else if (key === 'vars')
      for (const [name, v] of Object.entries(value)) element.style.setProperty(name, v);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

function statusPill(status, label = status) {
  const known = STATUS_CLASSES.has(status) ? status : 'unknown';
  return h('span', { class: `pill status-${known}` }, label ?? 'unknown');
}

function timeElement(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, formatTime(iso));
}

function definitionList(rows) {
  const list = h('dl', { class: 'facts' });
  for (const [term, value] of rows) {
    if (value === undefined || value === null || value === '') continue;
    list.append(h('div', {}, h('dt', {}, term), h('dd', {}, value)));
  }
  return list;
}

function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

function tableOf(headers, rows, props = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      props,
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((header) => h('th', { scope: 'col' }, header)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

function cell(label, ...content) {
  // One wrapper, so the phone layout's label column stays a two-column grid whatever the content.
  return h('td', { 'data-label': label }, h('div', { class: 'cell' }, ...content));
}

// ---------------------------------------------------------------------------------------------------
// Formatting

function pad(value) {
  return String(value).padStart(2, '0');
}

function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = new Date();
  const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (date.toDateString() === today.toDateString()) return clock;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

function formatDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
}

function formatPercent(rate) {
  return rate === undefined || rate === null ? 'no data' : `${(rate * 100).toFixed(1)}%`;
}

function formatKb(bytes) {
  return bytes === undefined ? '—' : `${(bytes / 1024).toFixed(1)} KB`;
}

function elapsed(startIso, stopIso) {
  const start = Date.parse(startIso);
  const stop = stopIso ? Date.parse(stopIso) : Date.now();
  return Number.isNaN(start) || Number.isNaN(stop) ? undefined : Math.max(0, stop - start);
}

function resourceText(resource) {
  if (!resource) return '—';
  const where = [resource.cluster, resource.namespace, resource.region, resource.account].filter(Boolean);
  return `${resource.type} ${resource.id}${where.length ? ` (${where.join(', ')})` : ''}`;
}

// ---------------------------------------------------------------------------------------------------
// Dialogs (native <dialog>: focus trapped, Escape cancels)

/**
 * Asks the operator for confirmation and/or values. Resolves with the field values, or null when
 * cancelled. Fields: { name, label, type, required, placeholder, hint }.
 */
function ask({ title, message, fields = [], confirm = 'OK', danger = false }) {
  return new Promise((resolve) => {
    const inputs = fields.map((field) =>
      field.type === 'select'
        ? h(
            'select',
            { id: `dialog-${field.name}`, name: field.name, required: field.required ?? false },
            field.options.map((option) => h('option', { value: option.value }, option.label)),
          )
        : h('input', {
            id: `dialog-${field.name}`,
            name: field.name,
            type: field.type ?? 'text',
            required: field.required ?? false,
            placeholder: field.placeholder,
            value: field.value,
            autocomplete: 'off',
            maxlength: 1000,
          }),
    );
    const form = h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'dialog-title' }, title),
      message ? h('p', {}, message) : null,
      fields.map((field, index) =>
        h(
          'p',
          { class: 'field' },
          h('label', { for: `dialog-${field.name}` }, field.label),
          inputs[index],
          field.hint ? h('small', { class: 'muted' }, field.hint) : null,
        ),
      ),
      h(
        'div',
        { class: 'dialog-actions' },
        h(
          'button',
          { type: 'button', value: 'cancel', class: 'secondary', 'data-action': 'cancel' },
          'Cancel',
        ),
        h('button', { type: 'submit', value: 'confirm', class: danger ? 'danger' : 'primary' }, confirm),
      ),
    );
    const dialog = h('dialog', { 'aria-labelledby': 'dialog-title' }, form);
    form.querySelector('[data-action="cancel"]').addEventListener('click', () => dialog.close('cancel'));
    dialog.addEventListener('close', () => {
      const confirmed = dialog.returnValue === 'confirm';
      const values = Object.fromEntries(inputs.map((input) => [input.name, input.value.trim()]));
      dialog.remove();
      resolve(confirmed ? values : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (inputs[0] ?? form.querySelector('button[type="submit"]')).focus();
  });
}

// ---------------------------------------------------------------------------------------------------
// Messages

let noticeTimer;
function notice(text, kind = 'ok') {
  const element = document.getElementById('notice');
  element.textContent = text;
  element.className = `notice ${kind}`;
  element.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    element.hidden = true;
  }, 6_000);
}

/** The page-wide banner: the platform cannot be reached, or the API token is missing. */
function banner(text, action) {
  const element = document.getElementById('banner');
  if (!text) {
    element.hidden = true;
    element.replaceChildren();
    return;
  }
  element.replaceChildren(h('span', {}, text), action ?? null);
  element.hidden = false;
}

function errorBox(error) {
  return h(
    'p',
    { class: 'inline-error', role: 'alert' },
    error instanceof Error ? error.message : String(error),
  );
}

// ---------------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    /** The API's JSON answer, when it gave one (a 409 can carry what the operator must decide on). */
    this.body = body;
  }
}

// ---------------------------------------------------------------------------------------------------
// Where the page runs: the embedded platform (no sign-in), or a deployment behind sign-in (AWS)

/** From /dashboard-config.json: `embedded`, the `environment`, and `signIn` { authority, clientId, scopes }. */
const site = { embedded: true, environment: undefined, signIn: undefined };
/** Who the API says the caller is, and what they may do (GET /api/session). */
const session = { caller: undefined };

/** Whether the caller may: every permission until the API said otherwise (the API enforces it anyway). */
function can(permission) {
  return !session.caller || session.caller.permissions.includes(permission);
}

const ROLE_FOR = { operate: 'operators', approve: 'approvers', read: 'viewers' };

/** Disables a control the caller may not use, saying which group may. */
function gate(element, permission) {
  if (can(permission)) return element;
  element.disabled = true;
  element.title = `only ${ROLE_FOR[permission]} may do this`;
  return element;
}

const ID_TOKEN_KEY = 'runbook-autopilot.id-token';
const SIGN_IN_KEY = 'runbook-autopilot.sign-in';

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

function randomText(bytes) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The claims of a token (read only to know when it expires; the API verifies it). */
function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (char) => char.charCodeAt(0))));
  } catch {
    return undefined;
  }
}

/** The ID token of this tab's sign-in, while it has more than 30 s to live. */
function idToken() {
  const token = sessionStorage.getItem(ID_TOKEN_KEY);
  const claims = token ? tokenClaims(token) : undefined;
  if (!claims || typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now() + 30_000) return undefined;
  return token;
}

const redirectUri = () => `${window.location.origin}/`;

/** Sends the browser to the identity provider (authorization code with PKCE); never resolves. */
async function signIn() {
  const { authority, clientId, scopes } = site.signIn;
  const verifier = randomText(48);
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const state = randomText(24);
  sessionStorage.setItem(
    SIGN_IN_KEY,
    JSON.stringify({ verifier, state, back: `${window.location.pathname}${window.location.search}` }),
  );
  const url = new URL(`${authority.replace(/\/$/, '')}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: (scopes ?? ['openid', 'email', 'profile']).join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  window.location.assign(url.href);
  return new Promise(() => {});
}

/** Back from the identity provider with a code: exchanges it for the ID token, then goes where the person was. */
async function completeSignIn() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('code');
  const failure = url.searchParams.get('error');
  if (!code && !failure) return;
  const saved = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) ?? 'null');
  sessionStorage.removeItem(SIGN_IN_KEY);
  window.history.replaceState(null, '', saved?.back ?? '/');
  if (failure)
    throw new Error(
      `The sign-in failed: ${failure}${url.searchParams.get('error_description') ? ` (${url.searchParams.get('error_description')})` : ''}.`,
    );
  if (!saved || saved.state !== url.searchParams.get('state'))
    throw new Error('The sign-in answer does not belong to this tab’s request; sign in again.');
  const { authority, clientId } = site.signIn;
  const response = await fetch(`${authority.replace(/\/$/, '')}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: clientId,
      code,
      redirect_uri: redirectUri(),
      code_verifier: saved.verifier,
    }).toString(),
  });
  if (!response.ok) throw new Error(`The identity provider refused the sign-in (${response.status}).`);
  const tokens = await response.json();
  if (!tokens.id_token) throw new Error('The identity provider gave no ID token.');
  sessionStorage.setItem(ID_TOKEN_KEY, tokens.id_token);
}

function signOut() {
  sessionStorage.removeItem(ID_TOKEN_KEY);
  const { authority, clientId } = site.signIn;
  const url = new URL(`${authority.replace(/\/$/, '')}/logout`);
  url.search = new URLSearchParams({ client_id: clientId, logout_uri: redirectUri() }).toString();
  window.location.assign(url.href);
}

/** Who is signed in and what they may do, in the header; views re-render with their permissions. */
async function loadSession() {
  const box = document.getElementById('session');
  try {
    const { caller } = await api('/api/session');
    const changed = JSON.stringify(caller) !== JSON.stringify(session.caller);
    session.caller = caller;
    if (!site.signIn || !caller) return;
    box.replaceChildren(
      h('span', { class: 'who', title: `groups: ${caller.groups.join(', ') || 'none'}` }, caller.id),
      h('span', { class: 'tag' }, caller.roles.join(', ')),
      h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'),
    );
    box.hidden = false;
    if (changed) {
      renderKillSwitch({ ...killSwitch.state });
      render();
    }
  } catch (error) {
    box.replaceChildren(errorBox(error));
    box.hidden = false;
  }
}

let tokenPrompt;
let tokenRefused = false;

/** Asks once for the API token (the platform was started with --token); concurrent 401s share the dialog. */
function askToken(rejected) {
  if (tokenRefused) return Promise.resolve(null);
  tokenPrompt ??= ask({
    title: 'API token',
    message: rejected
      ? 'The platform did not accept that token. Enter the token `npx runbook serve --token …` was started with.'
      : 'This platform was started with --token. Enter the token to use the dashboard; it is kept for this tab only.',
    fields: [{ name: 'token', label: 'Token', type: 'password', required: true }],
    confirm: 'Use token',
  }).then((values) => {
    tokenPrompt = undefined;
    if (!values?.token) {
      tokenRefused = true;
      banner(
        'The API needs a token: the dashboard shows nothing until you enter it.',
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            onclick: () => {
              tokenRefused = false;
              banner();
              refreshAll();
            },
          },
          'Enter token',
        ),
      );
      return null;
    }
    sessionStorage.setItem(TOKEN_KEY, values.token);
    banner();
    return values.token;
  });
  return tokenPrompt;
}

/** The CSRF token the server embedded in this page (a meta element; the CSP allows no inline script). */
function csrfToken() {
  return document.querySelector('meta[name="runbook-csrf"]')?.getAttribute('content') ?? '';
}

/** Calls the API; on 401 asks for the token and retries; errors carry the API's own message. */
async function api(path, { method = 'GET', body, text = false } = {}) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const token = site.signIn ? (idToken() ?? (await signIn())) : sessionStorage.getItem(TOKEN_KEY);
    // Overrides made here are recorded as made from the dashboard (with the address and browser).
    const headers = { accept: text ? 'text/plain' : 'application/json', 'x-runbook-client': 'dashboard' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    // The page token the server put in this page: it refuses changes from a browser without it (CSRF).
    if (method !== 'GET') headers['x-runbook-csrf'] = csrfToken();
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        cache: 'no-store',
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ApiError(
        0,
        `the platform did not answer ${method} ${path} (${error.message}); is it still running?`,
      );
    }
    if (response.status === 401 && site.signIn) {
      // The sign-in expired or was refused: sign in again (the page leaves).
      sessionStorage.removeItem(ID_TOKEN_KEY);
      await signIn();
    }
    if (response.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      const entered = await askToken(Boolean(token));
      if (!entered) throw new ApiError(401, 'the API needs a token (the platform runs with --token)');
      continue;
    }
    const raw = await response.text();
    if (!response.ok) {
      let message = raw || response.statusText;
      let parsed;
      try {
        parsed = JSON.parse(raw);
        message = parsed.error ?? message;
      } catch {
        // Not JSON: the text is the message.
      }
      throw new ApiError(response.status, `${response.status} ${response.statusText}: ${message}`, parsed);
    }
    if (text) return raw;
    try {
      return JSON.parse(raw);
    } catch {
      throw new ApiError(response.status, `${method} ${path} answered something that is not JSON`);
    }
  }
  throw new ApiError(401, 'the API did not accept the token');
}

const executionPath = (id) => `/api/executions/${encodeURIComponent(id)}`;

// ---------------------------------------------------------------------------------------------------
// Polling: one loop per view, no overlapping requests, paused while the tab is hidden

const pollers = new Set();

function poll(task, interval = POLL_MS) {
  let timer;
  let busy = false;
  let stopped = false;
  const run = async () => {
    if (stopped || busy) return;
    if (document.hidden) {
      timer = setTimeout(run, interval);
      return;
    }
    busy = true;
    try {
      await task();
    } finally {
      busy = false;
      if (!stopped) timer = setTimeout(run, interval);
    }
  };
  const poller = {
    now() {
      clearTimeout(timer);
      run();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      pollers.delete(poller);
    },
  };
  pollers.add(poller);
  run();
  return poller;
}

function refreshAll() {
  for (const poller of pollers) poller.now();
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshAll();
});

/** Renders only when the data changed, keeping which <details> are open and where focus was. */
function stableRender(container, state, signature, build) {
  if (state.signature === signature) return;
  state.signature = signature;
  const focusedKey = document.activeElement?.closest?.('[data-key]')?.dataset.key;
  container.replaceChildren();
  append(container, [build()]);
  for (const details of container.querySelectorAll('details[data-key]')) {
    const open = state.open.get(details.dataset.key);
    if (open !== undefined) details.open = open;
    details.addEventListener('toggle', () => state.open.set(details.dataset.key, details.open));
  }
  if (focusedKey) {
    const target = [...container.querySelectorAll('[data-key]')].find(
      (node) => node.dataset.key === focusedKey,
    );
    const focusable = target?.matches('details')
      ? target.querySelector('summary')
      : target?.querySelector('a[href], button, summary');
    (focusable ?? target)?.focus?.();
  }
}

function renderState() {
  return { signature: undefined, open: new Map() };
}

// ---------------------------------------------------------------------------------------------------
// Kill switch (header, every page)

const killSwitch = { engaged: undefined, state: { engaged: false } };

function renderKillSwitch(state) {
  const bar = document.getElementById('topbar');
  const label = document.getElementById('kill-state');
  const button = document.getElementById('kill-toggle');
  killSwitch.engaged = state.engaged;
  killSwitch.state = state;
  bar.classList.toggle('engaged', state.engaged);
  const by = [
    state.changedBy && `by ${state.changedBy}`,
    state.changedAt && `at ${formatTime(state.changedAt)}`,
  ]
    .filter(Boolean)
    .join(' ');
  label.textContent = state.engaged
    ? `Kill switch ENGAGED${state.reason ? `: ${state.reason}` : ''}`
    : 'Kill switch released';
  label.title = by || '';
  label.dataset.engaged = String(state.engaged);
  button.textContent = state.engaged ? 'Release kill switch' : 'Engage kill switch';
  button.className = `kill-toggle ${state.engaged ? 'secondary' : 'danger'}`;
  button.disabled = false;
  button.title = '';
  gate(button, 'operate');
}

async function loadKillSwitch() {
  try {
    renderKillSwitch(await api('/api/kill-switch'));
    if (!tokenRefused) banner();
  } catch (error) {
    document.getElementById('kill-state').textContent = 'Kill switch: unknown';
    if (error.status === 0) banner(`${error.message} Retrying every ${POLL_MS / 1000} s.`);
  }
}

async function toggleKillSwitch() {
  const engage = !killSwitch.engaged;
  const values = await ask(
    engage
      ? {
          title: 'Engage the kill switch?',
          message:
            'Every running execution stops at its next checkpoint and no new automation starts until the switch is released.',
          fields: [
            {
              name: 'reason',
              label: 'Reason',
              required: true,
              placeholder: 'e.g. incident INC-123: hands off the cluster',
            },
          ],
          confirm: 'Engage kill switch',
          danger: true,
        }
      : {
          title: 'Release the kill switch?',
          message:
            'Held executions go on from their checkpoint (unless paused) and new alerts start runbooks again.',
          fields: [{ name: 'reason', label: 'Reason (optional)' }],
          confirm: 'Release kill switch',
        },
  );
  if (!values) return;
  try {
    const state = await api('/api/kill-switch', {
      method: 'POST',
      body: { engaged: engage, ...(values.reason ? { reason: values.reason } : {}) },
    });
    renderKillSwitch(state);
    notice(
      engage
        ? 'Kill switch engaged: executions hold at their next checkpoint.'
        : `Kill switch released${state.released ? `; ${state.released} held execution(s) go on` : ''}.`,
    );
    refreshAll();
  } catch (error) {
    notice(`The kill switch did not change: ${error.message}`, 'error');
  }
}

// ---------------------------------------------------------------------------------------------------
// Executions list and outbox (/)

function controlText(execution) {
  const parts = [];
  if (execution.control?.abortRequested) parts.push('abort requested');
  else if (execution.control?.pauseRequested) parts.push('pause requested');
  if (execution.heldCheckpoint) parts.push(`held before ${execution.heldCheckpoint.before}`);
  return parts.join('; ');
}

function executionRow(execution) {
  const href = `/executions/${encodeURIComponent(execution.id)}`;
  const control = controlText(execution);
  const row = h(
    'tr',
    { class: 'clickable', 'data-key': `row:${execution.id}` },
    cell(
      'Status',
      statusPill(execution.status),
      execution.dryRun ? h('span', { class: 'tag' }, 'dry run') : null,
    ),
    cell(
      'Runbook',
      h('a', { href, class: 'row-link' }, execution.runbookId),
      h('small', { class: 'muted block' }, execution.id),
    ),
    cell(
      'Alert',
      h('strong', {}, execution.alert?.name ?? '—'),
      h('small', { class: 'muted block' }, execution.alert?.severity ?? ''),
    ),
    cell('Resource', h('span', { class: 'wrap' }, resourceText(execution.alert?.resource))),
    cell('Environment', execution.environment),
    cell('Started', timeElement(execution.startedAt)),
    cell('Duration', formatDuration(elapsed(execution.startedAt, execution.stoppedAt))),
    cell(
      'Current state',
      h('code', {}, execution.currentState ?? '—'),
      control ? h('small', { class: 'warn block' }, control) : null,
    ),
  );
  row.addEventListener('click', (event) => {
    if (event.target.closest('a, button, summary')) return;
    navigate(href);
  });
  return row;
}

function notificationItem(notification) {
  return h(
    'li',
    { class: `notification kind-${notification.kind}`, 'data-key': `note:${notification.id}` },
    h(
      'div',
      { class: 'notification-head' },
      h('span', { class: 'tag' }, notification.kind),
      notification.severity ? h('span', { class: 'tag' }, notification.severity) : null,
      h('strong', {}, notification.subject),
    ),
    h(
      'div',
      { class: 'muted small' },
      `to ${(notification.to ?? []).join(', ')} · `,
      timeElement(notification.sentAt),
    ),
    notification.links?.length
      ? h(
          'div',
          { class: 'links' },
          notification.links.map((link) =>
            h('a', { href: link.url, class: 'button-link' }, link.label, ' → ', linkPath(link.url)),
          ),
        )
      : null,
    h(
      'details',
      { 'data-key': `note-text:${notification.id}` },
      h('summary', {}, 'Message'),
      h('pre', { class: 'message' }, notification.text),
    ),
  );
}

/** Approval requests first (they wait for someone), then the newest. */
function sortNotifications(notifications) {
  return [...notifications].sort((a, b) => {
    const approvalFirst = (b.kind === 'approval-request') - (a.kind === 'approval-request');
    return approvalFirst || String(b.sentAt).localeCompare(String(a.sentAt));
  });
}

function mountExecutions(main) {
  const list = h('div', { class: 'list-body' }, h('p', { class: 'muted' }, 'Loading executions…'));
  const listError = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load older executions');
  const outbox = h('div', {}, h('p', { class: 'muted' }, 'Loading the outbox…'));
  const outboxError = h('div');
  main.replaceChildren(
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'executions-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h1', { id: 'executions-title' }, 'Executions'),
        h('span', { class: 'live muted small' }, `live, every ${POLL_MS / 1000} s`),
      ),
      listError,
      list,
      more,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'outbox-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'outbox-title' }, 'Outbox'),
        h('span', { class: 'muted small' }, 'what the local notifier sent; approval requests first'),
      ),
      outboxError,
      outbox,
    ),
  );
  const listState = renderState();
  const outboxState = renderState();
  let older = [];
  let cursor;
  let firstCursor;

  function drawList(executions) {
    const rows = [...executions];
    const seen = new Set(rows.map((execution) => execution.id));
    for (const execution of older) if (!seen.has(execution.id)) rows.push(execution);
    more.hidden = !(older.length ? cursor : firstCursor);
    const running = rows.some((execution) => !execution.stoppedAt);
    stableRender(
      list,
      listState,
      // Running executions' durations tick: draw every poll while any runs.
      `${JSON.stringify(rows)}${running ? Date.now() : ''}`,
      () =>
        rows.length === 0
          ? h(
              'p',
              { class: 'empty' },
              'No executions yet. Post an alert to /webhooks/alertmanager or /events; ',
              h('code', {}, 'npx runbook demo'),
              ' shows one end to end.',
            )
          : tableOf(
              [
                'Status',
                'Runbook',
                'Alert',
                'Resource',
                'Environment',
                'Started',
                'Duration',
                'Current state',
              ],
              rows.map(executionRow),
              { class: 'executions' },
            ),
    );
  }

  let latest = [];
  const listPoller = poll(async () => {
    try {
      const page = await api('/api/executions?limit=50');
      latest = page.executions;
      firstCursor = page.cursor;
      listError.replaceChildren();
      drawList(latest);
    } catch (error) {
      listError.replaceChildren(errorBox(error));
      if (listState.signature === undefined) list.replaceChildren();
    }
  });
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const from = older.length ? cursor : firstCursor;
      const page = await api(`/api/executions?limit=50&cursor=${encodeURIComponent(from)}`);
      older = [...older, ...page.executions];
      cursor = page.cursor;
      drawList(latest);
    } catch (error) {
      listError.replaceChildren(errorBox(error));
    } finally {
      more.disabled = false;
    }
  });
  if (!site.embedded) {
    // On AWS notifications go out by SNS: there is no outbox to show.
    outbox.closest('section').remove();
    return () => listPoller.stop();
  }
  const outboxPoller = poll(async () => {
    try {
      const { notifications } = await api('/api/outbox?limit=20');
      outboxError.replaceChildren();
      stableRender(outbox, outboxState, JSON.stringify(notifications), () =>
        notifications.length === 0
          ? h('p', { class: 'empty' }, 'Nothing sent yet.')
          : h('ul', { class: 'notifications' }, sortNotifications(notifications).map(notificationItem)),
      );
    } catch (error) {
      outboxError.replaceChildren(errorBox(error));
      if (outboxState.signature === undefined) outbox.replaceChildren();
    }
  });
  return () => {
    listPoller.stop();
    outboxPoller.stop();
  };
}

// ---------------------------------------------------------------------------------------------------
// One execution (/executions/:id)

function stepTimeline(steps, execution) {
  if (steps.length === 0)
    return h(
      'p',
      { class: 'empty' },
      'No step has run yet.',
      execution.currentState ? ` Now at ${execution.currentState}.` : '',
    );
  const ordered = [...steps].sort(
    (a, b) => String(a.startedAt).localeCompare(String(b.startedAt)) || a.attempt - b.attempt,
  );
  const start = Date.parse(execution.startedAt);
  const ends = ordered.map((step) => Date.parse(step.finishedAt ?? '') || Date.now());
  const end = Math.max(Date.parse(execution.stoppedAt ?? '') || 0, ...ends, start + 1);
  const span = Math.max(1, end - start);
  return h(
    'ol',
    { class: 'timeline' },
    ordered.map((step) => {
      const key = `${step.stepId}:${step.kind}:${step.attempt}`;
      const duration = step.durationMs ?? elapsed(step.startedAt, step.finishedAt);
      const offset = Math.min(100, Math.max(0, ((Date.parse(step.startedAt) - start) / span) * 100));
      const width = Math.max(0.8, Math.min(100 - offset, ((duration ?? 0) / span) * 100));
      return h(
        'li',
        {
          class: `step step-${STATUS_CLASSES.has(step.status) ? step.status : 'unknown'}`,
          'data-key': `step:${key}`,
        },
        h(
          'div',
          { class: 'step-head' },
          statusPill(step.status),
          h('strong', { class: 'step-name' }, step.name),
          h('code', {}, step.stepId),
          h('span', { class: 'duration' }, formatDuration(duration)),
        ),
        h(
          'div',
          { class: 'step-meta muted small' },
          [
            step.phase && `phase ${step.phase}`,
            step.kind,
            step.tool,
            `attempt ${step.attempt}`,
            `risk ${step.risk}`,
            step.mutating ? 'mutating' : 'read-only',
            step.dryRun ? 'dry run' : '',
            step.outputTruncated ? 'output truncated' : '',
          ]
            .filter(Boolean)
            .join(' · '),
          ' · started ',
          timeElement(step.startedAt),
        ),
        h(
          'div',
          {
            class: 'bar-track',
            role: 'img',
            'aria-label': `${formatDuration(duration)}, from ${formatDuration(Date.parse(step.startedAt) - start)} after the start`,
          },
          h('div', { class: 'bar', vars: { '--offset': `${offset}%`, '--width': `${width}%` } }),
        ),
        step.reason ? h('p', { class: 'small' }, `Why: ${step.reason}`) : null,
        step.error
          ? h(
              'details',
              { class: 'error-details', open: true, 'data-key': `error:${key}` },
              h('summary', {}, `Error: ${step.error.name}`),
              h('pre', { class: 'message' }, step.error.message),
            )
          : null,
        h(
          'details',
          { 'data-key': `parameters:${key}` },
          h('summary', {}, `Parameters (${Object.keys(step.parameters ?? {}).length})`),
          json(step.parameters ?? {}),
        ),
        step.output === undefined
          ? null
          : h('details', { 'data-key': `output:${key}` }, h('summary', {}, 'Output'), json(step.output)),
      );
    }),
  );
}

function approvalCard(approval, notifications) {
  const path = `/approvals/${encodeURIComponent(approval.id)}`;
  const links = notifications
    .filter((notification) => notification.kind === 'approval-request')
    .flatMap((notification) =>
      (notification.links ?? [])
        .filter((link) => {
          try {
            return new URL(link.url, window.location.origin).pathname === path;
          } catch {
            return false;
          }
        })
        .map((link) => ({ ...link, to: notification.to.join(', ') })),
    );
  return h(
    'article',
    { class: 'approval', 'data-key': `approval:${approval.id}` },
    h(
      'div',
      { class: 'step-head' },
      statusPill(approval.status),
      h('strong', {}, approval.requirement),
      h('span', { class: 'muted' }, `${approval.target.kind} ${approval.target.id}`),
    ),
    definitionList([
      ['Risk', approval.risk],
      ['Quorum', `${approval.quorum} of ${approval.approvers.length}`],
      ['Approvers', approval.approvers.join(', ')],
      ['Groups', approval.approverGroups.join(', ')],
      ['Requested', timeElement(approval.requestedAt)],
      ['Expires', timeElement(approval.expiresAt)],
      ['Decided', approval.decidedAt ? timeElement(approval.decidedAt) : undefined],
    ]),
    approval.decisions.length
      ? h(
          'ul',
          { class: 'decisions' },
          approval.decisions.map((decision) =>
            h(
              'li',
              {},
              h('span', { class: `pill decision-${decision.decision}` }, decision.decision),
              ` ${decision.approver} at `,
              timeElement(decision.at),
              decision.comment ? h('q', {}, decision.comment) : null,
            ),
          ),
        )
      : h('p', { class: 'muted small' }, 'No decision yet.'),
    approval.status === 'pending' && site.signIn
      ? decideButtons(approval)
      : approval.status === 'pending'
        ? links.length
          ? h(
              'div',
              { class: 'links' },
              links.map((link) =>
                h('a', { href: link.url, class: 'button-link primary' }, `${link.label} (${link.to})`),
              ),
            )
          : h(
              'p',
              { class: 'muted small' },
              'The approval links are in the approvers’ e-mail (not in the local outbox).',
            )
        : null,
    h(
      'details',
      { 'data-key': `plan:${approval.id}` },
      h('summary', {}, `Plan (${approval.plan.length} step(s))`),
      h(
        'ol',
        {},
        approval.plan.map((step) =>
          h('li', {}, h('strong', {}, step.name), ` ${step.tool}, risk ${step.risk} `, json(step.parameters)),
        ),
      ),
    ),
  );
}

/** A signed-in approver named by the approval decides here, as themselves. */
function decideButtons(approval) {
  const email = session.caller?.email;
  if (!email || !approval.approvers.includes(email))
    return h(
      'p',
      { class: 'muted small' },
      'The approvers named above decide here when signed in, or through the link in their e-mail.',
    );
  const result = h('p', { class: 'action-result', role: 'status', 'aria-live': 'polite' });
  const decide = async (decision) => {
    const values = await ask({
      title: decision === 'approve' ? 'Approve this request?' : 'Reject this request?',
      message:
        decision === 'approve'
          ? `The runbook goes on with ${approval.target.kind} ${approval.target.id} once ${approval.quorum} approver(s) agreed.`
          : 'The runbook rolls back what it did and hands over to the on-call engineer.',
      fields: [{ name: 'comment', label: 'Comment (optional)' }],
      confirm: decision === 'approve' ? 'Approve' : 'Reject',
      danger: decision === 'reject',
    });
    if (!values) return;
    try {
      const answer = await api(`/api/approvals/${encodeURIComponent(approval.id)}/decision`, {
        method: 'POST',
        body: { decision, ...(values.comment ? { comment: values.comment } : {}) },
      });
      result.className = 'action-result ok';
      result.textContent = answer.settled
        ? `${decision === 'approve' ? 'Approved' : 'Rejected'}: the runbook goes on.`
        : 'Your decision is recorded; more approvals are needed.';
      refreshAll();
    } catch (error) {
      result.className = 'action-result error';
      result.textContent = `Not recorded: ${error.message}`;
    }
  };
  return h(
    'div',
    { class: 'controls' },
    gate(
      h('button', { type: 'button', class: 'primary', onclick: () => decide('approve') }, 'Approve…'),
      'approve',
    ),
    gate(
      h('button', { type: 'button', class: 'danger', onclick: () => decide('reject') }, 'Reject…'),
      'approve',
    ),
    result,
  );
}

/** Rollbacks asked for this execution, with what each undid. */
function rollbackSection(rollbacks) {
  if (!rollbacks?.length) return null;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'rollbacks-title' },
    h('h2', { id: 'rollbacks-title' }, `Rollbacks (${rollbacks.length})`),
    rollbacks.map((rollback) =>
      h(
        'article',
        { class: 'approval', 'data-key': `rollback:${rollback.id}` },
        h(
          'div',
          { class: 'step-head' },
          statusPill(
            rollback.status === 'requested' || rollback.status === 'awaiting-approval'
              ? 'pending'
              : rollback.status === 'running'
                ? 'running'
                : rollback.status === 'rejected' || rollback.status === 'refused'
                  ? 'cancelled'
                  : rollback.status,
            rollback.status,
          ),
          h(
            'strong',
            {},
            rollback.rollbackPoint === 'start'
              ? 'to before any change'
              : `to after ${rollback.rollbackPoint}`,
          ),
          h('code', { class: 'muted' }, rollback.id),
        ),
        definitionList([
          ['Asked by', `${rollback.requestedBy}${rollback.reason ? `: ${rollback.reason}` : ''}`],
          ['Asked', timeElement(rollback.requestedAt)],
          ['Approval', rollback.approval.because],
          ['Finished', rollback.finishedAt ? timeElement(rollback.finishedAt) : undefined],
          ['Why', rollback.cause],
        ]),
        h(
          'ol',
          {},
          rollback.changes.map((change) => {
            const result = rollback.results?.find((entry) => entry.stepId === change.stepId);
            return h(
              'li',
              {},
              h('strong', {}, `Undo ${change.name}`),
              ` (${change.stepId}, ${change.compensation.tool}) `,
              result ? statusPill(result.status) : null,
              result?.message ? h('small', { class: 'muted block' }, result.message) : null,
            );
          }),
        ),
      ),
    ),
  );
}

function executionHead(detail) {
  const { execution } = detail;
  return h(
    'div',
    { class: 'exec-head' },
    h(
      'h1',
      { id: 'execution-title' },
      `${execution.runbookId} `,
      h('small', { class: 'muted' }, `v${execution.runbookVersion}`),
    ),
    statusPill(execution.status),
    execution.dryRun ? h('span', { class: 'tag' }, 'dry run') : null,
    h('code', { class: 'exec-id' }, execution.id),
    reportLink(execution.id),
  );
}

/**
 * The incident report (Markdown) of an execution: fetched through the API (so a signed-in session's
 * token goes with it) and saved as a file; the href works on its own where the API needs no token.
 */
function reportLink(executionId) {
  const href = `${executionPath(executionId)}/report`;
  const link = h(
    'a',
    { href, class: 'button-link', id: 'report-link', download: `incident-report-${executionId}.md` },
    'Report',
  );
  link.addEventListener('click', async (event) => {
    event.preventDefault();
    try {
      const markdown = await api(href, { text: true });
      const file = h('a', { download: `incident-report-${executionId}.md` });
      file.href = URL.createObjectURL(new Blob([markdown], { type: 'text/markdown' }));
      document.body.append(file);
      file.click();
      file.remove();
    } catch (error) {
      link.title = error.message;
      link.textContent = 'Report (failed: see tooltip)';
    }
  });
  return link;
}

function executionBody(detail, notifications, rollbacks) {
  const { execution, incident, steps, approvals } = detail;
  const alert = incident?.alert ?? execution.alert;
  const outcome = execution.outcome;
  const control = controlText(execution);
  return [
    h(
      'section',
      { class: 'panel grid-2' },
      h(
        'div',
        {},
        h('h2', {}, 'Execution'),
        definitionList([
          ['Status', statusPill(execution.status)],
          ['Environment', execution.environment],
          ['Started', timeElement(execution.startedAt)],
          ['Stopped', execution.stoppedAt ? timeElement(execution.stoppedAt) : 'still running'],
          ['Duration', formatDuration(elapsed(execution.startedAt, execution.stoppedAt))],
          ['Current state', h('code', {}, execution.currentState ?? '—')],
          ['Control', control || undefined],
          [
            'Requested by',
            execution.control?.requestedBy
              ? `${execution.control.requestedBy}${execution.control.reason ? `: ${execution.control.reason}` : ''}`
              : undefined,
          ],
          ['Error', outcome?.error ? h('code', {}, outcome.error) : undefined],
          ['Cause', outcome?.cause],
          [
            'Outcome',
            outcome
              ? [
                  outcome.rolledBack ? 'rolled back' : 'not rolled back',
                  outcome.rollbackFailed ? 'rollback FAILED' : '',
                  outcome.escalated ? 'escalated' : '',
                  outcome.humanIntervention ? 'a human acted' : 'no human needed',
                  outcome.timeToRecoverMs !== undefined
                    ? `recovered in ${formatDuration(outcome.timeToRecoverMs)}`
                    : '',
                ]
                  .filter(Boolean)
                  .join(' · ')
              : undefined,
          ],
          // Reorderable phases: the order this run used and on what basis (the reasons are in the API).
          [
            'Step order',
            execution.stepOrder
              ? Object.values(execution.stepOrder)
                  .map(
                    (order) =>
                      `${order.phase}: ${order.steps.map((step) => step.stepId).join(' → ')} (${order.basis}${order.stoppedAfter ? `, stopped after ${order.stoppedAfter}` : ''})`,
                  )
                  .join('; ')
              : undefined,
          ],
        ]),
      ),
      h(
        'div',
        {},
        h('h2', {}, 'Alert and incident'),
        definitionList([
          ['Alert', h('strong', {}, `${alert.name} (${alert.severity}, ${alert.status})`)],
          ['Summary', alert.summary],
          ['Description', alert.description],
          ['Source', alert.source],
          ['Resource', resourceText(alert.resource)],
          ['Alert started', timeElement(alert.startsAt)],
          ['Fingerprint', h('code', {}, alert.fingerprint)],
          ['Incident', incident ? h('code', {}, incident.id) : execution.incidentId],
          [
            'Incident state',
            incident
              ? `${incident.status}, ${incident.priority}, ${incident.category}, decision ${incident.decision}, seen ${incident.occurrences}×`
              : undefined,
          ],
          // A run that started after waiting for another's change lock keeps why it waited.
          [incident?.decision === 'blocked' ? 'Blocked' : 'Deferred first', incident?.blockedReason],
          ['First seen', incident ? timeElement(incident.firstSeenAt) : undefined],
          ['Last seen', incident ? timeElement(incident.lastSeenAt) : undefined],
          [
            'Source link',
            alert.generatorURL ? h('a', { href: alert.generatorURL, rel: 'noreferrer' }, 'graph') : undefined,
          ],
        ]),
        alert.labels
          ? h(
              'details',
              { 'data-key': 'labels' },
              h('summary', {}, `Labels (${Object.keys(alert.labels).length})`),
              json(alert.labels),
            )
          : null,
        alert.annotations && Object.keys(alert.annotations).length
          ? h(
              'details',
              { 'data-key': 'annotations' },
              h('summary', {}, 'Annotations'),
              json(alert.annotations),
            )
          : null,
      ),
    ),
    likelyCausePanel(detail),
    predictionPanel(detail),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'steps-title' },
      h('h2', { id: 'steps-title' }, `Steps (${steps.length} attempt${steps.length === 1 ? '' : 's'})`),
      stepTimeline(steps, execution),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'approvals-title' },
      h('h2', { id: 'approvals-title' }, `Approvals (${approvals.length})`),
      approvals.length
        ? approvals.map((approval) => approvalCard(approval, notifications))
        : h('p', { class: 'empty' }, 'No approval was requested.'),
    ),
    rollbackSection(rollbacks),
    notifications.length
      ? h(
          'section',
          { class: 'panel', 'aria-labelledby': 'sent-title' },
          h('h2', { id: 'sent-title' }, 'Notifications sent'),
          h('ul', { class: 'notifications' }, sortNotifications(notifications).map(notificationItem)),
        )
      : null,
  ];
}

// ---------------------------------------------------------------------------------------------------
// Likely cause and predictions (GET /api/executions/:id's likelyCauses, findings and predictions)

const CAUSE_RULES = {
  time: 'came shortly before the alert',
  'shared-dependency': 'shared by several failing resources',
  history: 'came before earlier verified fixes',
};

function causeEvidence(finding) {
  const fields = Object.entries(finding.evidence?.fields ?? {})
    .map(([name, value]) => `${name}=${JSON.stringify(value)}`)
    .join(', ');
  return h(
    'li',
    {},
    finding.summary,
    h(
      'div',
      { class: 'muted' },
      `step ${finding.evidence?.stepId} (${finding.evidence?.tool}) · `,
      h('code', {}, finding.evidence?.path ?? ''),
      fields ? ` · ${fields}` : '',
    ),
  );
}

/** The ranked likely causes, conclusion first; the findings each rests on fold out. */
function likelyCausePanel(detail) {
  const causes = detail.likelyCauses;
  if (!Array.isArray(causes)) return null;
  const about = detail.explanation;
  const base = about
    ? about.history.sameSignature === 0
      ? `No earlier run of ${about.signature} to compare with.`
      : `Compared with ${about.history.sameSignature} earlier run(s) of ${about.signature}, ${about.history.verifiedRemediations} fixed and verified.`
    : '';
  return h(
    'section',
    { class: 'panel likely-cause', 'aria-labelledby': 'likely-cause-title', 'data-panel': 'likely-cause' },
    h('h2', { id: 'likely-cause-title' }, 'Likely cause'),
    causes.length
      ? h(
          'ol',
          { class: 'causes' },
          causes.map((cause, index) =>
            h(
              'li',
              { class: 'cause', 'data-kind': cause.kind },
              h(index === 0 ? 'strong' : 'span', { class: 'conclusion' }, cause.conclusion),
              h(
                'div',
                { class: 'muted' },
                [
                  `score ${cause.score.toFixed(2)}`,
                  ...cause.rules.map((rule) => CAUSE_RULES[rule] ?? rule),
                ].join(' · '),
              ),
              h(
                'details',
                { 'data-key': `cause-${index}` },
                h('summary', {}, `Evidence (${cause.findings.length})`),
                h('ul', {}, cause.findings.map(causeEvidence)),
              ),
            ),
          ),
        )
      : h(
          'p',
          { class: 'empty' },
          (detail.findings ?? []).length
            ? 'No finding stands out.'
            : 'The diagnostics that have run so far found nothing abnormal.',
        ),
    base ? h('p', { class: 'muted' }, base) : null,
  );
}

function predictionRange(low, high, format) {
  return `${format(low)}–${format(high)}`;
}

/** What each step not yet run will likely do: success and duration with their 90% intervals. */
function predictionPanel(detail) {
  const predictions = detail.predictions;
  if (!Array.isArray(predictions) || predictions.length === 0) return null;
  const percent = (value) => `${Math.round(value * 100)}%`;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'predictions-title', 'data-panel': 'predictions' },
    h('h2', { id: 'predictions-title' }, 'Predictions for the steps not yet run'),
    tableOf(
      ['Step', 'Success (90% interval)', 'Duration (90% interval)', 'Rests on'],
      predictions.map((prediction) =>
        h(
          'tr',
          { 'data-step': prediction.stepId },
          cell('Step', prediction.name, h('div', { class: 'muted' }, h('code', {}, prediction.stepId))),
          cell(
            'Success',
            `${percent(prediction.success.probability)} (${predictionRange(prediction.success.interval.low, prediction.success.interval.high, percent)})`,
          ),
          cell(
            'Duration',
            prediction.durationMs
              ? `${formatDuration(prediction.durationMs.expectedMs)} (${predictionRange(prediction.durationMs.interval.low, prediction.durationMs.interval.high, formatDuration)})`
              : 'not measured yet',
          ),
          cell('Rests on', prediction.restsOn),
        ),
      ),
    ),
  );
}

/** Asks whether to run again a change an interruption cut short, showing it and its target's state. */
function confirmRepeat(change, answer) {
  const state = answer.currentState
    ? `Its target now (${answer.currentState.tool}): ${JSON.stringify(answer.currentState.state).slice(0, 600)}`
    : (answer.currentStateUnavailable ?? 'Its target could not be read: check it by hand.');
  return ask({
    title: 'Run the interrupted change again?',
    message: `The platform stopped while ${change.kind} ${change.stepId} (${change.tool} ${JSON.stringify(change.parameters).slice(0, 300)}) was running, started ${change.startedAt}. Running it again repeats it: ${change.repeats}. ${state}`,
    confirm: 'Run it again',
    danger: true,
  }).then((values) => values !== null && values !== undefined);
}

function mountExecution(main, id) {
  const head = h('div', {}, h('h1', { id: 'execution-title' }, 'Execution ', h('code', {}, id)));
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const loadError = h('div');
  const result = h('p', { class: 'action-result', role: 'status', 'aria-live': 'polite' });
  const headState = renderState();
  const bodyState = renderState();
  let poller;

  async function act(action, payload) {
    result.className = 'action-result';
    result.textContent = `${action}…`;
    try {
      const answer = await api(`${executionPath(id)}/${action}`, { method: 'POST', body: payload ?? {} });
      const execution = answer.execution ?? {};
      result.className = 'action-result ok';
      result.textContent = `${action} accepted: the execution is ${execution.status ?? 'updated'}${controlText(execution) ? ` (${controlText(execution)})` : ''}.`;
      poller.now();
    } catch (error) {
      const change = error.body?.interruptedChange;
      if (action === 'resume' && error.status === 409 && change && !payload?.repeatInterruptedChange) {
        result.textContent = '';
        if (await confirmRepeat(change, error.body)) return act('resume', { repeatInterruptedChange: true });
        result.textContent = 'resume cancelled: the interrupted change was not run again.';
        return;
      }
      result.className = 'action-result error';
      result.textContent = `${action} refused: ${error.message}`;
    }
  }

  /** Shows what each point would undo, asks which, then asks for the rollback. */
  async function rollBack() {
    result.className = 'action-result';
    result.textContent = 'reading what a rollback would undo…';
    try {
      const plan = await api(`${executionPath(id)}/rollback`);
      if (!plan.canRollBack) {
        result.className = 'action-result error';
        result.textContent = `No rollback: ${plan.why}`;
        return;
      }
      result.textContent = '';
      const points = plan.points.filter((point) => point.undoes.length > 0);
      const values = await ask({
        title: 'Roll back this execution?',
        message: `The changes after the point you choose are undone in reverse by their compensations${plan.approval.requiredForAll ? `; undoing ${plan.approval.requiredFromRisk}-risk changes waits for an approval` : ''}.${plan.cannotUndo.length ? ` No compensation undoes ${plan.cannotUndo.join(', ')}: a point before it is refused.` : ''}`,
        fields: [
          {
            name: 'rollbackPoint',
            label: 'Keep everything up to',
            type: 'select',
            required: true,
            options: points.map((point) => ({
              value: point.id,
              label: `${point.label} — undoes ${point.undoes.join(', ')}`,
            })),
          },
          { name: 'reason', label: 'Reason', required: true, placeholder: 'why it must be undone' },
        ],
        confirm: 'Roll back',
        danger: true,
      });
      if (!values) return;
      const { rollback } = await api(`${executionPath(id)}/rollback`, {
        method: 'POST',
        body: { rollbackPoint: values.rollbackPoint, reason: values.reason },
      });
      result.className = 'action-result ok';
      result.textContent = `rollback ${rollback.id} requested: undoes ${rollback.changes.map((change) => change.stepId).join(', ')}${rollback.approval.required ? '; it waits for an approval' : ''}.`;
      poller.now();
    } catch (error) {
      result.className = 'action-result error';
      result.textContent = `rollback refused: ${error.message}`;
    }
  }

  const controls = h(
    'div',
    { class: 'controls', role: 'group', 'aria-label': 'Execution controls' },
    gate(
      h('button', { type: 'button', class: 'secondary', onclick: () => act('pause') }, 'Pause'),
      'operate',
    ),
    gate(
      h('button', { type: 'button', class: 'secondary', onclick: () => act('resume') }, 'Resume'),
      'operate',
    ),
    gate(
      h(
        'button',
        {
          type: 'button',
          class: 'danger',
          onclick: async () => {
            const values = await ask({
              title: 'Abort this execution?',
              message:
                'The running step is stopped, pending approvals are cancelled and the completed steps are compensated in reverse order.',
              fields: [{ name: 'reason', label: 'Reason', required: true, placeholder: 'why it must stop' }],
              confirm: 'Abort execution',
              danger: true,
            });
            if (values) await act('abort', { reason: values.reason });
          },
        },
        'Abort…',
      ),
      'operate',
    ),
    gate(h('button', { type: 'button', class: 'secondary', onclick: rollBack }, 'Roll back…'), 'operate'),
    result,
  );
  main.replaceChildren(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '/' }, '← Executions')),
    head,
    controls,
    loadError,
    body,
  );
  poller = poll(async () => {
    try {
      const [detail, outbox, trail] = await Promise.all([
        api(executionPath(id)),
        site.embedded
          ? api(`/api/outbox?limit=100&executionId=${encodeURIComponent(id)}`)
          : { notifications: [] },
        auditEvents(new URLSearchParams({ execution: id })),
      ]);
      // Rollbacks exist only for finished executions.
      const rollbacks = detail.execution.stoppedAt
        ? await api(`${executionPath(id)}/rollback`).then(
            (plan) => plan.rollbacks,
            () => [],
          )
        : [];
      loadError.replaceChildren();
      document.title = `${detail.execution.runbookId} ${detail.execution.status} · runbook-autopilot`;
      const running = !detail.execution.stoppedAt;
      const signature = `${JSON.stringify([detail, outbox.notifications, trail.events, rollbacks, session.caller])}${running ? Date.now() : ''}`;
      stableRender(head, headState, JSON.stringify(detail.execution), () => executionHead(detail));
      stableRender(body, bodyState, signature, () => [
        ...executionBody(detail, outbox.notifications, rollbacks),
        executionAuditPanel(trail.events, id),
      ]);
    } catch (error) {
      loadError.replaceChildren(errorBox(error));
      if (bodyState.signature === undefined) body.replaceChildren();
    }
  });
  return () => poller.stop();
}

// ---------------------------------------------------------------------------------------------------
// Runbooks (/runbooks, /runbooks?id=…)

let mermaidLoading;
function loadMermaid() {
  mermaidLoading ??= new Promise((resolve, reject) => {
    const script = h('script', { src: '/assets/mermaid.min.js' });
    script.addEventListener('load', () => {
      const mermaid = window.mermaid;
      if (!mermaid) {
        reject(new Error('/assets/mermaid.min.js loaded but defined no mermaid'));
        return;
      }
      mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', flowchart: { useMaxWidth: false } });
      resolve(mermaid);
    });
    script.addEventListener('error', () => {
      mermaidLoading = undefined;
      reject(new Error('could not load /assets/mermaid.min.js'));
    });
    document.head.append(script);
  });
  return mermaidLoading;
}

let graphCounter = 0;
async function renderGraph(container, id, isCurrent) {
  container.replaceChildren(h('p', { class: 'muted' }, 'Rendering the graph…'));
  try {
    const [mermaid, text] = await Promise.all([
      loadMermaid(),
      api(`/api/runbooks/${encodeURIComponent(id)}/graph`, { text: true }),
    ]);
    const { svg } = await mermaid.render(`runbook-graph-${++graphCounter}`, text);
    if (!isCurrent()) return;
    // mermaid (securityLevel strict) sanitizes its SVG; parse it into nodes rather than assigning HTML.
    const parsed = new DOMParser().parseFromString(svg, 'text/html').querySelector('svg');
    if (!parsed) throw new Error('mermaid produced no SVG');
    parsed.setAttribute('role', 'img');
    parsed.setAttribute('aria-label', `State machine of runbook ${id}`);
    const scroller = h(
      'div',
      { class: 'graph-scroll fit', tabindex: 0, 'aria-label': 'Graph (scrollable)' },
      document.importNode(parsed, true),
    );
    const zoom = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Actual size');
    zoom.addEventListener('click', () => {
      const fit = scroller.classList.toggle('fit');
      zoom.setAttribute('aria-pressed', String(!fit));
      zoom.textContent = fit ? 'Actual size' : 'Fit to width';
    });
    container.replaceChildren(
      h(
        'div',
        { class: 'graph-tools' },
        zoom,
        h('span', { class: 'muted small' }, 'Solid arrows: the normal path; dotted: errors caught.'),
      ),
      scroller,
      h('details', {}, h('summary', {}, 'Mermaid source'), h('pre', { class: 'message' }, text)),
    );
  } catch (error) {
    if (isCurrent())
      container.replaceChildren(errorBox(`The graph of ${id} could not be shown: ${error.message}`));
  }
}

/** Asks for the resource, the parameters and why, then starts the runbook by hand. */
async function startByHand(runbook) {
  const parameters = Object.entries(runbook.parameters ?? {});
  const values = await ask({
    title: `Start ${runbook.name ?? runbook.id} by hand?`,
    message:
      'It runs for the resource you name, through the same gates as an alert: the kill switch, the limits, the environment and its approvals.',
    fields: [
      {
        name: 'resourceType',
        label: 'Resource type',
        required: true,
        placeholder: 'k8s-deployment, ec2-instance…',
      },
      { name: 'resourceId', label: 'Resource id', required: true, placeholder: 'name, instance id, ARN…' },
      { name: 'namespace', label: 'Namespace (Kubernetes)' },
      { name: 'name', label: 'Object name' },
      ...parameters.map(([name, parameter]) => ({
        name: `parameter:${name}`,
        label: `${name} (${parameter.type}): ${parameter.description}`,
        placeholder: `default ${Array.isArray(parameter.default) ? parameter.default.join(',') : parameter.default}`,
      })),
      { name: 'reason', label: 'Reason', required: true, placeholder: 'why it must run now' },
    ],
    confirm: 'Start',
  });
  if (!values) return;
  const given = Object.fromEntries(
    parameters.map(([name]) => [name, values[`parameter:${name}`]]).filter(([, value]) => value !== ''),
  );
  try {
    const started = await api(`/api/runbooks/${encodeURIComponent(runbook.id)}/start`, {
      method: 'POST',
      body: {
        resource: {
          type: values.resourceType,
          id: values.resourceId,
          ...(values.namespace ? { namespace: values.namespace } : {}),
          ...(values.name ? { name: values.name } : {}),
        },
        parameters: given,
        reason: values.reason,
      },
    });
    notice(`${runbook.id} started: execution ${started.executionId}.`);
    navigate(`/executions/${encodeURIComponent(started.executionId)}`);
  } catch (error) {
    notice(`${runbook.id} was not started: ${error.message}`, 'error');
  }
}

function runbookRow(runbook, selected) {
  const invalid = runbook.problems.length > 0;
  const budgets = runbook.budgets;
  return h(
    'tr',
    {
      class: invalid ? 'invalid' : '',
      'aria-current': selected ? 'true' : undefined,
      'data-key': `runbook:${runbook.id}`,
    },
    cell(
      'Runbook',
      h('a', { href: `/runbooks?id=${encodeURIComponent(runbook.id)}` }, runbook.name ?? runbook.id),
      h('small', { class: 'muted block' }, runbook.id),
    ),
    cell('Version', runbook.version ?? '—'),
    cell('Category', runbook.category ?? '—'),
    cell(
      'Environments',
      (runbook.environments ?? []).map((environment) => h('span', { class: 'tag' }, environment)),
    ),
    cell(
      'Problems',
      invalid
        ? [
            h('span', { class: 'pill status-failed' }, 'invalid, not run'),
            h(
              'ul',
              { class: 'problems' },
              runbook.problems.map((problem) => h('li', {}, problem)),
            ),
          ]
        : h('span', { class: 'pill status-succeeded' }, 'valid'),
    ),
    cell(
      'Budgets',
      budgets
        ? h(
            'span',
            { class: 'small' },
            `definition ${formatKb(budgets.definitionBytes)} of 1 MB · ${budgets.historyEvents} history events of 25,000 · payload ${formatKb(budgets.payloadBytes)} of 256 KB · ${formatKb(budgets.outputBudgetBytes)} per step output`,
          )
        : '—',
    ),
    cell(
      'Run',
      invalid
        ? '—'
        : gate(
            h(
              'button',
              { type: 'button', class: 'secondary', onclick: () => startByHand(runbook) },
              'Start…',
            ),
            'operate',
          ),
    ),
  );
}

function mountRunbooks(main, selectedId, isCurrent) {
  const listBox = h('div', {}, h('p', { class: 'muted' }, 'Loading runbooks…'));
  const graphBox = h('div');
  const graphSection = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'graph-title', hidden: !selectedId },
    h('h2', { id: 'graph-title' }, 'State machine: ', h('code', {}, selectedId ?? '')),
    graphBox,
  );
  main.replaceChildren(
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'runbooks-title' },
      h('div', { class: 'section-head' }, h('h1', { id: 'runbooks-title' }, 'Runbooks')),
      listBox,
    ),
    graphSection,
  );
  api('/api/runbooks')
    .then(({ runbooks }) => {
      if (!isCurrent()) return;
      const invalid = runbooks.filter((runbook) => runbook.problems.length > 0).length;
      listBox.replaceChildren(
        h(
          'p',
          { class: 'muted small' },
          `${runbooks.length} runbook(s)${invalid ? `, ${invalid} invalid (listed, not run)` : ', all valid'}. Select one to see its compiled state machine.`,
        ),
        tableOf(
          ['Runbook', 'Version', 'Category', 'Environments', 'Problems', 'Budgets', 'Run'],
          runbooks.map((runbook) => runbookRow(runbook, runbook.id === selectedId)),
          { class: 'runbooks' },
        ),
      );
      const selected = runbooks.find((runbook) => runbook.id === selectedId);
      if (selectedId && selected?.problems.length)
        graphBox.replaceChildren(errorBox(`${selectedId} is invalid, so it has no compiled state machine.`));
    })
    .catch((error) => isCurrent() && listBox.replaceChildren(errorBox(error)));
  if (selectedId) {
    renderGraph(graphBox, selectedId, isCurrent);
    if (isCurrent.navigated) graphSection.scrollIntoView({ block: 'start' });
  }
  return () => {};
}

// ---------------------------------------------------------------------------------------------------
// Learning (/learning)

function targetStatus(met) {
  if (met === true) return h('span', { class: 'pill status-succeeded' }, 'met');
  if (met === false) return h('span', { class: 'pill status-failed' }, 'not met');
  return h('span', { class: 'pill status-unknown' }, 'no data');
}

function measuredDuration(ms) {
  return ms === undefined ? 'no data' : formatDuration(ms);
}

/** Applies a proposed promotion: only a person does, with who recorded (the server answers 409 without evidence). */
async function promoteRunbook(runbook) {
  const values = await ask({
    title: `Promote ${runbook.runbookId} to ${runbook.proposal.to}?`,
    message: `Evidence: ${runbook.proposal.reason}.`,
    fields: [
      { name: 'by', label: 'Your name or e-mail (recorded)', required: true },
      { name: 'reason', label: 'Reason (optional)' },
    ],
    confirm: `Promote to ${runbook.proposal.to}`,
  });
  if (!values) return;
  try {
    const answer = await api(`/api/automation/${encodeURIComponent(runbook.runbookId)}/promote`, {
      method: 'POST',
      body: { by: values.by, channel: 'dashboard', ...(values.reason ? { reason: values.reason } : {}) },
    });
    notice(`${runbook.runbookId} promoted: ${answer.change.from} → ${answer.change.to}.`);
    refreshAll();
  } catch (error) {
    notice(`${runbook.runbookId} was not promoted: ${error.message}`, 'error');
  }
}

/** Closes a runbook's open circuit breaker: only a person does, with who recorded (409 when it is not open). */
async function closeBreaker(breaker) {
  const values = await ask({
    title: `Close the circuit breaker of ${breaker.runbookId}?`,
    message: `It opened ${breaker.openedAt}: ${breaker.reason}. Once closed, its alerts start it again.`,
    fields: [
      { name: 'by', label: 'Your name or e-mail (recorded)', required: true },
      { name: 'reason', label: 'What was fixed (recorded)' },
    ],
    confirm: 'Close the breaker',
  });
  if (!values) return;
  try {
    await api(`/api/circuit-breakers/${encodeURIComponent(breaker.runbookId)}/close`, {
      method: 'POST',
      body: { by: values.by, ...(values.reason ? { reason: values.reason } : {}) },
    });
    notice(`The circuit breaker of ${breaker.runbookId} is closed.`);
    refreshAll();
  } catch (error) {
    notice(`The circuit breaker of ${breaker.runbookId} was not closed: ${error.message}`, 'error');
  }
}

/** Every runbook's circuit breaker: open ones refuse new executions until a person closes them. */
function breakerPanel(circuitBreakers) {
  if (!circuitBreakers) return null;
  const { policy } = circuitBreakers;
  const open = circuitBreakers.breakers.filter((breaker) => breaker.state === 'open');
  const recent = circuitBreakers.breakers.filter((breaker) => breaker.state === 'closed' && breaker.closedAt);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'breakers-title' },
    h('h2', { id: 'breakers-title' }, `Circuit breakers (${open.length} open)`),
    h(
      'p',
      { class: 'muted small' },
      policy.enabled
        ? `${policy.failures} failed runs of one runbook within ${formatDuration(policy.within * 1000)} open its breaker; while open, its alerts start nothing and go to people.`
        : 'Off in this environment (policy.watch.circuitBreaker.enabled).',
    ),
    open.length || recent.length
      ? tableOf(
          ['Runbook', 'State', 'Why', 'Since', ''],
          [...open, ...recent].map((breaker) =>
            h(
              'tr',
              { 'data-breaker': breaker.runbookId },
              cell('Runbook', breaker.runbookId),
              cell('State', h('span', { class: `pill breaker-${breaker.state}` }, breaker.state)),
              cell(
                'Why',
                breaker.state === 'open'
                  ? breaker.reason
                  : `closed by ${breaker.closedBy}${breaker.closeReason ? `: ${breaker.closeReason}` : ''}`,
              ),
              cell('Since', timeElement(breaker.state === 'open' ? breaker.openedAt : breaker.closedAt)),
              cell(
                '',
                breaker.state === 'open'
                  ? gate(
                      h(
                        'button',
                        {
                          type: 'button',
                          class: 'primary',
                          'data-action': 'close-breaker',
                          onclick: () => closeBreaker(breaker),
                        },
                        'Close',
                      ),
                      'operate',
                    )
                  : null,
              ),
            ),
          ),
          { class: 'circuit-breakers' },
        )
      : h('p', { class: 'empty' }, 'No breaker has opened.'),
  );
}

/** Levels, who had to step in, dry runs apart, safety incidents and coverage (the report's automation part). */
function automationPanels(automation, stat) {
  if (!automation) return [];
  const split = automation.involvement;
  const track = (name, runs) =>
    h(
      'li',
      {},
      `${name}: ${runs.runs} run(s), diagnostics ok ${runs.diagnosticsSucceeded}, would have changed ${runs.wouldHaveChanged}, dry-run changes ok ${runs.changesValidated}` +
        (name === 'shadow'
          ? `; cleared on its own ${runs.clearedOnItsOwn}, by a human ${runs.clearedByAHuman}, still firing ${runs.stillFiring}`
          : ''),
    );
  return [
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'involvement-title' },
      h('h2', { id: 'involvement-title' }, `Who had to step in (${split.realRuns} real runs)`),
      h(
        'div',
        { class: 'stats' },
        stat('a human acted', formatPercent(split.humanActedRate)),
        stat('approval only', formatPercent(split.approvalOnlyRate)),
        stat('no human', formatPercent(split.noHumanRate)),
        stat('coverage', formatPercent(automation.coverage.rate)),
        stat('safety incidents', String(automation.safetyIncidents.length)),
      ),
      h(
        'ul',
        { class: 'small' },
        track('shadow', automation.dryRuns.shadow),
        track('observe', automation.dryRuns.observe),
        h(
          'li',
          {},
          `coverage: ${automation.coverage.taken} of ${automation.coverage.alertsSeen} new alerts taken by a runbook (${automation.coverage.blocked} blocked, ${automation.coverage.unmatched} unmatched)`,
        ),
      ),
      automation.safetyIncidents.length
        ? h(
            'ul',
            { class: 'safety-incidents' },
            automation.safetyIncidents.map((incident) =>
              h(
                'li',
                {},
                timeElement(incident.at),
                ` ${incident.kind}: `,
                h(
                  'a',
                  { href: `/executions/${encodeURIComponent(incident.executionId)}` },
                  incident.executionId,
                ),
                ` ${incident.description}`,
              ),
            ),
          )
        : null,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'levels-title' },
      h('h2', { id: 'levels-title' }, `Automation levels in ${automation.environment}`),
      tableOf(
        ['Runbook', 'Level', 'Bound by', 'Evidence since set', 'Promotion'],
        automation.runbooks.map((runbook) =>
          h(
            'tr',
            { 'data-runbook': runbook.runbookId },
            cell('Runbook', runbook.runbookId),
            cell(
              'Level',
              h('span', { class: `pill level-${runbook.effective.level}` }, runbook.effective.level),
            ),
            cell(
              'Bound by',
              runbook.effective.boundBy === 'evidence' && runbook.lastChange
                ? `${runbook.lastChange.cause} by ${runbook.lastChange.by.id}`
                : runbook.effective.boundBy.replace('-', ' '),
            ),
            cell(
              'Evidence since set',
              `${runbook.evidence.succeeded} of ${runbook.evidence.runs} verified${runbook.evidence.lowerBound === undefined ? '' : `, at least ${formatPercent(runbook.evidence.lowerBound)}`}`,
            ),
            cell(
              'Promotion',
              runbook.proposal
                ? [
                    h(
                      'span',
                      { class: 'small' },
                      `${runbook.proposal.from} → ${runbook.proposal.to}: ${runbook.proposal.reason} `,
                    ),
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'primary',
                        'data-action': 'promote',
                        onclick: () => promoteRunbook(runbook),
                      },
                      'Promote',
                    ),
                  ]
                : h('span', { class: 'muted small' }, runbook.noProposal ?? ''),
            ),
          ),
        ),
        { class: 'automation-levels' },
      ),
    ),
  ];
}

function learningBody(report) {
  const totals = report.totals;
  const stat = (label, value) =>
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-value' }, value),
      h('span', { class: 'stat-label' }, label),
    );
  return [
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'totals-title' },
      h('h2', { id: 'totals-title' }, 'Totals'),
      h(
        'div',
        { class: 'stats' },
        stat('executions', String(totals.executions)),
        stat('succeeded', String(totals.succeeded)),
        stat('succeeded with no human', formatPercent(totals.withoutHumanRate)),
        stat('needed a human', formatPercent(totals.humanInterventionRate)),
        stat('rollbacks', String(totals.rollbacks)),
        stat('rollbacks that worked', formatPercent(totals.rollbackSuccessRate)),
        stat('mean time to recover', measuredDuration(totals.meanTimeToRecoverMs)),
        stat('mean approval wait', measuredDuration(totals.meanApprovalWaitMs)),
      ),
    ),
    breakerPanel(report.circuitBreakers),
    ...automationPanels(report.automation, stat),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'targets-title' },
      h('h2', { id: 'targets-title' }, 'Design targets, as measured'),
      tableOf(
        ['Target', 'Goal', 'Measured', 'Status'],
        report.targets.map((target) =>
          h(
            'tr',
            { class: 'target' },
            cell('Target', target.target),
            cell('Goal', target.goal),
            cell('Measured', target.measured),
            cell('Status', targetStatus(target.met)),
          ),
        ),
        { class: 'targets' },
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'suggestions-title' },
      h('h2', { id: 'suggestions-title' }, 'Suggestions'),
      report.suggestions.length
        ? h(
            'ul',
            { class: 'suggestions' },
            report.suggestions.map((suggestion) => h('li', {}, suggestion)),
          )
        : h('p', { class: 'empty' }, 'No suggestions yet: they come with more executions.'),
    ),
    learningCharts(report),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'per-runbook-title' },
      h('h2', { id: 'per-runbook-title' }, 'Per runbook'),
      report.runbooks.length
        ? [
            tableOf(
              [
                'Runbook',
                'Runs',
                'Succeeded',
                'Failed',
                'Aborted',
                'Success rate',
                'No human',
                'Rollbacks',
                'MTTR',
                'Approvals',
              ],
              report.runbooks.map((runbook) =>
                h(
                  'tr',
                  {},
                  cell(
                    'Runbook',
                    h(
                      'a',
                      { href: `/runbooks?id=${encodeURIComponent(runbook.runbookId)}` },
                      runbook.runbookId,
                    ),
                  ),
                  cell('Runs', String(runbook.executions)),
                  cell('Succeeded', String(runbook.succeeded)),
                  cell('Failed', String(runbook.failed)),
                  cell('Aborted', String(runbook.aborted)),
                  cell('Success rate', formatPercent(runbook.successRate)),
                  cell('No human', String(runbook.withoutHuman)),
                  cell(
                    'Rollbacks',
                    `${runbook.rollbacks}${runbook.rollbackFailures ? ` (${runbook.rollbackFailures} failed)` : ''}`,
                  ),
                  cell('MTTR', measuredDuration(runbook.meanTimeToRecoverMs)),
                  cell(
                    'Approvals',
                    `${runbook.approvalsAnswered ?? 0}/${runbook.approvalsRequested ?? 0} answered${runbook.meanApprovalWaitMs !== undefined ? `, ${formatDuration(runbook.meanApprovalWaitMs)} mean` : ''}`,
                  ),
                ),
              ),
              { class: 'learning-runbooks' },
            ),
            report.runbooks.map((runbook) =>
              h(
                'details',
                { 'data-key': `learn:${runbook.runbookId}`, class: 'runbook-stats' },
                h('summary', {}, `${runbook.runbookId}: steps, alerts, suggestions`),
                runbook.steps.length
                  ? tableOf(
                      ['Step', 'Runs', 'Failures', 'Skipped', 'Mean', 'p90', 'p99'],
                      runbook.steps.map((step) =>
                        h(
                          'tr',
                          {},
                          cell('Step', h('code', {}, step.stepId)),
                          cell('Runs', String(step.runs)),
                          cell('Failures', String(step.failures)),
                          cell('Skipped', String(step.skipped)),
                          cell('Mean', formatDuration(step.meanDurationMs)),
                          cell('p90', formatDuration(step.p90DurationMs)),
                          cell(
                            'p99',
                            step.p99DurationMs === undefined ? '—' : formatDuration(step.p99DurationMs),
                          ),
                        ),
                      ),
                    )
                  : h('p', { class: 'muted' }, 'No step statistics yet.'),
                h(
                  'ul',
                  { class: 'small' },
                  Object.entries(runbook.byAlert ?? {}).map(([name, entry]) =>
                    h('li', {}, `${name}: ${entry.succeeded} of ${entry.executions} succeeded`),
                  ),
                ),
                runbook.suggestions.length
                  ? h(
                      'ul',
                      { class: 'suggestions' },
                      runbook.suggestions.map((suggestion) => h('li', {}, suggestion)),
                    )
                  : h('p', { class: 'muted small' }, 'No suggestion for this runbook.'),
              ),
            ),
          ]
        : h('p', { class: 'empty' }, 'No finished execution yet.'),
    ),
    report.unmatched?.length
      ? h(
          'section',
          { class: 'panel', 'aria-labelledby': 'unmatched-title' },
          h('h2', { id: 'unmatched-title' }, 'Alerts no runbook matched'),
          tableOf(
            ['Alert', 'Source', 'Seen', 'Last seen'],
            report.unmatched.map((alert) =>
              h(
                'tr',
                {},
                cell('Alert', alert.name),
                cell('Source', alert.source),
                cell('Seen', `${alert.count}×`),
                cell('Last seen', timeElement(alert.lastSeenAt)),
              ),
            ),
          ),
        )
      : null,
  ];
}

function mountLearning(main) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading the learning report…'));
  const loadError = h('div');
  const generated = h('span', { class: 'muted small' });
  const state = renderState();
  main.replaceChildren(
    h('div', { class: 'section-head page-head' }, h('h1', {}, 'Learning'), generated),
    loadError,
    body,
  );
  const poller = poll(async () => {
    try {
      const report = await api('/api/learning');
      loadError.replaceChildren();
      generated.textContent = `report of ${formatTime(report.generatedAt)}`;
      const { generatedAt: _generatedAt, ...content } = report;
      stableRender(body, state, JSON.stringify(content), () => learningBody(report));
    } catch (error) {
      loadError.replaceChildren(errorBox(error));
      if (state.signature === undefined) body.replaceChildren();
    }
  }, 5_000);
  return () => poller.stop();
}

// ---------------------------------------------------------------------------------------------------
// Coverage (/coverage)

const DECISION_LABELS = {
  remediation: 'remediation',
  investigation: 'investigation',
  ignored: 'ignored on purpose',
  unmatched: 'unmatched',
};

function coverageTotals(totals) {
  return definitionList([
    ['Alerts taken', `${totals.taken} of ${totals.alerts} (${totals.takenPercent}%)`],
    ['Remediation', String(totals.remediation)],
    ['Investigation', String(totals.investigation)],
    ['Ignored on purpose', String(totals.ignored)],
    ['Unmatched', String(totals.unmatched)],
    [
      'Alerts that deserve a remediation',
      `${totals.remediationList.remediated} of ${totals.remediationList.alerts} have one (${totals.remediationList.percent}%)`,
    ],
  ]);
}

function coverageBody(report, filter) {
  const unmatchedSeen = report.unmatchedSeen ?? [];
  const rows = report.rows.filter((row) => filter === 'all' || row.decision === filter);
  return h(
    'div',
    {},
    h('section', { class: 'panel', 'aria-label': 'Totals' }, coverageTotals(report.totals)),
    h(
      'section',
      { class: 'panel', 'aria-label': 'Unmatched alerts seen' },
      h('h2', {}, 'Unmatched alerts seen'),
      unmatchedSeen.length === 0
        ? h('p', { class: 'muted' }, 'No alert has arrived that no runbook takes.')
        : tableOf(
            ['Alert', 'Source', 'Times', 'Last seen', 'Resource'],
            unmatchedSeen.map((entry) =>
              h(
                'tr',
                {},
                cell('Alert', entry.name),
                cell('Source', entry.source),
                cell('Times', String(entry.count)),
                cell('Last seen', timeElement(entry.lastSeenAt)),
                cell('Resource', resourceText(entry.lastAlert?.resource)),
              ),
            ),
            { class: 'unmatched-seen' },
          ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-label': 'Built-in catalog' },
      h('h2', {}, 'The built-in catalog'),
      h(
        'p',
        { class: 'muted small' },
        `kube-prometheus-stack's default rules and AWS's recommended alarms, one realistic alert each, against the served runbooks (environment ${report.environment}); the same as npx runbook coverage.`,
      ),
      tableOf(
        ['Alert', 'Source', 'Taken', 'Runbook', 'Resource'],
        rows.map((row) =>
          h(
            'tr',
            { class: `coverage-${row.decision}` },
            cell(
              'Alert',
              row.alert,
              row.remediationExpected && row.decision !== 'remediation'
                ? h('span', { class: 'muted small' }, ' (a remediation is expected)')
                : '',
            ),
            cell('Source', row.source),
            cell(
              'Taken',
              statusPill(
                row.decision === 'unmatched'
                  ? 'failed'
                  : row.decision === 'ignored'
                    ? 'skipped'
                    : 'succeeded',
                DECISION_LABELS[row.decision],
              ),
            ),
            cell(
              'Runbook',
              row.runbookId
                ? h('a', { href: `/runbooks?id=${encodeURIComponent(row.runbookId)}` }, row.runbookId)
                : '—',
            ),
            cell('Resource', row.resource),
          ),
        ),
        { class: 'coverage-rows' },
      ),
    ),
  );
}

function mountCoverage(main) {
  let filter = 'all';
  let report;
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading coverage…'));
  const loadError = h('div');
  const filters = h(
    'div',
    { class: 'filters', role: 'group', 'aria-label': 'Show' },
    ['all', 'remediation', 'investigation', 'unmatched', 'ignored'].map((value) =>
      h(
        'button',
        {
          type: 'button',
          class: 'filter',
          'data-filter': value,
          'aria-pressed': value === filter ? 'true' : 'false',
          onclick: () => {
            filter = value;
            for (const button of filters.querySelectorAll('button'))
              button.setAttribute('aria-pressed', button.dataset.filter === filter ? 'true' : 'false');
            if (report) body.replaceChildren(coverageBody(report, filter));
          },
        },
        value === 'all' ? 'All' : DECISION_LABELS[value],
      ),
    ),
  );
  main.replaceChildren(
    h('div', { class: 'section-head page-head' }, h('h1', {}, 'Coverage'), filters),
    loadError,
    body,
  );
  const state = renderState();
  const poller = poll(async () => {
    try {
      report = await api('/api/coverage');
      loadError.replaceChildren();
      stableRender(body, state, `${filter}|${JSON.stringify(report)}`, () => coverageBody(report, filter));
    } catch (error) {
      loadError.replaceChildren(errorBox(error));
      if (state.signature === undefined) body.replaceChildren();
    }
  }, 5_000);
  return () => poller.stop();
}

// ---------------------------------------------------------------------------------------------------
// Audit trail (/audit?execution=…|resource=…|actor=…|platform=true; a panel on each execution's page)

const AUDIT_SELECTORS = [
  ['execution', 'Execution', 'an execution id'],
  ['resource', 'Resource', 'a resource key, e.g. k8s-node/prod-eks/ip-10-0-1-23'],
  ['actor', 'Person', 'who acted: alice@example.com (or classifier, step-runner…)'],
  ['platform', 'Platform', 'kill switch and other platform-wide overrides'],
];

/** Who acted: a person with where from, or a component of the platform. */
function auditActor(event) {
  const actor = event.actor ?? {};
  if (actor.type !== 'person') return h('span', { class: 'muted' }, actor.id ?? '?');
  const source = actor.source ?? {};
  const where = [source.channel, source.ip, source.identity].filter(Boolean).join(' · ');
  return h(
    'span',
    {},
    h('strong', {}, actor.id),
    where ? h('small', { class: 'muted audit-source', title: source.userAgent ?? '' }, ` ${where}`) : null,
  );
}

/** What happened, in words (the same words as `runbook audit`). */
function auditWhat(event) {
  switch (event.kind) {
    case 'alert.received':
      return `alert ${event.alert?.name} ${event.alert?.status}${event.decision ? `: ${event.decision}` : ''}${event.deliveries ? ` (${event.deliveries} deliveries, the last at ${event.lastAt})` : ''}`;
    case 'runbook.selected':
      return event.selected
        ? `selected ${event.selected.runbookId} (rule ${event.selected.rule}, score ${Number(event.selected.score).toFixed(2)}) of ${event.candidates.length} candidate(s)`
        : `no runbook selected of ${event.candidates.length} candidate(s)`;
    case 'gate.verdict':
      return `${event.gate} gate ${event.verdict}: ${event.reason}`;
    case 'execution.started':
      return `execution started (${event.trigger}${event.dryRun ? ', dry run' : ''}${event.changeFreeze ? ', change freeze' : ''})`;
    case 'execution.finished':
      return `execution ${event.status}${event.error ? ` (${event.error})` : ''}${event.rolledBack ? ', rolled back' : ''}${event.escalated ? ', escalated' : ''}`;
    case 'execution.escalated':
      return `escalated to ${event.to.join(', ')}: ${event.reason}`;
    case 'approval.requested':
      return `approval requested for ${event.target.kind} ${event.target.id} (risk ${event.risk}, quorum ${event.quorum} of ${event.approvers.join(', ')})`;
    case 'approval.decided':
      return `${event.decision === 'approve' ? 'approved' : 'rejected'}${event.comment ? `: ${event.comment}` : ''} (now ${event.status})`;
    case 'approval.closed':
      return `approval ${event.status}`;
    case 'change.started':
      return `${event.stepKind} ${event.stepId} started: ${event.tool}`;
    case 'change.finished':
      return `${event.stepKind} ${event.stepId} ${event.status}${event.error ? `: ${event.error.name} ${event.error.message}` : ''}`;
    default: {
      const what = event.kind.replace(/^override\./, '').replace(/\./g, ' ');
      return `${what} ${event.result ?? ''}${event.refusal ? `: ${event.refusal}` : ''}${event.reason ? ` (${event.reason})` : ''}`;
    }
  }
}

/** The details worth opening: a change's parameters and result, a selection's candidates, a gate's facts. */
function auditDetails(event) {
  const details =
    event.kind === 'runbook.selected'
      ? event.candidates
      : event.kind === 'change.started'
        ? event.parameters
        : event.kind === 'change.finished'
          ? { parameters: event.parameters, output: event.output }
          : event.details;
  if (details === undefined) return null;
  return h('details', { 'data-key': `audit:${event.id}` }, h('summary', {}, 'details'), json(details));
}

function auditTable(events, { showExecution }) {
  if (events.length === 0) return h('p', { class: 'empty' }, 'Nothing recorded.');
  return tableOf(
    ['#', 'When', 'Who', ...(showExecution ? ['Execution'] : []), 'What'],
    events.map((event, index) =>
      h(
        'tr',
        { class: `audit-${event.kind.replace(/\./g, '-')}`, 'data-kind': event.kind },
        cell('#', String(index + 1)),
        cell('When', timeElement(event.at)),
        cell('Who', auditActor(event)),
        showExecution
          ? cell(
              'Execution',
              event.executionId
                ? h('a', { href: `/executions/${encodeURIComponent(event.executionId)}` }, event.executionId)
                : h('span', { class: 'muted' }, event.incidentId ?? event.trail),
            )
          : null,
        cell('What', h('span', { class: 'audit-what' }, auditWhat(event)), auditDetails(event)),
      ),
    ),
    { class: 'audit' },
  );
}

function auditQuery(selector, value, since) {
  const query = new URLSearchParams();
  query.set(selector, selector === 'platform' ? 'true' : value);
  if (since) query.set('since', since);
  return query;
}

/** Every page of one audit query (the trail of one execution is short; a person's may not be). */
async function auditEvents(query, max = 5_000) {
  const events = [];
  let cursor;
  do {
    const page = await api(
      `/api/audit?${query}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    events.push(...page.events);
    cursor = page.cursor;
  } while (cursor && events.length < max);
  return { events, more: Boolean(cursor) };
}

function mountAudit(main) {
  const url = new URL(window.location.href);
  const initial = AUDIT_SELECTORS.find(([name]) => url.searchParams.has(name))?.[0] ?? 'execution';
  const select = h(
    'select',
    { id: 'audit-selector', name: 'selector' },
    AUDIT_SELECTORS.map(([name, label]) => h('option', { value: name, selected: name === initial }, label)),
  );
  const value = h('input', {
    id: 'audit-value',
    name: 'value',
    type: 'text',
    autocomplete: 'off',
    maxlength: 512,
    value: initial === 'platform' ? '' : (url.searchParams.get(initial) ?? ''),
  });
  const since = h('input', {
    id: 'audit-since',
    name: 'since',
    type: 'text',
    autocomplete: 'off',
    placeholder: '2024-05-02T17:00:00Z (optional)',
    value: url.searchParams.get('since') ?? '',
  });
  const hint = h('small', { class: 'muted', id: 'audit-hint' });
  const syncHint = () => {
    const chosen = AUDIT_SELECTORS.find(([name]) => name === select.value);
    hint.textContent = chosen[2];
    value.disabled = select.value === 'platform';
    value.required = select.value !== 'platform';
  };
  select.addEventListener('change', syncHint);
  syncHint();
  const results = h('div', {}, h('p', { class: 'muted' }, 'Name an execution, a resource or a person.'));
  const summary = h('p', { class: 'muted small', role: 'status', 'aria-live': 'polite' });
  const exportButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Export JSON lines');
  let shown = [];
  exportButton.addEventListener('click', () => {
    const lines = shown.map((event) => `${JSON.stringify(event)}\n`).join('');
    const link = h('a', {
      download: `audit-${select.value}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`,
    });
    link.href = URL.createObjectURL(new Blob([lines], { type: 'application/x-ndjson' }));
    document.body.append(link);
    link.click();
    link.remove();
  });
  const form = h(
    'form',
    { class: 'audit-form', role: 'search', 'aria-label': 'Audit trail' },
    h('p', { class: 'field' }, h('label', { for: 'audit-selector' }, 'Of'), select),
    h('p', { class: 'field' }, h('label', { for: 'audit-value' }, 'Which'), value, hint),
    h('p', { class: 'field' }, h('label', { for: 'audit-since' }, 'Since'), since),
    h('p', { class: 'field' }, h('button', { type: 'submit', class: 'primary' }, 'Show')),
  );
  async function load() {
    if (select.value !== 'platform' && !value.value.trim()) return;
    const query = auditQuery(select.value, value.value.trim(), since.value.trim());
    summary.textContent = 'Loading…';
    try {
      const { events, more } = await auditEvents(query);
      shown = events;
      summary.textContent = `${events.length} event(s)${more ? ' (the first 5,000; export with npx runbook audit for all)' : ''}, oldest first`;
      results.replaceChildren(auditTable(events, { showExecution: select.value !== 'execution' }));
      exportButton.hidden = events.length === 0;
    } catch (error) {
      shown = [];
      summary.textContent = '';
      exportButton.hidden = true;
      results.replaceChildren(errorBox(error));
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = auditQuery(select.value, value.value.trim(), since.value.trim());
    window.history.replaceState(null, '', `/audit?${query}`);
    load();
  });
  main.replaceChildren(
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'audit-title' },
      h(
        'div',
        { class: 'section-head' },
        h('h1', { id: 'audit-title' }, 'Audit trail'),
        h('span', { class: 'muted small' }, 'every decision and human action, never changed'),
      ),
      form,
      h('div', { class: 'section-head' }, summary, exportButton),
      results,
    ),
  );
  if (AUDIT_SELECTORS.some(([name]) => url.searchParams.has(name))) load();
  return () => {};
}

/** The execution page's own trail, refreshed with the page. */
function executionAuditPanel(events, id) {
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'audit-trail-title' },
    h(
      'div',
      { class: 'section-head' },
      h('h2', { id: 'audit-trail-title' }, `Audit trail (${events.length})`),
      h('a', { href: `/audit?execution=${encodeURIComponent(id)}` }, 'open in the audit view'),
    ),
    auditTable(events, { showExecution: false }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Routing (history API)

function currentRoute() {
  const url = new URL(window.location.href);
  const execution = /^\/executions\/([^/]+)\/?$/.exec(url.pathname);
  if (execution) return { section: 'executions', view: 'execution', id: decodeURIComponent(execution[1]) };
  if (url.pathname === '/runbooks' || url.pathname === '/runbooks/')
    return { section: 'runbooks', view: 'runbooks', id: url.searchParams.get('id') ?? undefined };
  if (url.pathname === '/learning') return { section: 'learning', view: 'learning' };
  if (url.pathname === '/coverage') return { section: 'coverage', view: 'coverage' };
  if (url.pathname === '/audit') return { section: 'audit', view: 'audit' };
  return { section: 'executions', view: 'executions' };
}

/** Paths this page draws itself; anything else (approval pages, the API) is a real navigation. */
function isAppPath(url) {
  return (
    url.origin === window.location.origin &&
    (url.pathname === '/' ||
      url.pathname === '/runbooks' ||
      url.pathname === '/learning' ||
      url.pathname === '/coverage' ||
      url.pathname === '/audit' ||
      /^\/executions\/[^/]+$/.test(url.pathname))
  );
}

let unmount = () => {};
let generation = 0;

function render(navigated = false) {
  unmount();
  const main = document.getElementById('main');
  const route = currentRoute();
  const mine = ++generation;
  const isCurrent = () => mine === generation;
  isCurrent.navigated = navigated;
  for (const link of document.querySelectorAll('nav.sections a')) {
    if (link.dataset.section === route.section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const titles = {
    executions: 'Executions',
    execution: 'Execution',
    runbooks: 'Runbooks',
    learning: 'Learning',
    coverage: 'Coverage',
    audit: 'Audit trail',
  };
  document.title = `${titles[route.view]} · runbook-autopilot`;
  if (route.view === 'execution') unmount = mountExecution(main, route.id);
  else if (route.view === 'runbooks') unmount = mountRunbooks(main, route.id, isCurrent);
  else if (route.view === 'learning') unmount = mountLearning(main);
  else if (route.view === 'coverage') unmount = mountCoverage(main);
  else if (route.view === 'audit') unmount = mountAudit(main);
  else unmount = mountExecutions(main);
  if (navigated) {
    main.focus({ preventScroll: true });
    if (!(route.view === 'runbooks' && route.id)) window.scrollTo(0, 0);
  }
}

function navigate(href) {
  const url = new URL(href, window.location.origin);
  if (!isAppPath(url)) {
    window.location.assign(url.href);
    return;
  }
  if (url.href !== window.location.href) window.history.pushState(null, '', url.href);
  render(true);
}

document.addEventListener('click', (event) => {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  )
    return;
  const link = event.target.closest?.('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, window.location.origin);
  if (!isAppPath(url)) return;
  event.preventDefault();
  navigate(url.href);
});

window.addEventListener('popstate', () => render(true));

/** Where it runs (dashboard-config.json), the sign-in when there is one, then the views. */
async function boot() {
  try {
    const response = await fetch('/dashboard-config.json', { cache: 'no-store' });
    if (response.ok) Object.assign(site, await response.json());
  } catch {
    // No config: the embedded platform's own page.
  }
  if (site.signIn) {
    try {
      await completeSignIn();
    } catch (error) {
      banner(
        error.message,
        h('button', { type: 'button', class: 'secondary', onclick: () => signIn() }, 'Sign in'),
      );
      return;
    }
    if (!idToken()) {
      await signIn();
      return;
    }
  }
  if (!site.embedded)
    for (const link of document.querySelectorAll('nav.sections a[data-section="coverage"]')) link.remove();
  document.getElementById('kill-toggle').addEventListener('click', toggleKillSwitch);
  await loadSession();
  poll(loadKillSwitch);
  render();
}

boot();
