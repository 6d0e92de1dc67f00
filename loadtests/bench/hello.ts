/** The ceiling's upstream: plain node:http answering every request with a small JSON 200, no framework, no store. */
import { createServer } from 'node:http';

const body = JSON.stringify({ user: { username: 'hello' }, instance: process.pid });
const server = createServer((req, res) => {
  // Drain the request body (the cart writes), then answer.
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
});
// As the app: idle upstream connections must outlive nginx's keepalive_timeout (60 s).
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)).closeIdleConnections());
