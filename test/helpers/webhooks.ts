// Builds Meta webhook bodies (the documented shape) and posts them signed, as Meta does.
import { randomBytes } from 'node:crypto';
import { signBody } from '../../src/meta/signature.js';
import { TEST_SECRETS } from './secrets.js';

export function newWamid(): string {
  return `wamid.${randomBytes(24).toString('base64url')}`;
}

export interface TextMessage {
  phoneNumberId: string;
  from: string;
  text?: string;
  wamid?: string;
  /** Epoch seconds; default now. */
  timestamp?: number;
  type?: string;
  extra?: Record<string, unknown>;
}

export function messageItem(m: TextMessage): Record<string, unknown> {
  const type = m.type ?? 'text';
  return {
    from: m.from,
    id: m.wamid ?? newWamid(),
    timestamp: String(m.timestamp ?? Math.floor(Date.now() / 1000)),
    type,
    ...(type === 'text' ? { text: { body: m.text ?? 'hello' } } : {}),
    ...m.extra,
  };
}

export function messagesWebhook(
  phoneNumberId: string,
  value: { messages?: unknown[]; statuses?: unknown[]; contacts?: unknown[] },
  wabaId = '0',
): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: wabaId,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

export async function postWebhook(
  apiUrl: string,
  body: unknown,
  options: { secret?: string; signature?: string | null } = {},
): Promise<Response> {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const signature =
    options.signature === undefined ? signBody(raw, options.secret ?? TEST_SECRETS.META_APP_SECRET) : options.signature;
  return fetch(`${apiUrl}/api/webhooks/whatsapp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    body: raw,
  });
}
