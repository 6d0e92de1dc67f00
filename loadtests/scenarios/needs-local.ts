/** Restart scenarios need the local cluster: a deployment given with --url cannot be restarted from here. */
import type { Target } from '../target.js';

export const needsLocalCluster = (what: string) => (target: Target) =>
  target.local
    ? undefined
    : `it must ${what}, and a deployment given with --url offers no way to do that from here ` +
      '(run without --url for the local cluster, or do it yourself during a long `sharing` run and read its timeline)';
