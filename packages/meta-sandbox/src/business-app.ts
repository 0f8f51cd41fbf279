// A coexistence number's WhatsApp Business app, as Meta reports it: the contact and history syncs a
// partner asks for (POST /{phone-number-id}/smb_app_data) and the owner's own messages (echoes).
// Shapes from Meta's webhook references (history, smb_app_state_sync, smb_message_echoes) and
// https://developers.facebook.com/documentation/business-messaging/whatsapp/embedded-signup/onboarding-business-app-users
import { randomBytes } from 'node:crypto';
import { digitsOf, wamid } from './ids.js';
import type { BusinessApp, PhoneNumber } from './model.js';

export const SYNC_TYPES = new Set(['smb_app_state_sync', 'history']);

/** Meta's answer to a sync request. */
export function syncAnswer(): Record<string, unknown> {
  return { messaging_product: 'whatsapp', request_id: randomBytes(12).toString('hex') };
}

function envelope(number: PhoneNumber, body: Record<string, unknown>): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    metadata: { display_phone_number: digitsOf(number.displayPhoneNumber), phone_number_id: number.id },
    ...body,
  };
}

/** The owner's contacts, every one `add`ed (the first sync lists them all). */
export function stateSyncValue(number: PhoneNumber, app: BusinessApp, nowSeconds: number): Record<string, unknown> {
  return envelope(number, {
    state_sync: app.contacts.map((c) => ({
      type: 'contact',
      contact: { full_name: c.fullName, first_name: c.firstName, phone_number: c.phone },
      action: 'add',
      metadata: { timestamp: String(nowSeconds) },
    })),
  });
}

/**
 * The chat history as Meta sends it: one chunk per phase (0: the first day, 1: up to 90 days,
 * 2: up to 180), with overall progress reaching 100; or, when the owner declined, Meta's error.
 */
export function historyValues(number: PhoneNumber, app: BusinessApp): Array<Record<string, unknown>> {
  if (!app.historyShared)
    return [
      envelope(number, {
        history: [
          {
            errors: [
              {
                code: 2593109,
                title: 'History sharing is turned off by user',
                message: 'History sharing is turned off by user',
                error_data: { details: 'The business declined to share its chat history.' },
              },
            ],
          },
        ],
      }),
    ];
  const business = digitsOf(number.displayPhoneNumber);
  const threads = app.history.map((thread) => ({
    id: thread.customer,
    messages: thread.messages.map((m) => ({
      from: m.fromBusiness ? business : thread.customer,
      ...(m.fromBusiness ? { to: thread.customer } : {}),
      id: m.id,
      timestamp: String(m.timestamp),
      type: 'text',
      text: { body: m.text },
      history_context: { status: m.fromBusiness ? 'READ' : 'DELIVERED' },
    })),
  }));
  return [
    { phase: 0, progress: 50, threads },
    { phase: 1, progress: 75, threads: [] },
    { phase: 2, progress: 100, threads: [] },
  ].map((chunk, i) =>
    envelope(number, {
      history: [
        { metadata: { phase: chunk.phase, chunk_order: i + 1, progress: chunk.progress }, threads: chunk.threads },
      ],
    }),
  );
}

/** A message the owner sent from the WhatsApp Business app. */
export function echoValue(
  number: PhoneNumber,
  to: string,
  text: string,
  nowSeconds: number,
): { value: Record<string, unknown>; messageId: string } {
  const messageId = wamid(to);
  return {
    messageId,
    value: envelope(number, {
      message_echoes: [
        {
          from: digitsOf(number.displayPhoneNumber),
          to,
          id: messageId,
          timestamp: String(nowSeconds),
          type: 'text',
          text: { body: text },
        },
      ],
    }),
  };
}
