// What the erasure tests share: a customer who wrote in and got answered (statuses included), an
// erasure followed until done, and the whole test database as pg_dump writes it.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { authHeaders } from './jwt.js';
import type { Stack } from './stack.js';

const run = promisify(execFile);

/** Polls an async probe until it answers something truthy (a busy machine may take a while). */
export async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A phone number no other test writes: 44 and 10 random digits. */
export function newPhone(): string {
  return `44${randomInt(1_000_000_000, 9_999_999_999)}`;
}

export interface WrittenCustomer {
  phone: string;
  bsuid: string;
  text: string;
}

/**
 * A customer writes to the number and gets the bot's reply; returns once Meta's statuses of that
 * reply (sent, delivered, read) are stored, so nothing of the exchange is still on its way.
 */
export async function customerWritesIn(
  stack: Stack,
  phoneNumberId: string,
  phone = newPhone(),
  options: { username?: string } = {},
) {
  const text = `order ${randomInt(1e9)} for ${phone.slice(-4)}`;
  const { messageId } = stack.sandbox!.state.sendCustomerMessage({
    phoneNumberId,
    from: phone,
    type: 'text',
    text,
    ...(options.username ? { username: options.username } : {}),
  });
  await until(
    async () => (await stack.db('messages').where({ wamid: messageId }).first())?.status === 'replied',
    'the reply',
  );
  const bsuid = stack
    .sandbox!.state.customerList()
    .find((c) => c.waId === phone && c.phoneNumberId === phoneNumberId)!.bsuid;
  await until(
    async () =>
      (await stack.db('message_statuses').where({ recipient_user_id: bsuid, status: 'read' }).first()) !== undefined,
    'the reply read',
  );
  return { phone, bsuid, text } satisfies WrittenCustomer;
}

export async function postErasure(api: string, businessId: string, body: unknown) {
  return fetch(`${api}/api/integrations/whatsapp/erasures`, {
    method: 'POST',
    headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

// Tests read whatever the API answers.
export async function erasureDone(api: string, businessId: string, id: string): Promise<any> {
  return until(async () => {
    const res = await fetch(`${api}/api/integrations/whatsapp/erasures/${id}`, {
      headers: await authHeaders(businessId),
    });
    const body = (await res.json()) as { state: string };
    return body.state === 'done' ? body : undefined;
  }, `erasure ${id}`);
}

/** Every row of the test database, as `pg_dump --data-only` writes it. */
export async function dumpDatabase(): Promise<string> {
  const { stdout } = await run('pg_dump', ['--data-only', '--no-owner', inject('databaseUrl')], {
    maxBuffer: 512 * 1024 * 1024,
  });
  return stdout;
}
