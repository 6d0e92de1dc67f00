// The page's only script: talks to the JSON API and keeps the CSRF token in memory.
const $ = (id) => document.getElementById(id);
let csrfToken = '';

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', ...(csrfToken && { 'X-CSRF-Token': csrfToken }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  return { status: res.status, data };
}

function show(signedIn) {
  $('signed-in').hidden = !signedIn;
  $('signed-out').hidden = signedIn;
}

function renderCart(cart) {
  $('cart').replaceChildren(...cart.map((item) => Object.assign(document.createElement('li'), { textContent: item })));
}

async function refresh() {
  const me = await api('GET', '/api/me');
  if (me.status !== 200) return show(false);
  csrfToken = me.data.csrfToken ?? csrfToken;
  $('user').textContent = me.data.user.username;
  $('instance').textContent = me.data.instance;
  $('created').textContent = new Date(me.data.session.createdAt).toLocaleString();
  $('expires').textContent = new Date(me.data.session.expiresAt).toLocaleString();
  const cart = await api('GET', '/api/cart');
  renderCart(cart.data.cart ?? []);
  show(true);
}

$('auth-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const action = event.submitter?.dataset.action ?? 'login';
  const form = new FormData(event.target);
  const res = await api('POST', `/api/${action}`, { username: form.get('username'), password: form.get('password') });
  $('message').textContent = res.status < 300 ? '' : (res.data.error ?? `HTTP ${res.status}`);
  if (res.status < 300) {
    csrfToken = res.data.csrfToken;
    await refresh();
  }
});

$('cart-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const res = await api('POST', '/api/cart', { item: new FormData(event.target).get('item') });
  $('message').textContent = res.status === 200 ? '' : (res.data.error ?? `HTTP ${res.status}`);
  if (res.status === 200) {
    renderCart(res.data.cart);
    event.target.reset();
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout');
  csrfToken = '';
  show(false);
});

// Offer single sign-on only where the server has a provider configured (OIDC_* settings).
async function showAuthOptions() {
  const options = await api('GET', '/api/auth-options');
  if (!options.data.oidc) return;
  $('oidc-link').href = options.data.oidc.loginUrl;
  $('oidc').hidden = false;
}

refresh();
showAuthOptions();
