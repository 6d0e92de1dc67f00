/** The scenarios in the order `npm run loadtest` runs them, and how one is run (skipped when the target cannot do it). */
import { sharing } from './sharing.js';
import { rollingRestart } from './rolling-restart.js';
import { crash } from './crash.js';
import { fullRestart } from './full-restart.js';
import { loginStorm } from './login-storm.js';
import { memory } from './memory.js';
import { soak } from './soak.js';
import type { Scenario, ScenarioContext, ScenarioResult } from './types.js';

const scenarios: Scenario[] = [sharing, rollingRestart, crash, fullRestart, loginStorm, memory, soak];
/** The soak runs only when named: its length is --minutes, not a short default. */
const byDefault = scenarios.filter((s) => s !== soak);

export function selectScenarios(names: string[] | undefined): Scenario[] {
  if (!names) return byDefault;
  return names.map((name) => {
    const found = scenarios.find((s) => s.name === name);
    if (!found) throw new Error(`unknown scenario "${name}"; known: ${scenarios.map((s) => s.name).join(', ')}`);
    return found;
  });
}

export async function runScenario(scenario: Scenario, ctx: ScenarioContext): Promise<ScenarioResult> {
  const about = { name: scenario.name, title: scenario.title, proves: scenario.proves };
  const reason = scenario.unsupported?.(ctx.target, ctx.options);
  if (reason) return { ...about, status: 'skipped', headline: reason, figures: [], tables: [], charts: [], notes: [], seconds: 0 };
  const started = Date.now();
  try {
    const result = await scenario.run(ctx);
    return { ...about, ...result, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    const message = (err as Error).message;
    return {
      ...about,
      status: 'failed',
      headline: `error: ${message}`,
      figures: [],
      tables: [],
      charts: [],
      notes: [],
      seconds: (Date.now() - started) / 1000,
    };
  }
}
