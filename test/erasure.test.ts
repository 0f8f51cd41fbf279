// Erasure against the real stack: a customer erased by phone or by BSUID, a whole business erased
// on request, by the operator command and on disconnect (DELETE_DATA_ON_DISCONNECT), each checked
// the way an auditor would: the database dump holds none of it, while other customers' data stays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEraseArgs, runErase } from '../src/commands/erase.js';
import { rejectItem } from '../src/store/outbox.js';
import { recipientKey } from '../src/store/pacer.js';
import { erasureWorkflowId, messageWorkflowId, tokenScheduleId } from '../src/temporal/names.js';
import {
  customerWritesIn,
  dumpDatabase,
  erasureDone,
  newPhone,
  postErasure,
  until,
  type WrittenCustomer,
} from './helpers/erasure.js';
import { newBusinessId } from './helpers/factories.js';
import { historyTexts } from './helpers/history.js';
import { authHeaders } from './helpers/jwt.js';
import { connectedIntegration } from './helpers/connected.js';
import { getStatus } from './helpers/meta-flow.js';
import { startStack, type Stack } from './helpers/stack.js';

function expectGone(dump: string, customer: WrittenCustomer) {
  expect(dump).not.toContain(customer.phone);
  expect(dump).not.toContain(customer.bsuid);
  expect(dump).not.toContain(customer.text);
}

