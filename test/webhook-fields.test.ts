// Every webhook field we list is acknowledged and counted by name over real HTTP; an unlisted one
// is counted as `other`; neither error nor log line carries a change's values. The Meta sandbox keeps
// its own list of the fields an app can subscribe to: it must be ours.
import {
  SUBSCRIBABLE_FIELDS as SANDBOX_SUBSCRIBABLE_FIELDS,
  WEBHOOK_OBJECT as SANDBOX_WEBHOOK_OBJECT,
} from '@waconnect/meta-sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBSCRIBABLE_FIELDS, WEBHOOK_FIELDS, WEBHOOK_OBJECT } from '../src/meta/webhook-fields.js';
import { startStack, type Stack } from './helpers/stack.js';
import { postWebhook } from './helpers/webhooks.js';

// A phone number inside the values: it must never reach a log line.
const PHONE = '4915199887766';

/** One change of a field. No entry id, so a processed field's change is parsed but creates no work. */
const change = (field: string, value: unknown) => ({
  object: 'whatsapp_business_account',
  entry: [{ time: 1_764_000_000, changes: [{ field, value }] }],
});

describe('the Meta sandbox’s webhook fields', () => {
  it('are the fields we list as subscribable, of the same object', () => {
    expect([...SANDBOX_SUBSCRIBABLE_FIELDS].sort()).toEqual([...SUBSCRIBABLE_FIELDS].sort());
    expect(SANDBOX_WEBHOOK_OBJECT).toBe(WEBHOOK_OBJECT);
  });
});

describe('webhook fields', () => {
  let stack: Stack;
  let api: string;
  let metrics: string;
  const lines: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ api: true, worker: false, logLines: lines, env: { METRICS_PORT: '0' } });
    api = stack.api!.url;
    metrics = `${stack.api!.metricsUrl}/metrics`;
  });
  afterAll(() => stack?.close());

  async function fieldCount(field: string): Promise<number> {
    const text = await (await fetch(metrics)).text();
    const pattern = new RegExp(
      `^waconnect_webhook_fields_total\\{field="${field}",processed="(?:true|false)"\\} (\\d+)`,
      'm',
    );
    return Number(text.match(pattern)?.[1] ?? 0);
  }

  it('answers 200 to a change of every listed field and counts it by name', async () => {
    for (const { name, handling } of WEBHOOK_FIELDS) {
      const before = await fieldCount(name);
      const res = await postWebhook(api, change(name, { wa_id: PHONE, event: 'TEST', detail: `about ${PHONE}` }));
      expect(res.status, name).toBe(200);
      expect(await fieldCount(name), name).toBe(before + 1);
      const text = await (await fetch(metrics)).text();
      expect(text).toContain(`waconnect_webhook_fields_total{field="${name}",processed="${handling === 'processed'}"}`);
    }
    expect(lines.join('\n')).not.toContain(PHONE);
  });

  it('answers 200 to an unlisted field and counts it as other, without its name or values in a log', async () => {
    const before = await fieldCount('other');
    const res = await postWebhook(api, change('made_up_field_x9', { phone: PHONE }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect(await fieldCount('other')).toBe(before + 1);
    const text = await (await fetch(metrics)).text();
    expect(text).not.toContain('made_up_field_x9');
    const log = lines.join('\n');
    expect(log).not.toContain('made_up_field_x9');
    expect(log).not.toContain(PHONE);
  });
});
