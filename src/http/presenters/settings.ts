// The business's reply settings as the API answers them: each stored choice, or its default.
import type { Config } from '../../config.js';
import { ownerReplyPauseMs } from '../../policy/bot-pause.js';
import { autoReplyText, chosenResponder } from '../../policy/responder.js';
import { DEFAULT_BRAIN_HISTORY } from '../../store/brain-context.js';
import type { IntegrationSettings } from '../../store/tables.js';

export interface SettingsView {
  autoReplyText: string;
  autoReplyTextIsDefault: boolean;
  /** Sent to a customer who opens the chat for the first time; null: no welcome. */
  welcomeText: string | null;
  responder: 'rules' | 'http';
  httpResponderAvailable: boolean;
  /** On a coexistence number: how long the owner's reply from the WhatsApp Business app pauses the bot. */
  botPauseAfterOwnerReplyMs: number;
  /** The AI brain's contract version. */
  brainVersion: 1 | 2;
  /** Version 2: how many earlier messages of the conversation each request carries. */
  brainHistoryMessages: number;
}

export function settingsView(reply: Config['reply'], settings: IntegrationSettings): SettingsView {
  const httpAvailable = Boolean(reply.webhookUrl);
  return {
    autoReplyText: autoReplyText(settings, reply.defaultText),
    autoReplyTextIsDefault: settings.autoReplyText === undefined,
    welcomeText: settings.welcomeText ?? null,
    responder: chosenResponder(settings, httpAvailable),
    httpResponderAvailable: httpAvailable,
    botPauseAfterOwnerReplyMs: ownerReplyPauseMs(settings),
    brainVersion: settings.brainVersion ?? 1,
    brainHistoryMessages: settings.brainHistoryMessages ?? DEFAULT_BRAIN_HISTORY,
  };
}
