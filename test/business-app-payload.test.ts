// Parsing the coexistence webhooks (history, smb_app_state_sync, smb_message_echoes) from bodies
// built as Meta's webhook references show them.
import { describe, expect, it } from 'vitest';
import { parseWebhook } from '../src/meta/webhook-payload.js';

const metadata = { display_phone_number: '15550783881', phone_number_id: '106540352242922' };
const body = (field: string, value: Record<string, unknown>) => ({
  object: 'whatsapp_business_account',
  entry: [
    { id: '102290129340398', changes: [{ field, value: { messaging_product: 'whatsapp', metadata, ...value } }] },
  ],
});

describe('coexistence webhook parsing', () => {
  it('reads an owner’s echo as an outbound message to the customer', () => {
    const parsed = parseWebhook(
      body('smb_message_echoes', {
        message_echoes: [
          {
            from: '15550783881',
            to: '+16505551234',
            id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=',
            timestamp: '1739321024',
            type: 'text',
            text: { body: "Here's the info you requested!" },
          },
        ],
      }),
    );
    expect(parsed.echoes).toEqual([
      expect.objectContaining({
        phoneNumberId: '106540352242922',
        customer: '16505551234',
        direction: 'outbound',
        sentAt: 1739321024_000,
        text: "Here's the info you requested!",
      }),
    ]);
    expect(parsed.messages).toEqual([]);
    expect(parsed.skipped).toEqual([]);
  });

  it('reads history threads in both directions with the chunk’s progress, and a refusal as errors', () => {
    const parsed = parseWebhook(
      body('history', {
        history: [
          {
            metadata: { phase: 0, chunk_order: 1, progress: 55 },
            threads: [
              {
                id: '16505551234',
                messages: [
                  {
                    from: '16505551234',
                    id: 'wamid.a',
                    timestamp: '1739230955',
                    type: 'text',
                    text: { body: 'Do you ship?' },
                    history_context: { status: 'READ' },
                  },
                  {
                    from: '15550783881',
                    to: '16505551234',
                    id: 'wamid.b',
                    timestamp: '1739230999',
                    type: 'image',
                    image: { caption: 'Our catalogue' },
                    history_context: { status: 'DELIVERED' },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(parsed.historyMessages?.map((m) => [m.wamid, m.direction, m.text, m.historyStatus])).toEqual([
      ['wamid.a', 'inbound', 'Do you ship?', 'READ'],
      ['wamid.b', 'outbound', 'Our catalogue', 'DELIVERED'],
    ]);
    expect(parsed.historyChunks).toEqual([
      expect.objectContaining({ phase: 0, chunkOrder: 1, progress: 55, errors: null, messages: 2 }),
    ]);

    const declined = parseWebhook(
      body('history', {
        history: [
          {
            errors: [
              {
                code: 2593109,
                title: 'History sharing is turned off by user',
                message: 'History sharing is turned off by user',
                error_data: { details: 'History sharing is turned off by user' },
              },
            ],
          },
        ],
      }),
    );
    expect(declined.historyChunks?.[0]?.errors?.[0]).toMatchObject({ code: 2593109 });
    expect(declined.historyMessages ?? []).toEqual([]);
  });

  it('reads contacts added and removed in the app', () => {
    const parsed = parseWebhook(
      body('smb_app_state_sync', {
        state_sync: [
          {
            type: 'contact',
            contact: { full_name: 'Pablo Morales', first_name: 'Pablo', phone_number: '16505551234' },
            action: 'add',
            metadata: { timestamp: '1739321024' },
          },
          { type: 'contact', contact: { phone_number: '16505550000' }, action: 'remove', metadata: { timestamp: '1' } },
          { type: 'contact', contact: {}, action: 'add' },
        ],
      }),
    );
    expect(parsed.contactSyncs?.map((c) => [c.phone, c.fullName, c.action])).toEqual([
      ['16505551234', 'Pablo Morales', 'add'],
      ['16505550000', null, 'remove'],
    ]);
    expect(parsed.skipped).toHaveLength(1);
  });
});