describe('erasure', () => {
  let stack: Stack;
  let api: string;

  beforeAll(async () => {
    stack = await startStack({
      api: true,
      sandbox: true,
      env: { CALLBACK_WAIT_MS: '3000', DELETE_DATA_ON_DISCONNECT: 'true' },
    });
    api = stack.api!.url;
  });
  afterAll(() => stack?.close());

  it('erases one customer by phone and another by BSUID, and keeps everyone else', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const [byPhone, byBsuid, kept] = [
      await customerWritesIn(stack, phoneNumberId),
      await customerWritesIn(stack, phoneNumberId),
      await customerWritesIn(stack, phoneNumberId),
    ];
    // A send of the business's own to the customer erased by phone (a template-free text, inside the window).
    const sent = await fetch(`${api}/api/integrations/whatsapp/messages`, {
      method: 'POST',
      headers: { ...(await authHeaders(businessId)), 'content-type': 'application/json', 'idempotency-key': 'e1' },
      body: JSON.stringify({ to: `+${byPhone.phone}`, phoneNumberId, text: `${byPhone.text} (sent)` }),
    });
    expect(sent.status).toBe(202);
    const { id: sendId } = (await sent.json()) as { id: number };
    await until(async () => (await stack.db('messages').where({ id: sendId }).first())?.status === 'read', 'the send');

    // What intake keeps of an item PostgreSQL refused quotes the customer too.
    await rejectItem(stack.db, 'message', '22021: test', { from: byPhone.phone, text: { body: byPhone.text } });
    expect(await stack.db('send_pacing').where({ recipient: recipientKey(byPhone.phone) })).toHaveLength(1);

    const first = await postErasure(api, businessId, {
      phone: `+${byPhone.phone.slice(0, 2)} ${byPhone.phone.slice(2)}`,
    });
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { id: string; scope: string; state: string };
    expect(accepted).toMatchObject({ scope: 'customer' });
    expect(first.headers.get('location')).toBe(`/api/integrations/whatsapp/erasures/${accepted.id}`);
    const second = await postErasure(api, businessId, { bsuid: byBsuid.bsuid });
    expect(second.status).toBe(202);

    const done = await erasureDone(api, businessId, accepted.id);
    expect(done.deleted.messages).toBeGreaterThanOrEqual(3);
    expect(done.deleted.statuses).toBeGreaterThanOrEqual(6);
    expect(done.deleted.customers).toBe(1);
    expect(JSON.stringify(done)).not.toContain(byPhone.phone);
    await erasureDone(api, businessId, ((await second.json()) as { id: string }).id);

    const dump = await dumpDatabase();
    expectGone(dump, byPhone);
    expectGone(dump, byBsuid);
    expect(dump).toContain(kept.phone);
    expect(await stack.db('send_pacing').where({ recipient: recipientKey(byPhone.phone) })).toHaveLength(0);
    expect(await stack.db('send_pacing').where({ recipient: recipientKey(kept.phone) })).toHaveLength(1);
    expect(dump).toContain(kept.text);
    // The audit row: whom (a keyed hash), when, how much; never the target once done.
    const audit = await stack.db('erasures').where({ id: accepted.id }).first();
    expect(audit).toMatchObject({ state: 'done', target: null, subject_kind: 'phone', source: 'api' });
    expect(audit!.subject_hash).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{64}$/);

    // The workflow's history holds ids only.
    const history = await historyTexts(stack, erasureWorkflowId(accepted.id));
    expect(history.plaintext).toContain('"done":true');
    for (const secret of [byPhone.phone, byPhone.bsuid, byPhone.text])
      for (const text of [history.raw, history.stored, history.plaintext]) expect(text).not.toContain(secret);

    // The customer writes again: a new conversation begins, answered as any other.
    const again = await customerWritesIn(stack, phoneNumberId, byPhone.phone);
    expect(again.phone).toBe(byPhone.phone);
  });

  it('erases a username customer Meta never showed the phone of, by BSUID', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const hidden = await customerWritesIn(stack, phoneNumberId, newPhone(), { username: `user${Date.now()}` });
    const res = await postErasure(api, businessId, { bsuid: hidden.bsuid });
    const done = await erasureDone(api, businessId, ((await res.json()) as { id: string }).id);
    expect(done.deleted.customers).toBe(1);
    expectGone(await dumpDatabase(), hidden);
  });

  it('ends the workflow of a message erased while it is handled, without failing it', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const phone = newPhone();
    const { messageId: wamid } = stack.sandbox!.state.sendCustomerMessage({ phoneNumberId, from: phone, text: 'hi' });
    const row = await until(() => stack.db('messages').where({ wamid }).first(), 'the message');
    const erasure = (await (await postErasure(api, businessId, { phone })).json()) as { id: string };
    await erasureDone(api, businessId, erasure.id);
    const result = await stack.client.workflow.getHandle(messageWorkflowId(row.id)).result();
    expect(result).toHaveProperty('outcome');
    expect(await stack.db('messages').where({ id: row.id }).first()).toBeUndefined();
  });

  it('erases everything a business has on request, and stops it at Meta and in Temporal first', async () => {
    const { businessId, integrationId, phoneNumberId } = await connectedIntegration(stack);
    const wabaId = (await getStatus(api, businessId)).accounts[0].wabaId as string;
    const customer = await customerWritesIn(stack, phoneNumberId);
    const res = await postErasure(api, businessId, { scope: 'business' });
    expect(res.status).toBe(202);
    const done = await erasureDone(api, businessId, ((await res.json()) as { id: string }).id);
    expect(done).toMatchObject({ scope: 'business', state: 'done' });
    expect(done.deleted.integrations).toBe(1);

    expectGone(await dumpDatabase(), customer);
    expect(await stack.db('channel_integrations').where({ business_id: businessId })).toHaveLength(0);
    expect(await stack.db('whatsapp_phone_numbers').where({ phone_number_id: phoneNumberId })).toHaveLength(0);
    expect(await stack.db('message_templates').where({ waba_id: wabaId })).toHaveLength(0);
    await expect(stack.client.schedule.getHandle(tokenScheduleId(integrationId)).describe()).rejects.toThrow();
    expect(stack.sandbox!.state.subscriptions(wabaId).subscribed).toBe(false);
    expect((await getStatus(api, businessId)).connected).toBe(false);
  });

  it('erases a business from the operator command', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const customer = await customerWritesIn(stack, phoneNumberId);
    const args = parseEraseArgs(['--business', businessId, '--wait']);
    expect(typeof args).toBe('object');
    const row = await runErase(stack.config, args as Exclude<typeof args, string>, () => undefined);
    expect(row).toMatchObject({ state: 'done', source: 'operator', scope: 'business' });
    expectGone(await dumpDatabase(), customer);
    expect(parseEraseArgs(['--phone', '4400011122'])).toBe('usage');
  });

  it('erases a business after it disconnects when DELETE_DATA_ON_DISCONNECT is set', async () => {
    const { businessId, phoneNumberId } = await connectedIntegration(stack);
    const customer = await customerWritesIn(stack, phoneNumberId);
    const res = await fetch(`${api}/api/integrations/whatsapp/disconnect`, {
      method: 'DELETE',
      headers: await authHeaders(businessId),
    });
    expect(res.status).toBe(200);
    const erasure = await until(
      async () => stack.db('erasures').where({ business_id: businessId, source: 'disconnect', state: 'done' }).first(),
      'the erasure after the disconnect',
    );
    expect(erasure.counts.messages).toBeGreaterThanOrEqual(2);
    expectGone(await dumpDatabase(), customer);
  });

  it('erases a business whose app Meta uninstalled, and one whose last number Meta offboarded', async () => {
    const removed = await connectedIntegration(stack);
    const removedCustomer = await customerWritesIn(stack, removed.phoneNumberId);
    stack.sandbox!.state.uninstallApp((await getStatus(api, removed.businessId)).accounts[0].wabaId as string);

    const account = stack.sandbox!.state.createAccount({ numbers: 1, coexistence: true });
    const offboarded = newBusinessId();
    await connectedIntegration(stack, { businessId: offboarded, wabaId: account.wabaId });
    const offboardedCustomer = await customerWritesIn(stack, account.phoneNumberIds[0]!);
    stack.sandbox!.state.emitAccountEvent({
      wabaId: account.wabaId,
      field: 'account_update',
      event: 'ACCOUNT_OFFBOARDED',
    });

    for (const businessId of [removed.businessId, offboarded])
      await until(
        async () =>
          stack.db('erasures').where({ business_id: businessId, source: 'account_event', state: 'done' }).first(),
        `the erasure of ${businessId}`,
      );
    const dump = await dumpDatabase();
    expectGone(dump, removedCustomer);
    expectGone(dump, offboardedCustomer);
  });

  it('refuses an erasure that names no one', async () => {
    const businessId = newBusinessId();
    const anonymous = await fetch(`${api}/api/integrations/whatsapp/erasures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scope: 'business' }),
    });
    expect(anonymous.status).toBe(401);
    for (const body of [{}, { phone: 'abc' }, { phone: '4400011122', bsuid: 'US.1' }, { scope: 'everything' }]) {
      const res = await postErasure(api, businessId, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
  });
});
