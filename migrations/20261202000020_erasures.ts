import type { Knex } from 'knex';

// Erasures: a customer's or a whole business's data deleted on request, and the audit of each one.
// While an erasure runs, its target (the phone or BSUID to find rows by) is kept encrypted; once it
// is done only a keyed hash of whom it concerned stays, with when and how many rows went. Meta's
// data-deletion callback records one request per call (its confirmation code, a keyed hash of the
// Facebook user) with the business erasures it started.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('data_deletion_requests', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('confirmation_code').notNullable().unique('data_deletion_requests_code_key');
    // HMAC of the app-scoped Facebook user id Meta sent; never the id itself.
    t.text('user_hash').notNullable();
    t.timestamp('requested_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('erasures', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('business_id').notNullable();
    t.text('scope').notNullable();
    t.text('subject_kind').notNullable();
    // HMAC (key id and hex) of the phone, BSUID or business id: who it was for, not who they are.
    t.text('subject_hash').notNullable();
    // The identifiers to find rows by, encrypted; null once the erasure is done.
    t.text('target');
    t.text('source').notNullable();
    t.uuid('deletion_request_id').references('id').inTable('data_deletion_requests').onDelete('SET NULL');
    t.text('state').notNullable().defaultTo('pending');
    // Rows deleted, by kind: {"messages": 12, "statuses": 30, ...}.
    t.jsonb('counts').notNullable().defaultTo('{}');
    t.timestamp('requested_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true });
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['business_id', 'requested_at'], 'idx_erasures_business_requested');
    t.index(['deletion_request_id'], 'idx_erasures_deletion_request');
  });
  await knex.raw(`ALTER TABLE erasures ADD CONSTRAINT erasures_scope_check CHECK (scope IN ('customer', 'business'))`);
  await knex.raw(
    `ALTER TABLE erasures ADD CONSTRAINT erasures_subject_kind_check CHECK (subject_kind IN ('phone', 'bsuid', 'business'))`,
  );
  await knex.raw(`ALTER TABLE erasures ADD CONSTRAINT erasures_source_check
    CHECK (source IN ('api', 'operator', 'disconnect', 'account_event', 'meta_data_deletion'))`);
  await knex.raw(
    `ALTER TABLE erasures ADD CONSTRAINT erasures_state_check CHECK (state IN ('pending', 'running', 'done'))`,
  );
  // Only a running erasure may hold its target.
  await knex.raw(`ALTER TABLE erasures ADD CONSTRAINT erasures_target_check CHECK (state <> 'done' OR target IS NULL)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('erasures');
  await knex.schema.dropTable('data_deletion_requests');
}
