// Account-level webhooks (account_update, phone_number_quality_update, phone_number_name_update):
// which field, which entry id, and which value Meta would send for a change.
import type { PhoneNumber, QualityRating, Waba } from './model.js';
import { accountUpdateEntryId, accountUpdateValue, nameUpdateValue, qualityUpdateValue } from './payloads.js';

export interface AccountEventInput {
  wabaId: string;
  /** account_update, phone_number_quality_update, phone_number_name_update (or any other field, sent as given). */
  field: string;
  /** The value's `event` (account_update, phone_number_quality_update). */
  event?: string;
  /** The number a quality or name update is about (default: the WABA's first number). */
  phoneNumberId?: string;
  /** Fields merged over the sandbox's default value for this event. */
  value?: Record<string, unknown>;
}

export interface QualityChange {
  qualityRating?: QualityRating;
  messagingLimitTier?: string;
  /** The webhook's event (default: UPGRADE/DOWNGRADE for a tier change, FLAGGED/UNFLAGGED for a rating change). */
  event?: string;
  /** Post a phone_number_quality_update webhook (default true). */
  emit?: boolean;
}

export interface NameDecision {
  decision: 'APPROVED' | 'REJECTED' | 'PENDING' | 'DEFERRED';
  requestedVerifiedName?: string;
  rejectionReason?: string | null;
  emit?: boolean;
}

export interface FieldWebhook {
  entryId: string;
  field: string;
  value: Record<string, unknown>;
  phoneNumberId?: string;
  event: string;
}

const TIERS = ['TIER_NOT_SET', 'TIER_50', 'TIER_250', 'TIER_1K', 'TIER_2K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED'];

/** Applies a quality or limit change to the number and returns the webhook describing it. */
export function applyQuality(number: PhoneNumber, change: QualityChange): FieldWebhook {
  const oldTier = number.messagingLimitTier;
  const oldRating = number.qualityRating;
  if (change.qualityRating) number.qualityRating = change.qualityRating;
  if (change.messagingLimitTier) number.messagingLimitTier = change.messagingLimitTier;
  const tierMove = TIERS.indexOf(number.messagingLimitTier) - TIERS.indexOf(oldTier);
  const event =
    change.event ??
    (tierMove > 0
      ? 'UPGRADE'
      : tierMove < 0
        ? 'DOWNGRADE'
        : number.qualityRating === 'GREEN' && oldRating !== 'GREEN'
          ? 'UNFLAGGED'
          : 'FLAGGED');
  return {
    entryId: number.wabaId,
    field: 'phone_number_quality_update',
    value: qualityUpdateValue(number, event, oldTier),
    phoneNumberId: number.id,
    event,
  };
}

/** Applies a display name review outcome to the number and returns the webhook describing it. */
export function applyNameDecision(number: PhoneNumber, decision: NameDecision): FieldWebhook {
  const requested = decision.requestedVerifiedName ?? number.verifiedName;
  if (decision.decision === 'APPROVED') {
    number.verifiedName = requested;
    number.nameStatus = 'APPROVED';
  } else {
    number.nameStatus = decision.decision === 'REJECTED' ? 'DECLINED' : 'PENDING_REVIEW';
  }
  const reason = decision.decision === 'REJECTED' ? (decision.rejectionReason ?? 'NAME_FORMAT_UNACCEPTABLE') : null;
  return {
    entryId: number.wabaId,
    field: 'phone_number_name_update',
    value: nameUpdateValue(number, decision.decision, requested, reason),
    phoneNumberId: number.id,
    event: decision.decision,
  };
}

/** The webhook for an arbitrary account event; nothing in the sandbox changes. */
export function accountEvent(
  input: AccountEventInput,
  waba: Waba,
  number: PhoneNumber | undefined,
  ids: { appId: string; partnerBusinessId: string },
): FieldWebhook {
  if ((input.field === 'phone_number_quality_update' || input.field === 'phone_number_name_update') && number) {
    const base =
      input.field === 'phone_number_quality_update'
        ? qualityUpdateValue(number, input.event ?? 'FLAGGED', undefined)
        : nameUpdateValue(number, 'APPROVED', number.verifiedName, null);
    const value = { ...base, ...input.value };
    return {
      entryId: waba.id,
      field: input.field,
      value,
      phoneNumberId: number.id,
      event: String(value.event ?? value.decision ?? ''),
    };
  }
  if (input.field === 'account_update') {
    const event = input.event ?? (typeof input.value?.event === 'string' ? input.value.event : 'ACCOUNT_UPDATE');
    const value = {
      ...accountUpdateValue(event, { wabaId: waba.id, ownerBusinessId: waba.ownerBusinessId, appId: ids.appId }),
      ...input.value,
    };
    return {
      entryId: accountUpdateEntryId(event, waba.id, ids.partnerBusinessId),
      field: 'account_update',
      value,
      event,
    };
  }
  const value = { ...(input.event ? { event: input.event } : {}), ...input.value };
  return { entryId: waba.id, field: input.field, value, event: input.event ?? '' };
}
