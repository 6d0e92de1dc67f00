/**
 * The replicas that the memory, login-storm and soak scenarios start: the compiled app (as the Dockerfile runs it)
 * with the app's own settings, PASSWORD_SCRYPT_COST included unless --scrypt-cost lowers it.
 */
import type { Cluster } from '../../infra/cluster.js';
import { buildApp } from '../build.js';
import type { LocalControls } from '../target.js';
import type { ScenarioContext, ScenarioOptions } from './types.js';

/** The app's default PASSWORD_SCRYPT_COST (app/config.ts), for the report's labels. */
const APP_SCRYPT_COST = 16384;

export function scryptCostLabel(options: ScenarioOptions): string {
  return options.scryptCost === undefined || options.scryptCost === APP_SCRYPT_COST
    ? `PASSWORD_SCRYPT_COST ${APP_SCRYPT_COST} (the app's default)`
    : `PASSWORD_SCRYPT_COST ${options.scryptCost} (lowered with --scrypt-cost: not the production setting)`;
}

/** A cluster of `replicas` on the local target's database; `env` and `replicaEnv` add settings. Stopped by the caller. */
export function productionCluster(
  local: LocalControls,
  { options, log }: Pick<ScenarioContext, 'options' | 'log'>,
  name: string,
  replicas: number,
  more: { env?: NodeJS.ProcessEnv; replicaEnv?: (index: number) => NodeJS.ProcessEnv } = {},
): Promise<Cluster> {
  const args = [buildApp(log)];
  // An undefined entry removes the load-test cluster's lowered scrypt cost, so the app's own default applies.
  const cost = { PASSWORD_SCRYPT_COST: options.scryptCost === undefined ? undefined : String(options.scryptCost) };
  return local.startExtraCluster({ ...cost, ...more.env }, replicas, name, { args, replicaEnv: more.replicaEnv });
}
