// The sandbox dashboard: plays the business dashboard waconnect plugs into. Plain script, no
// framework, nothing loaded from outside this machine. Text from the API is inserted with
// textContent only.
'use strict';

const api = '/api/integrations/whatsapp';
const state = {
  session: null,
  status: null,
  pollTimer: null,
  conversationTimer: null,
  openConversation: null,
  openDetail: null,
};
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function workflowLink(workflowId, label) {
  const s = state.session;
  if (!s || !s.temporalUiUrl || !workflowId) return null;
  const href = `${s.temporalUiUrl}/namespaces/${encodeURIComponent(s.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return el('a', { href, target: '_blank', rel: 'noopener' }, label);
}

async function call(method, path, body) {
  const headers = { accept: 'application/json', authorization: `Bearer ${state.session.token}` };
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error ? `${json.error.code}: ${json.error.message}` : `HTTP ${res.status}`);
  return json;
}

async function startSession(businessId) {
  const res = await fetch('/api/sandbox/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ businessId }),
  });
  if (!res.ok) throw new Error('could not start a session');
  state.session = await res.json();
  sessionStorage.setItem('waconnect-business', businessId);
  $('business-current').textContent = `Signed in as business “${businessId}”.`;
  $('connect').disabled = false;
  $('connect-popup').disabled = false;
  loadSdk();
  await refreshStatus();
}

function showOutcome() {
  const params = new URLSearchParams(location.search);
  const box = $('outcome');
  box.replaceChildren();
  if (params.get('success') === 'true') box.append(el('p', { class: 'ok' }, 'WhatsApp connected.'));
  else if (params.get('pending') === 'true') box.append(el('p', {}, 'Connecting… this takes a moment.'));
  else if (params.get('error'))
    box.append(el('p', { class: 'err', id: 'connect-error' }, `Could not connect: ${params.get('error')}`));
}

function renderStatus(status) {
  const box = $('status');
  box.replaceChildren();
  const integration = status.integration;
  const heading = status.connected
    ? el('p', { class: 'ok', id: 'connected' }, 'Connected')
    : el('p', { id: 'not-connected' }, integration ? `Not connected (${integration.state})` : 'Not connected');
  box.append(heading);
  if (integration) {
    const health = integration.tokenHealth;
    const expires = health.expiresAt ? `, expires ${new Date(health.expiresAt).toLocaleDateString()}` : '';
    box.append(
      el(
        'p',
        { class: 'muted' },
        `Token health: ${health.state}${expires}${health.checkedAt ? `, checked ${new Date(health.checkedAt).toLocaleString()}` : ''}`,
      ),
    );
    if (health.lastError) box.append(el('p', { class: 'err' }, health.lastError));
    if (integration.connectedAt && status.connected)
      box.append(el('p', { class: 'muted' }, `Connected since ${new Date(integration.connectedAt).toLocaleString()}`));
  }
  for (const account of status.accounts) {
    const list = el('ul', { class: 'numbers' });
    for (const n of account.phoneNumbers) {
      list.append(
        el(
          'li',
          { class: 'number' },
          `${n.displayPhoneNumber} — ${n.verifiedName ?? ''} (quality ${n.qualityRating ?? 'unknown'}, registration ${n.registration?.state ?? 'unknown'})`,
        ),
      );
    }
    box.append(el('p', {}, `WhatsApp account: ${account.name ?? account.wabaId}`), list);
  }
  if (status.connect) {
    const c = status.connect;
    const text =
      c.state === 'running' ? `Connect in progress: ${c.step ?? 'starting'}` : `Last connect failed: ${c.error.code}`;
    box.append(
      el(
        'p',
        { id: 'connect-step', class: c.state === 'failed' ? 'err' : '' },
        text,
        ' ',
        workflowLink(c.workflowId, '(workflow)'),
      ),
    );
  }
  $('disconnect').disabled = !integration || !integration.state || integration.state === 'inactive';
  const select = $('to-number');
  const previous = select.value;
  select.replaceChildren();
  for (const account of status.connected ? status.accounts : []) {
    for (const n of account.phoneNumbers) select.append(el('option', { value: n.phoneNumberId }, n.displayPhoneNumber));
  }
  if (previous) select.value = previous;
  $('send').disabled = select.options.length === 0;
  $('create-template').disabled = !status.connected;
}

async function refreshStatus() {
  if (!state.session) return;
  const status = await call('GET', `${api}/status`);
  state.status = status;
  renderStatus(status);
  clearTimeout(state.pollTimer);
  // Poll while a connect runs (the callback may have answered "pending").
  if (status.connect && status.connect.state === 'running')
    state.pollTimer = setTimeout(() => void refreshStatus().catch(console.error), 1000);
}

async function connect() {
  $('connect').disabled = true;
  try {
    const { url } = await call('GET', `${api}/connect`);
    location.assign(url);
  } catch (error) {
    $('outcome').replaceChildren(el('p', { class: 'err' }, String(error.message)));
    $('connect').disabled = false;
  }
}

// Embedded Signup the way Meta's JS SDK runs it: FB.login in a popup returns a code, and the popup
// posts a WA_EMBEDDED_SIGNUP message event with the session's account and number ids.
const signup = { session: null };

function loadSdk() {
  if (window.FB || document.getElementById('fb-sdk')) return;
  const script = el('script', { id: 'fb-sdk', src: `${state.session.sandboxUrl}/sdk.js` });
  script.addEventListener('load', () =>
    window.FB.init({ appId: state.session.appId, version: state.session.graphApiVersion }),
  );
  document.head.append(script);
}

window.addEventListener('message', (event) => {
  if (!state.session || event.origin !== new URL(state.session.sandboxUrl).origin) return;
  let data = event.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return;
    }
  }
  if (!data || data.type !== 'WA_EMBEDDED_SIGNUP') return;
  signup.session = data;
  if (data.event === 'CANCEL' || data.event === 'ERROR') {
    call('POST', `${api}/embedded-signup/events`, { type: data.type, event: data.event, data: data.data }).catch(
      console.error,
    );
  }
});

function connectPopup() {
  signup.session = null;
  window.FB.login(
    (response) => {
      const code = response && response.authResponse && response.authResponse.code;
      if (!code) {
        $('outcome').replaceChildren(
          el('p', { class: 'err', id: 'connect-error' }, 'Embedded Signup was not completed.'),
        );
        refreshStatus().catch(console.error);
        return;
      }
      const ids = (signup.session && signup.session.data) || {};
      $('outcome').replaceChildren(el('p', {}, 'Connecting…'));
      call('POST', `${api}/embedded-signup`, { code, wabaId: ids.waba_id, phoneNumberId: ids.phone_number_id })
        .then(() => $('outcome').replaceChildren(el('p', { class: 'ok' }, 'WhatsApp connected.')))
        .catch((error) =>
          $('outcome').replaceChildren(
            el('p', { class: 'err', id: 'connect-error' }, `Could not connect: ${error.message}`),
          ),
        )
        .finally(() => void refreshStatus().catch(console.error));
    },
    {
      config_id: state.session.configId,
      response_type: 'code',
      override_default_response_type: true,
      extras: { setup: {}, featureType: '', sessionInfoVersion: '3' },
    },
  );
}

async function disconnect() {
  $('disconnect').disabled = true;
  const status = await call('DELETE', `${api}/disconnect`);
  history.replaceState(null, '', '/dashboard/integrations');
  $('outcome').replaceChildren(el('p', {}, 'Disconnected.'));
  renderStatus(status);
}

function lastReplyId(conversation) {
  const replies = conversation.filter((m) => m.direction === 'outbound');
  return replies.length ? replies[replies.length - 1].id : null;
}

async function loadConversation() {
  const phoneNumberId = $('to-number').value;
  const customer = $('customer').value;
  if (!phoneNumberId || !customer) return [];
  const url = `${state.session.sandboxUrl}/sandbox/conversations?phoneNumberId=${encodeURIComponent(phoneNumberId)}&customer=${encodeURIComponent(customer)}`;
  const res = await fetch(url);
  if (!res.ok) return [];
  const body = await res.json();
  const messages = Array.isArray(body.data) ? body.data : [];
  const list = $('conversation');
  list.replaceChildren();
  for (const m of messages) {
    const who = m.direction === 'inbound' ? 'Customer' : 'Business';
    const status = m.direction === 'outbound' && m.status ? ` · ${m.status}` : '';
    const link = m.direction === 'inbound' ? workflowLink(`message/${m.id}`, 'workflow') : null;
    list.append(
      el(
        'li',
        { class: m.direction },
        m.text || `[${m.type}]`,
        el('span', { class: 'meta' }, `${who}${status} `, link),
      ),
    );
  }
  return messages;
}

async function sendAsCustomer(event) {
  event.preventDefault();
  const type = $('message-type').value;
  const input = { phoneNumberId: $('to-number').value, from: $('customer').value, type };
  const text = $('message-text').value;
  if (type === 'text') input.text = text || 'Hello';
  if (type === 'image') input.image = { caption: text };
  if (type === 'location') input.location = { latitude: 52.52, longitude: 13.405, name: 'Alexanderplatz' };
  if (type === 'interactive')
    input.interactive = { type: 'button_reply', button_reply: { id: 'opening-hours', title: text || 'Opening hours' } };
  if (type === 'reaction') {
    const target = lastReplyId(await loadConversation());
    if (!target) return;
    input.reaction = { message_id: target, emoji: '👍' };
  }
  const res = await fetch(`${state.session.sandboxUrl}/sandbox/customers/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw new Error('the sandbox refused the message');
  await loadConversation();
}

