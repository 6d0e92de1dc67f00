/** Sessions survive a full restart: every replica, then PostgreSQL itself, stopped and started again. */
import { createUsers, sessionStatuses, type VirtualUser } from '../users.js';
import { needsLocalCluster } from './needs-local.js';
import type { Scenario } from './types.js';

/** Writes one item to each user's cart, so the check after the restart covers the user's data, not only the login. */
async function writeItems(url: string, users: VirtualUser[]): Promise<void> {
  for (const user of users) {
    const item = user.nextItem();
    const res = await fetch(new URL('/api/cart', url), {
      method: 'POST',
      headers: { cookie: user.cookie, 'x-csrf-token': user.csrfToken, 'content-type': 'application/json' },
      body: JSON.stringify({ item }),
      signal: AbortSignal.timeout(30_000),
    });
    await res.body?.cancel();
    if (res.status !== 200) throw new Error(`writing to ${user.username}'s cart: HTTP ${res.status}`);
    user.cart.push(item);
  }
}

async function cartsIntact(url: string, users: VirtualUser[]): Promise<number> {
  let intact = 0;
  for (const user of users) {
    const res = await fetch(new URL('/api/cart', url), { headers: { cookie: user.cookie }, signal: AbortSignal.timeout(30_000) }).catch(
      () => undefined,
    );
    const body = res?.status === 200 ? ((await res.json()) as { cart?: unknown }) : undefined;
    if (body && user.cartMatches(body.cart)) intact++;
  }
  return intact;
}

const seconds = (since: number) => Number(((Date.now() - since) / 1000).toFixed(1));

export const fullRestart: Scenario = {
  name: 'full-restart',
  title: 'Full restart: every replica and PostgreSQL',
  proves:
    'Sessions live in PostgreSQL, not in the processes: after every replica and then PostgreSQL itself are stopped ' +
    'and started again, every user is still logged in with the same cookie and finds its cart as it left it.',
  unsupported: needsLocalCluster('stop every replica and PostgreSQL'),
  async run({ target, options, prefix, progress }) {
    const local = target.local!;
    const users = await createUsers(target.url, options.users, `${prefix}f`);
    await writeItems(target.url, users);
    const before = (await sessionStatuses(target.url, users)).filter((s) => s === 200).length;

    const shown = progress('full-restart', () => ({ requests: 0, failures: 0 }));
    const down = Date.now();
    try {
      shown.phase('stopping every replica and nginx');
      await local.stopCluster();
      shown.phase('stopping PostgreSQL');
      await local.postgres.pause();
      shown.phase('starting PostgreSQL');
      await local.postgres.resume();
      shown.phase('starting the replicas and nginx');
      await local.startCluster();
    } finally {
      shown.end();
    }
    const downtime = seconds(down);

    const after = (await sessionStatuses(target.url, users)).filter((s) => s === 200).length;
    const intact = await cartsIntact(target.url, users);
    const share = (n: number) => Number(((100 * n) / users.length).toFixed(1));
    const ok = before === users.length && after === users.length && intact === users.length;
    return {
      status: ok ? 'passed' : 'failed',
      headline: `${share(after)} % of ${users.length} users still logged in after every replica and PostgreSQL restarted (${share(intact)} % with their cart intact)`,
      figures: [
        { label: 'users still logged in', value: share(after), unit: '%', goal: '100 %', ok: after === users.length },
        { label: 'carts intact', value: share(intact), unit: '%', goal: '100 %', ok: intact === users.length },
        { label: 'users logged in before', value: before, goal: String(users.length), ok: before === users.length },
        { label: 'stop and start of everything', value: downtime, unit: 's' },
      ],
      tables: [],
      charts: [],
      notes: [
        `${users.length} users logged in and wrote one cart item each; then the replicas and nginx were stopped (SIGTERM, graceful), PostgreSQL (${local.postgres.source}) was stopped and started on the same data, and the cluster started again with new processes. Each user then read /api/me and its cart with its old cookie.`,
      ],
    };
  },
};
