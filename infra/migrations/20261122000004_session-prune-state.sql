-- Up Migration
-- One row: when a replica last pruned expired sessions. A replica prunes only if it moves last_run forward
-- (app/session-pruner.ts), so the fleet prunes once per interval however many replicas there are.
CREATE TABLE session_prune_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_run timestamptz NOT NULL
);
INSERT INTO session_prune_state (last_run) VALUES ('-infinity');

-- Down Migration
DROP TABLE session_prune_state;
