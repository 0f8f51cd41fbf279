// Migrations are listed here rather than discovered on disk, so the same list runs from the
// TypeScript sources (tests) and from the compiled build (production). Append; never rename.
import type { Knex } from 'knex';
import * as m001 from './20261130000001_channel_integrations.js';
import * as m002 from './20261130000002_connect.js';
import * as m003 from './20261130000003_messages.js';
import * as m004 from './20261130000004_account_events.js';
import * as m005 from './20261130000005_conversations.js';
import * as m006 from './20261201000005_connect_session.js';
import * as m007 from './20261202000001_meta_types.js';
import * as m008 from './20261202000002_number_facts.js';
import * as m009 from './20261202000003_registration.js';
import * as m011 from './20261202000004_coexistence.js';
import * as m010 from './20261202000005_token_kinds_limits.js';
import * as m012 from './20261202000006_template_events.js';
import * as m013 from './20261202000007_send_pacing.js';
import * as m014 from './20261202000008_template_catalogue.js';
import * as m015 from './20261202000009_templates_sync.js';
import * as m016 from './20261202000011_pacing_recipients.js';
import * as m050 from './20261202000050_brain_answers.js';
import * as m060 from './20261202000060_abuse_limits.js';
import * as m017 from './20261202000010_outbound_sends.js';
import * as m018 from './20261202000012_retention_indexes.js';
import * as m020 from './20261202000020_erasures.js';
import * as m021 from './20261202000021_erasure_indexes.js';
import * as m030 from './20261202000030_handoff.js';
import * as m040 from './20261202000040_media.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  /** `{ transaction: false }` for a migration that builds indexes CONCURRENTLY. */
  config?: { transaction?: boolean };
}

const migrations: Array<[string, Migration]> = [
  ['20261130000001_channel_integrations', m001],
  ['20261130000002_connect', m002],
  ['20261130000003_messages', m003],
  ['20261130000004_account_events', m004],
  ['20261130000005_conversations', m005],
  ['20261201000005_connect_session', m006],
  ['20261202000001_meta_types', m007],
  ['20261202000002_number_facts', m008],
  ['20261202000003_registration', m009],
  ['20261202000004_coexistence', m011],
  ['20261202000005_token_kinds_limits', m010],
  ['20261202000006_template_events', m012],
  ['20261202000007_send_pacing', m013],
  ['20261202000008_template_catalogue', m014],
  ['20261202000009_templates_sync', m015],
  ['20261202000010_outbound_sends', m017],
  ['20261202000011_pacing_recipients', m016],
  ['20261202000012_retention_indexes', m018],
  ['20261202000020_erasures', m020],
  ['20261202000021_erasure_indexes', m021],
  ['20261202000030_handoff', m030],
  ['20261202000040_media', m040],
  ['20261202000050_brain_answers', m050],
  ['20261202000060_abuse_limits', m060],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
