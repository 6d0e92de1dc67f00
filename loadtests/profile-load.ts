/**
 * The load of `npm run profile`, started by clinic doctor's --on-port once the replica listens ($PORT):
 * `users` virtual users with the sharing traffic for `seconds`. Clinic stops the replica when this exits.
 */
import { createUsers, runPrefix } from './users.js';
import { startLoad } from './load/run-load.js';

const [users = '50', seconds = '20'] = process.argv.slice(2);
const url = `http://127.0.0.1:${process.env.PORT}`;
const virtual = await createUsers(url, Number(users), runPrefix());
const result = await startLoad({ url, users: virtual, maxSeconds: Number(seconds) }).done;
console.error(
  `profile: ${result.requests} requests, ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms, ${result.failures} failed`,
);
