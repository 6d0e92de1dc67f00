/** The benchmark behind `npm run bench:touch`, short and asserted: row writes per read-only request. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { measureTouchWrites } from '../../loadtests/touch-writes.js';
import { migratedDatabase } from '../helpers/database.js';

const READS = 200;

describe('Session row writes per read-only request', () => {
  it('When SESSION_TOUCH_AFTER_SECONDS is 60, then 200 reads write no session row', { timeout: 60_000 }, async () => {
    const result = await measureTouchWrites({ databaseUrl: await migratedDatabase(), touchAfterSeconds: 60, reads: READS });
    assert.equal(result.rowWrites, 0);
  });

  it('When it is 0 (connect-pg-simple), then every read writes its session row once', { timeout: 60_000 }, async () => {
    const result = await measureTouchWrites({ databaseUrl: await migratedDatabase(), touchAfterSeconds: 0, reads: READS });
    assert.equal(result.rowWrites, READS);
  });
});
