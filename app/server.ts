/** Entry point: parse the config, start the replica (app/start-server.ts), and shut it down gracefully on SIGTERM/SIGINT. */
import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.js';
import { startServer, StartupError, type RunningServer } from './start-server.js';

let config: Config;
let running: RunningServer;
try {
  config = loadConfig();
  running = await startServer(config);
} catch (err) {
  if (!(err instanceof ConfigError || err instanceof StartupError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const { drainMs, timeoutMs } = config.shutdown;
// After the in-flight deadline, queries of cut requests may still run until statement_timeout (or the pool's
// client-side query timeout, 1 s later); then a margin.
const hardLimitMs = drainMs + timeoutMs + config.database.statementTimeoutMs + 2_000;
closeWithGrace({ delay: hardLimitMs, logger: running.logger }, async ({ signal, err }) => {
  if (err) running.logger.error({ err }, 'fatal error, shutting down');
  else running.logger.info({ signal }, 'shutting down');
  await running.stop();
});