async function loadTemplates() {
  const body = await call('GET', `${api}/templates?limit=200`);
  const rows = (body.templates || []).map((t) =>
    el(
      'tr',
      { 'data-template': `${t.name}/${t.language}` },
      el('td', {}, t.name || ''),
      el('td', {}, t.language || ''),
      el('td', {}, t.category || ''),
      el('td', { class: 'template-status' }, t.rejectedReason ? `${t.status} (${t.rejectedReason})` : t.status || ''),
    ),
  );
  $('templates').replaceChildren(...rows);
}

async function createTemplate(event) {
  event.preventDefault();
  const text = $('template-body').value;
  const placeholders = text.match(/\{\{\d+\}\}/g) || [];
  const bodyComponent = { type: 'BODY', text };
  if (placeholders.length) bodyComponent.example = { body_text: [placeholders.map((_, i) => `example ${i + 1}`)] };
  const outcome = $('template-outcome');
  try {
    const { template } = await call('POST', `${api}/templates`, {
      name: $('template-name').value.trim(),
      language: $('template-language').value.trim(),
      category: $('template-category').value,
      components: [bodyComponent],
    });
    outcome.textContent = `Template “${template.name}” submitted: ${template.status}.`;
  } catch (error) {
    outcome.textContent = String(error.message);
  }
  await loadTemplates();
}

