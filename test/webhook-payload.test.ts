import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../src/meta/signature.js';
import { parseWebhook, storable } from '../src/meta/webhook-payload.js';

const value = (extra: Record<string, unknown>) => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: 'WABA1',
      changes: [
        {
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '15550001', phone_number_id: 'PN1' },
            ...extra,
          },
        },
      ],
    },
  ],
});

describe('webhook payload', () => {
  it('reads messages with their contact names, and statuses', () => {
    const parsed = parseWebhook(
      value({
        contacts: [{ profile: { name: 'Ana' }, wa_id: '4915' }],
        messages: [
          { from: '4915', id: 'wamid.A', timestamp: '1700000000', type: 'text', text: { body: 'hi' } },
          {
            from: '4915',
            id: 'wamid.B',
            timestamp: '1700000001',
            type: 'image',
            image: { id: 'm1', mime_type: 'image/jpeg' },
          },
        ],
        statuses: [
          {
            id: 'wamid.OUT',
            status: 'failed',
            timestamp: '1700000002',
            recipient_id: '4915',
            errors: [{ code: 131047, title: 'Re-engagement message' }],
          },
        ],
      }),
    );
    expect(parsed.messages).toHaveLength(2);
    expect(parsed.messages[0]).toMatchObject({
      wamid: 'wamid.A',
      phoneNumberId: 'PN1',
      wabaId: 'WABA1',
      from: '4915',
      contactName: 'Ana',
      sentAt: 1_700_000_000_000,
      type: 'text',
      text: 'hi',
    });
    expect(parsed.messages[1]!.content).toMatchObject({ image: { id: 'm1' } });
    expect(parsed.statuses).toEqual([
      {
        wamid: 'wamid.OUT',
        status: 'failed',
        phoneNumberId: 'PN1',
        recipientId: '4915',
        recipientUserId: null,
        callbackData: null,
        occurredAt: 1_700_000_002_000,
        errors: [{ code: 131047, title: 'Re-engagement message', message: null }],
      },
    ]);
    expect(parsed.skipped).toEqual([]);
  });

  it('skips malformed items but keeps the valid ones beside them', () => {
    const parsed = parseWebhook(
      value({
        messages: [
          { from: '1', timestamp: '1', type: 'text' },
          42,
          { from: '1', id: 'wamid.ok', timestamp: 1700000000, type: 'text', text: { body: 'x' } },
        ],
        statuses: [{ id: 'x', status: 'exploded', timestamp: '1' }],
      }),
    );
    expect(parsed.messages.map((m) => m.wamid)).toEqual(['wamid.ok']);
    expect(parsed.statuses).toEqual([]);
    expect(parsed.skipped).toHaveLength(3);
  });

  it('never throws on JSON that is not a WhatsApp payload', () => {
    for (const body of [
      null,
      1,
      'x',
      [],
      {},
      { object: 'page', entry: [] },
      { object: 'whatsapp_business_account', entry: 'no' },
      { object: 'whatsapp_business_account', entry: [{ changes: [{ field: 'messages', value: null }] }] },
    ]) {
      const parsed = parseWebhook(body);
      expect(parsed.messages).toEqual([]);
    }
  });

  it('passes account events through for their own handling', () => {
    const parsed = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'W',
          changes: [
            { field: 'account_update', value: { event: 'ACCOUNT_VIOLATION' } },
            { field: 'templates', value: {} },
          ],
        },
      ],
    });
    expect(parsed.accountEvents).toEqual([
      { field: 'account_update', wabaId: 'W', entryId: 'W', entryTime: null, value: { event: 'ACCOUNT_VIOLATION' } },
    ]);
    const partner = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'PARTNER_BIZ',
          time: 1700000000,
          changes: [{ field: 'account_update', value: { event: 'PARTNER_REMOVED', waba_info: { waba_id: 'W2' } } }],
        },
      ],
    });
    expect(partner.accountEvents[0]).toMatchObject({ wabaId: 'W2', entryId: 'PARTNER_BIZ', entryTime: 1700000000 });
    expect(parsed.skipped).toEqual(['field other not handled']);
  });

  it('reads the message a revoke deletes, and nothing from a malformed one', () => {
    const parsed = parseWebhook(
      value({
        messages: [
          {
            from: '4915',
            id: 'wamid.R1',
            timestamp: '1700000000',
            type: 'revoke',
            revoke: { original_message_id: 'wamid.A' },
          },
          { from: '4915', id: 'wamid.R2', timestamp: '1700000000', type: 'revoke', revoke: { original_message_id: 7 } },
          { from: '4915', id: 'wamid.R3', timestamp: '1700000000', type: 'revoke' },
          {
            from: '4915',
            id: 'wamid.T',
            timestamp: '1700000000',
            type: 'text',
            revoke: { original_message_id: 'wamid.A' },
          },
        ],
      }),
    );
    expect(parsed.messages.map((m) => m.revokedWamid)).toEqual(['wamid.A', null, null, null]);
  });

  it('reads user_id_update items as identity changes, skipping those without both ids', () => {
    const long = `US.${'7'.repeat(128)}`;
    const parsed = parseWebhook({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'W',
          changes: [
            {
              field: 'user_id_update',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001', phone_number_id: 'PN1' },
                contacts: [{ profile: { name: 'Ana' }, wa_id: '4915' }],
                user_id_update: [
                  {
                    wa_id: '4915',
                    detail: 'User id for Ana has been updated.',
                    user_id: { previous: 'US.111', current: long },
                    parent_user_id: { previous: 'US.ENT.111', current: 'US.ENT.222' },
                    timestamp: '1700000003',
                  },
                  { wa_id: '4915', user_id: { previous: 'US.111' } },
                  { user_id: { previous: 'US.1', current: `US.${'7'.repeat(200)}` } },
                  'not an object',
                ],
              },
            },
            { field: 'user_id_update', value: { user_id_update: [] } },
          ],
        },
      ],
    });
    expect(parsed.identityUpdates).toEqual([
      {
        phoneNumberId: 'PN1',
        wabaId: 'W',
        change: {
          kind: 'user_id_update',
          previousUserId: 'US.111',
          newPhone: null,
          newUserId: long,
          newParentUserId: 'US.ENT.222',
        },
      },
    ]);
    expect(parsed.skipped).toEqual([
      ...Array(3).fill('user_id_update without user_id.previous and user_id.current'),
      'user_id_update change without metadata.phone_number_id',
    ]);
  });
});

