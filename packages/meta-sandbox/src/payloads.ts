// Webhook bodies in Meta's exact shapes (WhatsApp Business Account webhooks: messages, statuses,
// account_update, phone_number_quality_update, phone_number_name_update, user_id_update).
import { digitsOf } from './ids.js';
import type { PhoneNumber, StatusValue, WhatsAppErrorDetail } from './model.js';

export interface Envelope {
  object: 'whatsapp_business_account';
  entry: Array<{ id: string; time?: number; changes: Array<{ value: Record<string, unknown>; field: string }> }>;
}

/** Webhook metadata names the number by digits only ("15550783881"), unlike the Graph API's display form. */
function metadata(number: PhoneNumber): Record<string, string> {
  return { display_phone_number: digitsOf(number.displayPhoneNumber), phone_number_id: number.id };
}

export function messagesEnvelope(wabaId: string, value: Record<string, unknown>): Envelope {
  return { object: 'whatsapp_business_account', entry: [{ id: wabaId, changes: [{ value, field: 'messages' }] }] };
}

export function inboundMessageValue(
  number: PhoneNumber,
  contacts: Array<{ name: string; waId: string; bsuid: string; username: string | undefined }>,
  messages: Array<Record<string, unknown>>,
): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    metadata: metadata(number),
    // user_id is always there; wa_id only while the phone number may be shared (no username).
    contacts: contacts.map((c) => ({
      profile: { name: c.name, ...(c.username ? { username: c.username } : {}) },
      ...(c.username ? {} : { wa_id: c.waId }),
      user_id: c.bsuid,
    })),
    messages,
  };
}

/** The `value` of a user_id_update change, as Meta's business-scoped user IDs guide shows it. */
export function userIdUpdateValue(
  number: PhoneNumber,
  customer: { name: string; waId: string; username: string | undefined },
  userId: { previous: string; current: string },
  timestamp: string,
): Record<string, unknown> {
  // The phone number is withheld for a username user, as in messages webhooks.
  const waId = customer.username ? {} : { wa_id: customer.waId };
  return {
    messaging_product: 'whatsapp',
    metadata: metadata(number),
    contacts: [
      { profile: { name: customer.name, ...(customer.username ? { username: customer.username } : {}) }, ...waId },
    ],
    user_id_update: [{ ...waId, detail: `User id for ${customer.name} has been updated.`, user_id: userId, timestamp }],
  };
}

export interface StatusInput {
  messageId: string;
  status: StatusValue;
  timestamp: string;
  /** Empty when the message went to a BSUID and the phone number is withheld. */
  recipientId: string;
  recipientUserId: string;
  callbackData: string | undefined;
  conversationId: string;
  conversationExpiresAt: string;
  error?: WhatsAppErrorDetail;
}

export function statusValue(number: PhoneNumber, input: StatusInput): Record<string, unknown> {
  const status: Record<string, unknown> = {
    id: input.messageId,
    status: input.status,
    timestamp: input.timestamp,
    ...(input.recipientId ? { recipient_id: input.recipientId } : {}),
    recipient_user_id: input.recipientUserId,
    ...(input.callbackData !== undefined ? { biz_opaque_callback_data: input.callbackData } : {}),
  };
  // Meta attaches conversation and pricing to sent and delivered statuses, not to read ones.
  if (input.status === 'sent' || input.status === 'delivered') {
    status.conversation = {
      id: input.conversationId,
      ...(input.status === 'sent' ? { expiration_timestamp: input.conversationExpiresAt } : {}),
      origin: { type: 'service' },
    };
    status.pricing = { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' };
  }
  if (input.status === 'failed' && input.error) {
    status.errors = [
      {
        code: input.error.code,
        title: input.error.title,
        message: input.error.message,
        error_data: { details: input.error.details },
        href: 'https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes',
      },
    ];
  }
  return { messaging_product: 'whatsapp', metadata: metadata(number), statuses: [status] };
}

/** The `value` of Meta's errors webhook: errors for the number as a whole, no message or status. */
export function errorsValue(number: PhoneNumber, errors: WhatsAppErrorDetail[]): Record<string, unknown> {
  return {
    messaging_product: 'whatsapp',
    metadata: metadata(number),
    errors: errors.map((e) => ({
      code: e.code,
      title: e.title,
      message: e.message,
      error_data: { details: e.details },
      href: 'https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes',
    })),
  };
}

export function fieldEnvelope(
  entryId: string,
  field: string,
  value: Record<string, unknown>,
  timeSeconds: number,
): Envelope {
  return {
    object: 'whatsapp_business_account',
    entry: [{ id: entryId, time: timeSeconds, changes: [{ value, field }] }],
  };
}

export function qualityUpdateValue(
  number: PhoneNumber,
  event: string,
  oldLimit: string | undefined,
): Record<string, unknown> {
  return {
    display_phone_number: digitsOf(number.displayPhoneNumber),
    event,
    ...(oldLimit !== undefined && oldLimit !== number.messagingLimitTier ? { old_limit: oldLimit } : {}),
    current_limit: number.messagingLimitTier,
    max_daily_conversations_per_business: number.messagingLimitTier,
  };
}

/**
 * A throughput upgrade, as the example of Meta's phone_number_quality_update reference shows it:
 * TIER_UNLIMITED here means higher throughput, not a messaging limit
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_quality_update).
 */
export function throughputUpgradeValue(number: PhoneNumber): Record<string, unknown> {
  return {
    display_phone_number: digitsOf(number.displayPhoneNumber),
    event: 'THROUGHPUT_UPGRADE',
    current_limit: 'TIER_UNLIMITED',
  };
}

export function nameUpdateValue(
  number: PhoneNumber,
  decision: string,
  requestedVerifiedName: string,
  rejectionReason: string | null,
): Record<string, unknown> {
  return {
    display_phone_number: digitsOf(number.displayPhoneNumber),
    decision,
    requested_verified_name: requestedVerifiedName,
    rejection_reason: rejectionReason,
  };
}

/** The usual `value` of an account_update event; callers may add or override fields. */
export function accountUpdateValue(
  event: string,
  ids: { wabaId: string; ownerBusinessId: string; appId: string },
): Record<string, unknown> {
  const wabaInfo = { waba_id: ids.wabaId, owner_business_id: ids.ownerBusinessId };
  switch (event) {
    case 'PARTNER_APP_INSTALLED':
    case 'PARTNER_APP_UNINSTALLED':
      return { event, waba_info: { ...wabaInfo, partner_app_id: ids.appId } };
    case 'PARTNER_ADDED':
    case 'PARTNER_REMOVED':
      return { event, waba_info: wabaInfo };
    case 'DISABLED_UPDATE':
      return {
        event,
        ban_info: {
          waba_ban_state: 'DISABLE',
          waba_ban_date: new Date().toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric' }),
        },
      };
    case 'ACCOUNT_VIOLATION':
      return { event, violation_info: { violation_type: 'SCAM' } };
    case 'ACCOUNT_RESTRICTION':
      return {
        event,
        restriction_info: [
          {
            restriction_type: 'RESTRICTED_ADD_PHONE_NUMBER_ACTION',
            expiration: Math.floor(Date.now() / 1000) + 86_400,
          },
        ],
      };
    default:
      return { event };
  }
}

/** PARTNER_* events are addressed to the partner's business portfolio, the others to the WABA. */
export function accountUpdateEntryId(event: string, wabaId: string, partnerBusinessId: string): string {
  return event.startsWith('PARTNER_') ? partnerBusinessId : wabaId;
}
