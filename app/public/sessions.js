// "Where you are signed in" (GET /api/sessions): each session of the user, ending one, or every other one.
// Apart from app.js: it loads the list whenever the signed-in view appears and asks /api/me for the CSRF token.
const $ = (id) => document.getElementById(id);

async function send(method, path) {
  const me = await fetch('/api/me', { credentials: 'same-origin' });
  const { csrfToken = '' } = me.ok ? await me.json() : {};
  const res = await fetch(path, { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken } });
  $('message').textContent = res.ok ? '' : ((await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`);
  return res;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : 'unknown');

function item(session) {
  const li = document.createElement('li');
  li.dataset.handle = session.handle;
  const text = document.createElement('span');
  text.textContent = `${session.device ?? 'Unknown device'}${session.current ? ' (this device)' : ''}: signed in ${when(session.createdAt)}, last active ${when(session.lastActiveAt)}`;
  const end = Object.assign(document.createElement('button'), {
    type: 'button',
    className: 'secondary',
    textContent: session.current ? 'Log out' : 'End',
  });
  end.addEventListener('click', async () => {
    const res = await send('DELETE', `/api/sessions/${encodeURIComponent(session.handle)}`);
    if (res.ok && session.current) location.reload();
    else await load();
  });
  li.append(text, end);
  return li;
}

async function load() {
  const res = await fetch('/api/sessions', { credentials: 'same-origin' });
  const { sessions = [] } = res.ok ? await res.json() : {};
  $('sessions').replaceChildren(...sessions.map(item));
  $('end-others').hidden = !sessions.some((s) => !s.current);
}

$('end-others').addEventListener('click', async () => {
  await send('POST', '/api/sessions/end-others');
  await load();
});

new MutationObserver(() => $('signed-in').hidden || load()).observe($('signed-in'), { attributes: true, attributeFilter: ['hidden'] });
if (!$('signed-in').hidden) load();
