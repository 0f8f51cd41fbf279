// Meta's webhook fields for the whatsapp_business_account object, named once: webhook parsing,
// metrics and the self check all read this list, so a field Meta adds is added here (and to the
// Meta sandbox's own list, which test/webhook-fields.test.ts holds equal to this one).

/** How we treat a change of a field: `processed` changes are stored or acted on; `acknowledged` ones get 200 and a count. */
export type FieldHandling = 'processed' | 'acknowledged';

export interface WebhookField {
  name: string;
  handling: FieldHandling;
  /**
   * Whether the app can subscribe to it (App Dashboard, `POST /{app-id}/subscriptions`). Meta's
   * changelog of 11 August 2026 says `user_id_update` is not subscribable: the self check must not
   * ask for it, but a change of it that still arrives is read.
   */
  subscribable: boolean;
}

export const WEBHOOK_FIELDS = [
  { name: 'messages', handling: 'processed', subscribable: true },
  { name: 'account_update', handling: 'processed', subscribable: true },
  { name: 'phone_number_quality_update', handling: 'processed', subscribable: true },
  { name: 'phone_number_name_update', handling: 'processed', subscribable: true },
  { name: 'message_template_status_update', handling: 'processed', subscribable: true },
  { name: 'template_category_update', handling: 'processed', subscribable: true },
  { name: 'message_template_quality_update', handling: 'processed', subscribable: true },
  { name: 'user_id_update', handling: 'processed', subscribable: false },
  { name: 'user_preferences', handling: 'processed', subscribable: true },
  { name: 'history', handling: 'processed', subscribable: true },
  { name: 'smb_app_state_sync', handling: 'processed', subscribable: true },
  { name: 'smb_message_echoes', handling: 'processed', subscribable: true },
  // Calling is not a product of ours; its events are acknowledged so Meta does not redeliver them.
  { name: 'calls', handling: 'acknowledged', subscribable: true },
] as const satisfies readonly WebhookField[];

export type WebhookFieldName = (typeof WEBHOOK_FIELDS)[number]['name'];

/** The object our webhook fields belong to, in payloads (`object`) and in app subscriptions. */
export const WEBHOOK_OBJECT = 'whatsapp_business_account';

/** Account-level fields, each kept as one RecordAccountEvent. */
export const ACCOUNT_EVENT_FIELDS = [
  'account_update',
  'phone_number_quality_update',
  'phone_number_name_update',
] as const;
export type AccountEventField = (typeof ACCOUNT_EVENT_FIELDS)[number];

const BY_NAME: ReadonlyMap<string, WebhookField> = new Map(WEBHOOK_FIELDS.map((f) => [f.name, f]));

export function isAccountEventField(field: string): field is AccountEventField {
  return (ACCOUNT_EVENT_FIELDS as readonly string[]).includes(field);
}

/**
 * The metrics label of a change's field: its name when listed, else `other`. Labels stay a fixed,
 * small set however many made-up fields a sender posts, and nothing unlisted reaches a label or log.
 */
export function fieldLabel(field: unknown): WebhookFieldName | 'other' {
  return typeof field === 'string' && BY_NAME.has(field) ? (field as WebhookFieldName) : 'other';
}

export function fieldHandling(field: string): FieldHandling | undefined {
  return BY_NAME.get(field)?.handling;
}

/** The fields an app must be subscribed to for everything we list to reach us. */
export const SUBSCRIBABLE_FIELDS: readonly WebhookFieldName[] = WEBHOOK_FIELDS.filter((f) => f.subscribable).map(
  (f) => f.name,
);

/** What the self check found about the app's subscription to our webhook fields. */
export type WebhookFieldsCheck =
  | { checked: true; object: typeof WEBHOOK_OBJECT; active: boolean; missing: string[] }
  | { checked: false; reason: string };

/**
 * Compares the app's subscriptions (Meta's `GET /{app-id}/subscriptions` items) with the fields we
 * list: every subscribable field we list that the `whatsapp_business_account` subscription lacks,
 * all of them when there is no such subscription.
 */
export function checkSubscribedFields(
  subscriptions: ReadonlyArray<{ object: string; active?: boolean; fields?: ReadonlyArray<{ name: string }> }>,
): WebhookFieldsCheck {
  const ours = subscriptions.find((s) => s.object === WEBHOOK_OBJECT);
  const subscribed = new Set((ours?.fields ?? []).map((f) => f.name));
  return {
    checked: true,
    object: WEBHOOK_OBJECT,
    active: ours?.active ?? false,
    missing: SUBSCRIBABLE_FIELDS.filter((name) => !subscribed.has(name)),
  };
}
