// "Connected accounts" (GET /api/connections): each configured provider, connect or remove. Apart from app.js: it loads
// whenever the signed-in view appears, and asks /api/me for the CSRF token when it removes a connection.
const panel = document.getElementById('connections-panel');
const list = document.getElementById('connections');
const note = document.getElementById('connections-message');
const STATUS = {
  valid: 'connected',
  expired: 'connected (token expired: refreshed when used)',
  'needs-reconnect': 'needs connecting again',
};

function row(provider, connection) {
  const li = document.createElement('li');
  li.dataset.provider = provider.name;
  const text = document.createElement('span');
  text.textContent = connection
    ? `${provider.label}: ${STATUS[connection.status]} since ${new Date(connection.connectedAt).toLocaleString()}${connection.scopes.length ? ` (${connection.scopes.join(', ')})` : ''}`
    : `${provider.label}: not connected`;
  li.append(text);
  // Connecting is a navigation: the browser goes to the provider and comes back to the callback.
  if (!connection || connection.status === 'needs-reconnect')
    li.append(Object.assign(document.createElement('a'), { href: provider.startUrl, textContent: 'Connect', className: 'button' }));
  if (connection) {
    const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: 'Remove' });
    remove.addEventListener('click', () => removeConnection(provider));
    li.append(remove);
  }
  return li;
}

async function load() {
  const res = await fetch('/api/connections', { credentials: 'same-origin' });
  const { providers = [], connections = [] } = res.ok ? await res.json() : {};
  panel.hidden = providers.length === 0;
  list.replaceChildren(
    ...providers.map((p) =>
      row(
        p,
        connections.find((c) => c.provider === p.name),
      ),
    ),
  );
}

async function removeConnection(provider) {
  const me = await fetch('/api/me', { credentials: 'same-origin' });
  const { csrfToken = '' } = me.ok ? await me.json() : {};
  const res = await fetch(`/api/connections/${provider.name}`, {
    method: 'DELETE',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrfToken },
  });
  note.textContent = res.ok ? `${provider.label} removed.` : ((await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`);
  await load();
}

// The callback sends the browser back to /?connection=<provider>&result=<connected or the provider's error code>.
const back = new URLSearchParams(location.search);
if (back.has('connection')) {
  const result = back.get('result');
  note.textContent =
    result === 'connected' ? `Connected to ${back.get('connection')}.` : `Not connected to ${back.get('connection')}: ${result}.`;
  history.replaceState(null, '', '/');
}

const signedIn = document.getElementById('signed-in');
new MutationObserver(() => !signedIn.hidden && load()).observe(signedIn, { attributes: true, attributeFilter: ['hidden'] });
if (!signedIn.hidden) load();
