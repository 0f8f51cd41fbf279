// Whether a number must be registered on the Cloud API (POST /{phone-number-id}/register), decided
// from the facts Meta reports for it. A pure table, first matching row wins; README's "Number
// registration" section is rendered from it (a test keeps the two equal).
// Field values: the WhatsApp Business Phone Number reference,
// https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/
// (platform_type CLOUD_API | ON_PREMISE | NOT_APPLICABLE; status PENDING, CONNECTED, FLAGGED,
// RATE_LIMITED, RESTRICTED, DISCONNECTED, BANNED, DELETED, MIGRATED, UNVERIFIED, UNKNOWN;
// code_verification_status VERIFIED | NOT_VERIFIED | EXPIRED).

export interface NumberFacts {
  platformType: string | null;
  status: string | null;
  codeVerificationStatus: string | null;
  isOnBizApp: boolean;
}

export type RegistrationDecision =
  /** Call register (with the business's PIN). */
  | 'register'
  /** Already on the Cloud API: nothing to do. */
  | 'registered'
  /** Onboarded from the WhatsApp Business app (coexistence): registering would take it off the app. */
  | 'coexistence'
  /** Meta will not let this number on the Cloud API as it is. */
  | 'blocked'
  /** Meta has not verified the number's ownership code (or the verification expired). */
  | 'needs_verification';

interface Rule {
  isOnBizApp?: true;
  platformType?: readonly string[];
  status?: readonly string[];
  codeVerificationStatus?: readonly string[];
  decision: RegistrationDecision;
  why: string;
}

const REGISTRATION_RULES: readonly Rule[] = [
  {
    isOnBizApp: true,
    decision: 'coexistence',
    why: 'stays on the WhatsApp Business app; Meta connected it for the Cloud API already, register would take it off the app',
  },
  {
    status: ['BANNED', 'DELETED', 'MIGRATED'],
    decision: 'blocked',
    why: 'banned, deleted, or moved to another account: nothing to register here',
  },
  {
    platformType: ['ON_PREMISE'],
    decision: 'blocked',
    why: 'served by the On-Premises API; the business migrates it on purpose, we never move it',
  },
  {
    platformType: ['CLOUD_API'],
    status: ['CONNECTED', 'FLAGGED', 'RATE_LIMITED', 'RESTRICTED'],
    decision: 'registered',
    why: 'on the Cloud API and connected (quality flags and limits do not undo registration)',
  },
  {
    codeVerificationStatus: ['NOT_VERIFIED', 'EXPIRED'],
    decision: 'needs_verification',
    why: 'Meta requires a verified number before register; the business verifies it in WhatsApp Manager',
  },
  { decision: 'register', why: 'verified (or not reported) and not connected on the Cloud API yet' },
];

const matches = (allowed: readonly string[] | undefined, value: string | null) =>
  allowed === undefined || (value !== null && allowed.includes(value));

export function decideRegistration(facts: NumberFacts): { decision: RegistrationDecision; why: string } {
  for (const rule of REGISTRATION_RULES) {
    if (rule.isOnBizApp && !facts.isOnBizApp) continue;
    if (!matches(rule.platformType, facts.platformType)) continue;
    if (!matches(rule.status, facts.status)) continue;
    if (!matches(rule.codeVerificationStatus, facts.codeVerificationStatus)) continue;
    return { decision: rule.decision, why: rule.why };
  }
  throw new Error('the registration table has no catch-all row');
}

/** The table as README shows it. */
export function registrationTableMarkdown(): string {
  const cell = (values: readonly string[] | undefined) => (values ? values.map((v) => `\`${v}\``).join(', ') : 'any');
  const lines = [
    '| # | `is_on_biz_app` | `platform_type` | `status` | `code_verification_status` | decision | why |',
    '|---|---|---|---|---|---|---|',
    ...REGISTRATION_RULES.map(
      (rule, i) =>
        `| ${i + 1} | ${rule.isOnBizApp ? '`true`' : 'any'} | ${cell(rule.platformType)} | ${cell(rule.status)} | ${cell(rule.codeVerificationStatus)} | \`${rule.decision}\` | ${rule.why} |`,
    ),
  ];
  return lines.join('\n');
}
