// The path of one webhook, from the route Meta posts to the Graph call that sends the reply, read by
// file names alone: each file on it hands the message to the next by a name this test looks for,
// no file on it reaches back into a layer above its own, and the whole path stays within 8 files.
// README's architecture section walks the same path.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/paths.js';

interface Hop {
  file: string;
  /** What the file does on the path. */
  step: string;
  /** The file that hands the message here, and the name (defined here) it calls. */
  from?: { file: string; calls: string };
}

const WEBHOOK_PATH: Hop[] = [
  { file: 'src/http/webhooks.ts', step: 'the route: byte budget, signature, JSON, parse' },
  {
    file: 'src/services/webhooks.ts',
    step: 'accept: intake, then start each message workflow',
    from: { file: 'src/http/webhooks.ts', calls: 'acceptWebhook' },
  },
  {
    file: 'src/store/intake.ts',
    step: 'one transaction: customers, messages, turns, outbox rows',
    from: { file: 'src/services/webhooks.ts', calls: 'intakeWebhook' },
  },
  {
    file: 'src/temporal/start.ts',
    step: 'start a workflow, counted by type and result',
    from: { file: 'src/services/webhooks.ts', calls: 'startWorkflow' },
  },
  {
    file: 'workflows/handle-inbound-message.ts',
    step: 'open, wait for the turn, answer, send once',
    from: { file: 'src/services/webhooks.ts', calls: 'handleInboundMessage' },
  },
  {
    file: 'activities/inbound.ts',
    step: 'mark read, respond, send exactly once',
    from: { file: 'workflows/handle-inbound-message.ts', calls: 'sendTurnReply' },
  },
  {
    file: 'activities/meta-send.ts',
    step: "token, pacer slot, the call, Meta's refusal sorted",
    from: { file: 'activities/inbound.ts', calls: 'sendRow' },
  },
  {
    file: 'src/meta/graph-client.ts',
    step: 'POST /{phone-number-id}/messages',
    from: { file: 'activities/meta-send.ts', calls: 'sendMessage' },
  },
];

/** Layers from the top: a file may import its own layer or one below, never one above. */
const LAYERS: Array<[string, number]> = [
  ['src/http/', 0],
  ['src/services/', 1],
  ['workflows/', 2],
  ['activities/', 3],
  ['src/temporal/', 4],
  ['src/store/', 5],
  ['src/meta/', 5],
  ['src/policy/', 6],
  ['src/reply/', 6],
  ['src/media/', 6],
];
const layerOf = (file: string) => LAYERS.find(([prefix]) => file.startsWith(prefix))?.[1] ?? 7;

const source = (file: string) => readFileSync(join(projectRoot, file), 'utf8');

/** Relative imports of a file, resolved to repository paths, type-only ones marked. */
function importsOf(file: string): Array<{ target: string; typeOnly: boolean; names: string }> {
  const found = [];
  for (const m of source(file).matchAll(/^import (type )?([^;]*?) from '(\.[^']+)';/gms)) {
    const target = relative(projectRoot, normalize(join(projectRoot, dirname(file), m[3]!))).replace(/\.js$/, '.ts');
    found.push({ target, typeOnly: Boolean(m[1]), names: m[2]! });
  }
  return found;
}

describe('the path of one webhook', () => {
  it('crosses at most 8 files', () => {
    expect(WEBHOOK_PATH.length).toBeLessThanOrEqual(8);
  });

  it('hands on from each file to the next by a name the next one defines', () => {
    for (const hop of WEBHOOK_PATH) {
      if (!hop.from) continue;
      const { file, calls } = hop.from;
      expect(WEBHOOK_PATH.map((h) => h.file)).toContain(file);
      expect(source(file), `${file} calls ${calls}`).toMatch(new RegExp(`\\b${calls}\\b`));
      expect(source(hop.file), `${hop.file} defines ${calls}`).toMatch(
        new RegExp(`(function|async|const|class) ${calls}\\b|^\\s+(async )?${calls}\\(`, 'm'),
      );
    }
  });

  it('starts the workflow by the type its module exports', () => {
    expect(source('src/services/webhooks.ts')).toMatch(/workflowTypes\.handleInboundMessage/);
    expect(source('workflows/index.ts')).toMatch(/\bhandleInboundMessage\b.*'\.\/handle-inbound-message\.js'/);
  });

  it('never reaches back into a layer above the file it is in', () => {
    const backward: string[] = [];
    for (const { file } of WEBHOOK_PATH) {
      for (const entry of importsOf(file)) {
        if (layerOf(entry.target) < layerOf(file)) backward.push(`${file} -> ${entry.target}`);
      }
    }
    expect(backward).toEqual([]);
  });
});

/** Where SQL may be written: the store, and db.ts (the pool, prepared statements, the readiness ping). */
const QUERY_HOMES = ['src/store/', 'src/db.ts'];
/**
 * A knex query: a table called as a function (`db('messages')`, `trx("turns")`), raw SQL, or a
 * builder started on the connection (`db.select(`, `trx.insert(`); a store call such as
 * `readStatus(db, ...)` or `db.transaction(` is none of these.
 */
const KNEX_QUERY =
  /\b(?:db|trx|tx|knex)\s*\(\s*['"`]|\.(?:raw|whereRaw|selectRaw|joinRaw|orderByRaw|havingRaw)\s*\(|\b(?:db|trx|tx|knex)\s*\.\s*(?:select|from|insert|update|delete|del|table|into|with|queryBuilder|schema|fn|ref)\b/;

describe('database queries', () => {
  it('are written in src/store/ only, never in routes, services, commands, workflows or activities', () => {
    const files = ['src', 'workflows', 'activities'].flatMap((dir) =>
      readdirSync(join(projectRoot, dir), { recursive: true, encoding: 'utf8' })
        .map((file) => join(dir, file))
        .filter((file) => file.endsWith('.ts') && !QUERY_HOMES.some((home) => file.startsWith(home))),
    );
    const queries: string[] = [];
    for (const file of files) {
      const code = source(file).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      code.split('\n').forEach((line, i) => {
        if (KNEX_QUERY.test(line)) queries.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(files.length).toBeGreaterThan(50);
    expect(queries).toEqual([]);
  });
});
