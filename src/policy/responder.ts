// Which responder answers a business's customers, and with what default text. The reply activities,
// the settings API and the settings it shows ask here.
import type { IntegrationSettings } from '../store/tables.js';

export type ResponderName = 'rules' | 'http';

/**
 * The business's choice, else the HTTP "AI brain" when one is configured. Rules answer when no brain
 * is configured, whatever was chosen: a business never goes unanswered for a missing URL.
 */
export function chosenResponder(
  settings: Pick<IntegrationSettings, 'responder'>,
  httpConfigured: boolean,
): ResponderName {
  const wanted = settings.responder ?? (httpConfigured ? 'http' : 'rules');
  return wanted === 'http' && httpConfigured ? 'http' : 'rules';
}

/** The rules responder's text: the business's own, else the deployment's default. */
export function autoReplyText(settings: Pick<IntegrationSettings, 'autoReplyText'>, defaultText: string): string {
  return settings.autoReplyText ?? defaultText;
}