// The agent inbox: the conversations API, as a business's own inbox would use it.
function describeConversation(c) {
  const who = c.customer.name || c.customer.phone || c.customer.username || `customer ${c.customer.id}`;
  const mode = c.mode === 'agent' ? `agent ${c.handoff.agentId}` : 'bot';
  return `${who} · ${mode}${c.unanswered ? ' · unanswered' : ''}`;
}

async function loadInbox() {
  const filter = $('inbox-filter').value;
  const body = await call('GET', `${api}/conversations?limit=50${filter ? `&${filter}` : ''}`);
  const items = (body.conversations || []).map((c) => {
    const button = el(
      'button',
      { type: 'button', 'data-conversation': String(c.id), 'aria-current': String(c.id === state.openConversation) },
      describeConversation(c),
      el('span', { class: 'meta' }, c.lastMessage ? c.lastMessage.text || `[${c.lastMessage.type}]` : ''),
    );
    button.addEventListener('click', () => void openConversation(c.id).catch(console.error));
    return el('li', {}, button);
  });
  $('inbox').replaceChildren(...items);
}

async function openConversation(id) {
  state.openConversation = id;
  const c = await call('GET', `${api}/conversations/${id}?limit=100`);
  state.openDetail = c;
  $('inbox-open').hidden = false;
  $('inbox-heading').textContent = describeConversation({ ...c, unanswered: false });
  $('inbox-mode').textContent =
    c.mode === 'agent'
      ? `Held by ${c.handoff.agentId} until ${new Date(c.handoff.expiresAt).toLocaleString()}: the bot is silent.`
      : c.botResumesAt
        ? `The owner answered from the app: the bot waits until ${new Date(c.botResumesAt).toLocaleTimeString()}.`
        : 'The bot answers this conversation.';
  $('take-over').disabled = c.mode === 'agent';
  $('release').disabled = c.mode !== 'agent';
  const items = c.messages.map((m) => {
    const who = m.direction === 'inbound' ? 'Customer' : m.agentId ? `Agent ${m.agentId}` : m.origin;
    const last = m.statuses.length ? m.statuses[m.statuses.length - 1].status : m.status;
    return el('li', { class: m.direction }, m.text || `[${m.type}]`, el('span', { class: 'meta' }, `${who} · ${last}`));
  });
  $('inbox-messages').replaceChildren(...items);
}