describe('storable', () => {
  it('drops NUL characters and replaces lone surrogates, which PostgreSQL refuses', () => {
    expect(storable({ 'k\u0000': ['a\u0000b', '\ud800x', 1, null, '𝄞'] })).toEqual({
      k: ['ab', '\ufffdx', 1, null, '𝄞'],
    });
  });
});

describe('webhook signature', () => {
  it('verifies sha256 HMACs over the exact bytes, and nothing else', () => {
    const body = Buffer.from('{"a":1}');
    const header = signBody(body, 'secret');
    expect(verifySignature(body, header, 'secret')).toBe(true);
    expect(verifySignature(Buffer.from('{"a": 1}'), header, 'secret')).toBe(false);
    expect(verifySignature(body, header, 'other')).toBe(false);
    expect(verifySignature(body, header.slice(0, -2), 'secret')).toBe(false);
    expect(verifySignature(body, header.replace('sha256=', 'sha1='), 'secret')).toBe(false);
    expect(verifySignature(body, undefined, 'secret')).toBe(false);
    expect(verifySignature(body, 'sha256=zz', 'secret')).toBe(false);
  });
});

// Bodies below are the examples of Meta's webhooks reference pages (messages/edit, messages/group,
// messages/unsupported, messages/errors, messages/status), ids shortened.
describe('Meta 2026 message types and statuses', () => {
  const contacts = [{ profile: { name: 'Sheena Nelson' }, wa_id: '16505551234' }];

  it('reads an edit: the message it changes and the new caption or text', () => {
    const parsed = parseWebhook(
      value({
        contacts,
        messages: [
          {
            from: '16505551234',
            id: 'wamid.EDIT1',
            timestamp: '1749854575',
            type: 'edit',
            edit: {
              original_message_id: 'wamid.ORIG1',
              message: {
                context: { id: 'M0' },
                type: 'image',
                image: {
                  caption: 'Updated image caption',
                  mime_type: 'image/jpeg',
                  sha256: 'a1b2c3d4e5f6...',
                  id: '1234567890',
                  url: 'https://media.example.com/updated-image.jpg',
                },
              },
            },
          },
          {
            from: '16505551234',
            id: 'wamid.EDIT2',
            timestamp: '1749854576',
            type: 'edit',
            edit: { original_message_id: 'wamid.ORIG2', message: { type: 'text', text: { body: 'the new words' } } },
          },
        ],
      }),
    );
    expect(parsed.messages.map((m) => [m.type, m.text, m.edit])).toEqual([
      ['edit', null, { originalWamid: 'wamid.ORIG1', text: 'Updated image caption' }],
      ['edit', null, { originalWamid: 'wamid.ORIG2', text: 'the new words' }],
    ]);
  });

  it('reads the group a message was written in', () => {
    const parsed = parseWebhook(
      value({
        contacts,
        messages: [
          {
            from: '16505551234',
            group_id: 'Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD',
            id: 'wamid.GROUP1',
            timestamp: '1739321024',
            text: { body: 'Hello group' },
            type: 'text',
          },
        ],
      }),
    );
    expect(parsed.messages[0]).toMatchObject({
      groupId: 'Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD',
      text: 'Hello group',
    });
  });

  it('keeps an unsupported message with its errors as Meta sent them', () => {
    const item = {
      from: '16505551234',
      id: 'wamid.UNSUP1',
      timestamp: '1739321024',
      errors: [
        {
          code: 131051,
          title: 'Message type unknown',
          message: 'Message type unknown',
          error_data: { details: 'Message type is currently not supported.' },
        },
      ],
      type: 'unsupported',
      unsupported: { type: 'poll_update' },
    };
    const parsed = parseWebhook(value({ contacts, messages: [item] }));
    expect(parsed.messages[0]).toMatchObject({ type: 'unsupported', content: item });
  });

  it('reads played statuses with pricing, conversation and error details', () => {
    const parsed = parseWebhook(
      value({
        statuses: [
          {
            id: 'wamid.S1',
            status: 'sent',
            timestamp: '1750030073',
            recipient_id: '16505551234',
            conversation: {
              id: '72b14d6bd5407799e66f64d1b338e567',
              expiration_timestamp: '1750116480',
              origin: { type: 'marketing' },
            },
            pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
          },
          { id: 'wamid.S1', status: 'played', timestamp: '1750030099', recipient_id: '16505551234' },
          {
            id: 'wamid.S2',
            status: 'failed',
            timestamp: '1751142888',
            recipient_id: '16505551234',
            errors: [
              {
                code: 131049,
                title: 'This message was not delivered to maintain healthy ecosystem engagement.',
                message: 'This message was not delivered to maintain healthy ecosystem engagement.',
                error_data: {
                  details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
                },
                href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
              },
            ],
          },
        ],
      }),
    );
    expect(parsed.statuses.map((s) => s.status)).toEqual(['sent', 'played', 'failed']);
    expect(parsed.statuses[0]).toMatchObject({
      pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing' },
      conversation: { id: '72b14d6bd5407799e66f64d1b338e567', origin: { type: 'marketing' } },
    });
    expect(parsed.statuses[1]!.pricing).toBeUndefined();
    expect(parsed.statuses[1]!.conversation).toBeUndefined();
    expect(parsed.statuses[2]!.errors).toEqual([
      {
        code: 131049,
        title: 'This message was not delivered to maintain healthy ecosystem engagement.',
        message: 'This message was not delivered to maintain healthy ecosystem engagement.',
        details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
      },
    ]);
  });

  it("reads a change's own errors, which belong to no message", () => {
    const parsed = parseWebhook(
      value({
        errors: [
          {
            code: 130429,
            title: 'Rate limit hit',
            message: 'Rate limit hit',
            error_data: { details: 'Cloud API message throughput has been reached.' },
            href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
          },
        ],
      }),
    );
    expect(parsed.messages).toEqual([]);
    expect(parsed.changeErrors).toEqual([
      {
        phoneNumberId: 'PN1',
        wabaId: 'WABA1',
        error: {
          code: 130429,
          title: 'Rate limit hit',
          message: 'Rate limit hit',
          details: 'Cloud API message throughput has been reached.',
        },
      },
    ]);
  });
});
