/** Command-line options of `npm run loadtest`. */
import { parseArgs } from 'node:util';
import type { ScenarioOptions } from './scenarios/types.js';

export const USAGE = `Usage: npm run loadtest -- [options]

  --url URL            a running deployment (compose, Kubernetes ingress, npm start); default: start a local
                       cluster (PostgreSQL, 3 replicas, nginx) and stop it afterwards
  --metrics-url URL    with --url: one replica's metrics port, for the memory scenario (skipped without it), e.g.
                       http://127.0.0.1:9464 after kubectl port-forward <app pod> 9464
  --scenario a,b       scenarios to run (default: all but soak): sharing, rolling-restart, crash, full-restart,
                       login-storm, memory, soak
  --users N            virtual users of the traffic scenarios (default 200)
  --duration S         seconds of load in sharing, and around the events of rolling-restart and crash (default 20)
  --sessions N         sessions the memory scenario creates per store (default 100000: most of an hour per
                       store on 2 cores at the production scrypt cost)
  --memory-seconds S   upper bound on creating them, per store (default 5400)
  --minutes N          length of the soak (default 10)
  --scrypt-cost N      PASSWORD_SCRYPT_COST of the memory, login-storm and soak replicas (default: the app's own,
                       16384; a lower cost is labelled in the report)
  --replicas N         replicas of the local cluster (default 3)
  --out DIR            where the JSON and HTML reports go (default results)
`;

export interface CliOptions extends ScenarioOptions {
  url?: string;
  scenarios?: string[];
  replicas: number;
  out: string;
  help: boolean;
}

/** `value` of --name as a whole number from min to max; throws with a one-line message otherwise. */
export function parseWhole(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

/** Parses argv; throws an Error with a one-line message on a bad option. */
export function parseCli(argv: string[]): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      'metrics-url': { type: 'string' },
      scenario: { type: 'string' },
      users: { type: 'string', default: '200' },
      duration: { type: 'string', default: '20' },
      sessions: { type: 'string', default: '100000' },
      'memory-seconds': { type: 'string', default: '5400' },
      minutes: { type: 'string', default: '10' },
      'scrypt-cost': { type: 'string' },
      replicas: { type: 'string', default: '3' },
      out: { type: 'string', default: 'results' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  for (const name of ['url', 'metrics-url'] as const) {
    const value = values[name];
    if (value !== undefined && !/^https?:\/\/[^/]+/.test(value)) throw new Error(`--${name} must be an http:// or https:// URL`);
  }
  if (values['metrics-url'] !== undefined && values.url === undefined)
    throw new Error('--metrics-url goes with --url (the local cluster knows its replicas)');
  return {
    url: values.url?.replace(/\/+$/, ''),
    metricsUrl: values['metrics-url']?.replace(/\/+$/, ''),
    scenarios: values.scenario
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    users: parseWhole('users', values.users, 1, 10_000),
    duration: parseWhole('duration', values.duration, 2, 3_600),
    sessions: parseWhole('sessions', values.sessions, 100, 10_000_000),
    memorySeconds: parseWhole('memory-seconds', values['memory-seconds'], 5, 86_400),
    minutes: parseWhole('minutes', values.minutes, 1, 1_440),
    scryptCost: values['scrypt-cost'] === undefined ? undefined : parseWhole('scrypt-cost', values['scrypt-cost'], 1024, 1_048_576),
    replicas: parseWhole('replicas', values.replicas, 1, 32),
    out: values.out,
    help: values.help,
  };
}