async function changeHands(action) {
  const id = state.openConversation;
  if (!id) return;
  await call(
    'POST',
    `${api}/conversations/${id}/${action}`,
    action === 'handoff' ? { note: 'taken in the sandbox inbox' } : {},
  );
  await openConversation(id);
  await loadInbox();
}

async function replyAsAgent(event) {
  event.preventDefault();
  const c = state.openDetail;
  if (!c) return;
  const to = c.customer.phone || c.customer.bsuid;
  const res = await fetch(`${api}/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${state.session.token}`,
      'idempotency-key': `inbox-${crypto.randomUUID()}`,
    },
    body: JSON.stringify({ to, phoneNumberId: c.phoneNumberId, text: $('agent-text').value }),
  });
  const body = await res.json().catch(() => ({}));
  $('inbox-outcome').textContent = res.ok ? 'Sent.' : `Not sent: ${body.error ? body.error.message : res.status}`;
  if (res.ok) $('agent-text').value = '';
  await openConversation(c.id);
}

function watchConversation() {
  clearInterval(state.conversationTimer);
  state.conversationTimer = setInterval(() => {
    if (state.session && $('to-number').value) loadConversation().catch(console.error);
    if (state.session && state.status && state.status.connected) {
      loadTemplates().catch(console.error);
      loadInbox().catch(console.error);
      if (state.openConversation) openConversation(state.openConversation).catch(console.error);
    }
  }, 1000);
}

document.addEventListener('DOMContentLoaded', () => {
  showOutcome();
  $('business-form').addEventListener('submit', (event) => {
    event.preventDefault();
    startSession($('business-id').value.trim()).catch(
      (error) => ($('business-current').textContent = String(error.message)),
    );
  });
  $('connect').addEventListener('click', () => void connect());
  $('connect-popup').addEventListener('click', () => connectPopup());
  $('disconnect').addEventListener('click', () => void disconnect().catch(console.error));
  $('customer-form').addEventListener('submit', (event) => void sendAsCustomer(event).catch(console.error));
  $('template-form').addEventListener('submit', (event) => void createTemplate(event).catch(console.error));
  $('to-number').addEventListener('change', () => void loadConversation().catch(console.error));
  $('inbox-filter').addEventListener('change', () => void loadInbox().catch(console.error));
  $('take-over').addEventListener('click', () => void changeHands('handoff').catch(console.error));
  $('release').addEventListener('click', () => void changeHands('release').catch(console.error));
  $('agent-reply').addEventListener('submit', (event) => void replyAsAgent(event).catch(console.error));
  const remembered = sessionStorage.getItem('waconnect-business');
  if (remembered) {
    $('business-id').value = remembered;
    startSession(remembered).catch(console.error);
  }
  watchConversation();
});
