// When the bot stays silent in a conversation: while a person holds it (a handoff, until released or
// expired) and for a while after the owner answered from the WhatsApp Business app. The turn line,
// the owner-echo intake and the conversation JSON all ask here.
import type { IntegrationSettings } from '../store/tables.js';

/** How long an owner's reply in the app pauses the bot in that conversation, unless the business set it. */
const DEFAULT_BOT_PAUSE_AFTER_OWNER_REPLY_MS = 30 * 60 * 1000;

export interface PauseFields {
  mode: string;
  handoff_expires_at: Date | null;
  bot_paused_until: Date | null;
}

/** A handoff holds until it is released or expires. */
export function inAgentMode(conversation: PauseFields, now: Date): boolean {
  return conversation.mode === 'agent' && (!conversation.handoff_expires_at || conversation.handoff_expires_at > now);
}

/** The owner's echo pause still running at `now`, if any. */
export function echoPauseUntil(conversation: PauseFields, now: Date): Date | null {
  const until = conversation.bot_paused_until;
  return until && until.getTime() > now.getTime() ? until : null;
}

/** Whether the bot must stay silent in this conversation now (a handoff, or an owner's echo). */
export function botPaused(conversation: PauseFields, now: Date): boolean {
  return inAgentMode(conversation, now) || echoPauseUntil(conversation, now) !== null;
}

/** When the bot speaks again: null when it is not paused, or held by a handoff without an expiry. */
export function botResumesAt(conversation: PauseFields, now: Date): Date | null {
  if (!botPaused(conversation, now)) return null;
  const handoffEnd = inAgentMode(conversation, now) ? (conversation.handoff_expires_at?.getTime() ?? Infinity) : 0;
  const resumes = Math.max(handoffEnd, echoPauseUntil(conversation, now)?.getTime() ?? 0);
  return Number.isFinite(resumes) ? new Date(resumes) : null;
}

/** How long an owner's reply from the app pauses the bot, as the business set it or by default. */
export function ownerReplyPauseMs(settings: Pick<IntegrationSettings, 'botPauseAfterOwnerReplyMs'> | null): number {
  return settings?.botPauseAfterOwnerReplyMs ?? DEFAULT_BOT_PAUSE_AFTER_OWNER_REPLY_MS;
}
