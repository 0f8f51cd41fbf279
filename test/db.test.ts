// Database errors never carry bound values: message text and secrets stay out of errors, failures
// and logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb, type Db } from '../src/db.js';

describe('database errors', () => {
  let db: Db;
  beforeAll(() => {
    db = createDb(inject('databaseUrl'), { poolMax: 2 });
  });
  afterAll(() => db?.destroy());

  it('name the statement but not the values bound to it', async () => {
    const secret = `customer wrote: my card is 4111-1111-${Date.now()}`;
    const error = (await db('token_staging')
      .insert({ connect_id: secret, kind: 'not-a-kind' as never, ciphertext: secret, purge_after: new Date() })
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/token_staging_kind_check/);
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(secret);
  });

  it('keep the values out inside a transaction, and out of a unique violation', async () => {
    const secret = `message text ${Date.now()}`;
    const row = { connect_id: secret, kind: 'code' as const, ciphertext: 'c', purge_after: new Date() };
    await db('token_staging').insert(row);
    try {
      const error = (await db.transaction((trx) => trx('token_staging').insert(row)).catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(/token_staging_pkey/);
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(secret);
    } finally {
      await db('token_staging').where({ connect_id: secret }).delete();
    }
  });
});
