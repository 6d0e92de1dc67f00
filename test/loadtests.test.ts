/**
 * Short runs of the load tests' restart scenarios (loadtests/), asserted: a rolling restart under load fails no
 * request and loses no session; after a full restart of the replicas and PostgreSQL every session survives.
 * They run on their own PostgreSQL (never the shared test server): the full restart stops it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTarget, type Target } from '../loadtests/target.js';
import { runScenario } from '../loadtests/scenarios/index.js';
import { rollingRestart } from '../loadtests/scenarios/rolling-restart.js';
import { fullRestart } from '../loadtests/scenarios/full-restart.js';
import { loginStorm } from '../loadtests/scenarios/login-storm.js';
import type { Scenario, ScenarioResult } from '../loadtests/scenarios/types.js';
import { runPrefix } from '../loadtests/users.js';
import { renderHtml } from '../loadtests/report/html.js';
import { machine } from '../loadtests/report/report.js';

let target: Target | undefined;
let logDir: string;
const results: ScenarioResult[] = [];

before(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'loadtests-test-'));
  target = await localTarget({ replicas: 3, logDir, log: () => {} });
});
after(async () => {
  await target?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

const options = { users: 20, duration: 4, sessions: 0, memorySeconds: 0, minutes: 1 };
const quiet = { phase() {}, note() {}, end() {} };

async function run(scenario: Scenario): Promise<ScenarioResult> {
  const result = await runScenario(scenario, { target: target!, options, prefix: runPrefix(), progress: () => quiet, log: () => {} });
  results.push(result);
  return result;
}

/** A figure's value by label, and the whole result as the message should an assertion fail. */
function figure(result: ScenarioResult, label: string): { value: unknown; why: string } {
  const found = result.figures.find((f) => f.label === label);
  assert.ok(found, `${result.name} reports "${label}" (${result.headline})`);
  return { value: found.value, why: `${result.headline}\n${JSON.stringify(result.tables, null, 1)}` };
}

describe('Load-test scenarios, short runs', () => {
  it('When every replica is restarted one by one under load, then no request fails and no session is lost', async () => {
    const result = await run(rollingRestart);
    for (const label of ['failed requests', 'sessions lost']) {
      const { value, why } = figure(result, label);
      assert.equal(value, 0, `${label}: ${why}`);
    }
    assert.equal(result.status, 'passed', result.headline);
    assert.ok((figure(result, 'requests').value as number) > 0);
  });

  it('When every replica and then PostgreSQL are stopped and started again, then every user is still logged in with its cart', async () => {
    const result = await run(fullRestart);
    for (const label of ['users still logged in', 'carts intact']) {
      const { value, why } = figure(result, label);
      assert.equal(value, 100, `${label}: ${why}`);
    }
    assert.equal(result.status, 'passed', result.headline);
  });

  it('When more users log in at once than the replicas can hash or queue, then every login succeeds, some after a 503 with Retry-After, and no other 5xx', async () => {
    const result = await run(loginStorm);
    for (const label of ['final answers 5xx', 'logins without an answer']) {
      const { value, why } = figure(result, label);
      assert.equal(value, 0, `${label}: ${why}`);
    }
    const { value: retried, why } = figure(result, '503 + Retry-After, waited out and sent again');
    assert.ok((retried as number) > 0, `the storm overflowed the hashing queues: ${why}`);
    assert.equal(result.status, 'passed', result.headline);
  });

  it('When the report is rendered, then it is one page that loads nothing from elsewhere and draws its plots inline', () => {
    assert.ok(results.length > 0, 'the scenarios above ran');
    const html = renderHtml({
      startedAt: new Date().toISOString(),
      command: 'test',
      target: target!.description,
      options,
      machine: machine(),
      scenarios: results,
    });
    assert.match(html, /<svg /);
    assert.doesNotMatch(html, /<script|<link|\ssrc=|url\(|https?:\/\//i);
  });
});
