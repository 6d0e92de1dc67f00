/**
 * What a scenario needs of its target. Restart scenarios need the local cluster: a deployment given with --url cannot
 * be restarted from here. Memory scenarios need a replica's metrics port, which is not behind the balancer.
 */
import type { Target } from '../target.js';
import type { ScenarioOptions } from './types.js';

export const needsLocalCluster = (what: string) => (target: Target) =>
  target.local
    ? undefined
    : `it must ${what}, and a deployment given with --url offers no way to do that from here ` +
      '(run without --url for the local cluster, or do it yourself during a long `sharing` run and read its timeline)';

export const needsMetrics = (target: Target, options: ScenarioOptions) =>
  target.local || options.metricsUrl
    ? undefined
    : 'it samples a replica’s memory on its metrics port, which is not behind the balancer: pass --metrics-url (one replica’s port 9464)';
