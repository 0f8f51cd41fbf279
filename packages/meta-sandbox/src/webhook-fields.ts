// The webhook fields of Meta's `whatsapp_business_account` object that an app can subscribe to
// (`POST /{app-id}/subscriptions`), as far as the sandbox posts them. `user_id_update` is posted
// too but is not subscribable (Meta's changelog of 11 August 2026), so no subscription holds it back.
// test/webhook-fields.test.ts checks this list against the app's.

export const WEBHOOK_OBJECT = 'whatsapp_business_account';

export const SUBSCRIBABLE_FIELDS = [
  'messages',
  'account_update',
  'phone_number_quality_update',
  'phone_number_name_update',
  'message_template_status_update',
  'template_category_update',
  'message_template_quality_update',
  'user_preferences',
  'history',
  'smb_app_state_sync',
  'smb_message_echoes',
  'calls',
] as const;

export type SubscribableField = (typeof SUBSCRIBABLE_FIELDS)[number];

export function isSubscribable(field: string): field is SubscribableField {
  return (SUBSCRIBABLE_FIELDS as readonly string[]).includes(field);
}
