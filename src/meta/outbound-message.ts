// What a business may ask us to send, parsed at the edge, and the object Meta's messages endpoint
// expects for it. Template sends are checked against the template's stored components (as Meta's
// GET /{waba-id}/message_templates answers them) so a wrong parameter count never reaches Meta:
// https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/overview
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/template-messages
import { z } from 'zod';

const link = z.url({ protocol: /^https?$/ }).max(2048);
const caption = z.string().min(1).max(1024);
// Meta's send-side template components: header/body/button with their parameters.
const templateParameter = z.looseObject({ type: z.string().min(1).max(32), parameter_name: z.string().optional() });
const templateComponent = z.looseObject({
  type: z.enum(['header', 'body', 'button', 'HEADER', 'BODY', 'BUTTON']),
  sub_type: z.string().max(32).optional(),
  index: z.union([z.string().regex(/^\d{1,2}$/), z.number().int().min(0).max(99)]).optional(),
  parameters: z.array(templateParameter).max(100).optional(),
});

const sendFields = {
  to: z.string().trim().min(1).max(128),
  phoneNumberId: z
    .string()
    .regex(/^\d{1,32}$/, 'a Meta phone number id (digits)')
    .optional(),
  /** A send not made by then ends `expired`. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
};

const kinds = {
  text: z.string().min(1).max(4096),
  template: z.strictObject({
    name: z.string().min(1).max(512),
    language: z.union([z.string().min(2).max(15), z.object({ code: z.string().min(2).max(15) })]),
    components: z.array(templateComponent).max(20).optional(),
  }),
  // Meta's interactive object as documented (button, list, cta_url, ...); the sandbox and Meta check the rest.
  interactive: z.looseObject({ type: z.string().min(1).max(64), action: z.looseObject({}) }),
  image: z.strictObject({ link, caption: caption.optional() }),
  video: z.strictObject({ link, caption: caption.optional() }),
  document: z.strictObject({ link, caption: caption.optional(), filename: z.string().min(1).max(240).optional() }),
  // Meta documents no caption for audio.
  audio: z.strictObject({ link }),
};
export type SendKind = keyof typeof kinds;
const KINDS = Object.keys(kinds) as SendKind[];

export const sendRequest = z
  .strictObject({ ...sendFields, ...Object.fromEntries(KINDS.map((k) => [k, kinds[k].optional()])) })
  .superRefine((value, ctx) => {
    const given = KINDS.filter((k) => (value as Record<string, unknown>)[k] !== undefined);
    if (given.length !== 1)
      ctx.addIssue({ code: 'custom', message: `give exactly one of ${KINDS.join(', ')}`, path: [] });
  });

/**
 * One message's content alone, as the AI brain answers it: exactly one kind, in the same shapes
 * the send API takes (a union of one-key objects, so its JSON Schema says "exactly one" too).
 */
export const messageContent = z.union(
  KINDS.map((k) => z.strictObject({ [k]: kinds[k] })) as unknown as [
    z.ZodType<SendContent>,
    ...z.ZodType<SendContent>[],
  ],
);

export interface SendRequest extends SendContent {
  to: string;
  phoneNumberId?: string | undefined;
  expiresAt?: string | undefined;
}

/** What is sent, without to whom. */
export interface SendContent {
  text?: string;
  template?: z.infer<(typeof kinds)['template']>;
  interactive?: Record<string, unknown>;
  image?: { link: string; caption?: string };
  video?: { link: string; caption?: string };
  document?: { link: string; caption?: string; filename?: string };
  audio?: { link: string };
}

export function kindOf(request: SendContent): SendKind {
  return KINDS.find((k) => request[k] !== undefined)!;
}

/** A phone number (digits, an optional +) goes in `to`; anything else is a BSUID, sent as `recipient`. */
export function addressOf(to: string): { phone: string | null; bsuid: string | null } {
  const compact = to.replace(/[\s()-]/g, '');
  return /^\+?\d{6,15}$/.test(compact)
    ? { phone: compact.replace(/^\+/, ''), bsuid: null }
    : { phone: null, bsuid: to };
}

/** Meta's `type` and the object under that key. */
export function metaContent(request: SendContent): { type: SendKind; content: Record<string, unknown> } {
  const type = kindOf(request);
  if (type === 'text') return { type, content: { body: request.text!, preview_url: false } };
  if (type === 'template') {
    const t = request.template!;
    return {
      type,
      content: {
        name: t.name,
        language: { code: typeof t.language === 'string' ? t.language : t.language.code },
        ...(t.components ? { components: t.components } : {}),
      },
    };
  }
  return { type, content: request[type] as Record<string, unknown> };
}

export function templateLanguage(template: NonNullable<SendContent['template']>): string {
  return typeof template.language === 'string' ? template.language : template.language.code;
}

const MEDIA_HEADERS = new Set(['IMAGE', 'VIDEO', 'DOCUMENT', 'LOCATION']);

function placeholders(text: unknown, format: 'POSITIONAL' | 'NAMED'): string[] {
  if (typeof text !== 'string') return [];
  const pattern = format === 'NAMED' ? /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/g : /\{\{\s*(\d+)\s*\}\}/g;
  return [...new Set([...text.matchAll(pattern)].map((m) => m[1]!))];
}

type StoredComponent = { type?: unknown; format?: unknown; text?: unknown; buttons?: unknown };
type SentComponent = z.infer<typeof templateComponent>;

/**
 * Why the request's parameters do not fit the template, or null: the {{n}} / {{name}} placeholders
 * of its header, body and URL buttons against the parameters given, in count and type.
 */
export function templateParameterProblem(
  stored: { components: unknown[] | null; parameterFormat: string | null },
  sent: SentComponent[] | undefined,
): string | null {
  const format = stored.parameterFormat === 'NAMED' ? 'NAMED' : 'POSITIONAL';
  const components = (stored.components ?? []) as StoredComponent[];
  const sentOf = (type: string) => (sent ?? []).filter((c) => c.type.toLowerCase() === type);
  const header = components.find((c) => String(c.type).toUpperCase() === 'HEADER');
  const body = components.find((c) => String(c.type).toUpperCase() === 'BODY');
  const problems: string[] = [];

  const check = (where: string, expected: string[], given: SentComponent[], types: string[]) => {
    const parameters = given.flatMap((c) => c.parameters ?? []);
    if (parameters.length !== expected.length)
      problems.push(`${where} takes ${expected.length} parameter(s), ${parameters.length} given`);
    const wrong = parameters.find((p) => !types.includes(p.type));
    if (wrong) problems.push(`${where} parameter of type ${wrong.type} (expected ${types.join(' or ')})`);
    if (format === 'NAMED' && where !== 'header media') {
      const names = new Set(parameters.map((p) => p.parameter_name));
      const missing = expected.filter((name) => !names.has(name));
      if (missing.length) problems.push(`${where} is missing ${missing.join(', ')}`);
    }
  };

  const headerFormat = String(header?.format ?? 'TEXT').toUpperCase();
  if (header && MEDIA_HEADERS.has(headerFormat))
    check('header media', ['media'], sentOf('header'), [headerFormat.toLowerCase()]);
  else check('header', placeholders(header?.text, format), sentOf('header'), ['text']);
  check('body', placeholders(body?.text, format), sentOf('body'), ['text', 'currency', 'date_time']);

  const buttons = components.find((c) => String(c.type).toUpperCase() === 'BUTTONS')?.buttons;
  const sentButtons = sentOf('button');
  (Array.isArray(buttons) ? (buttons as Array<{ type?: unknown; url?: unknown }>) : []).forEach((button, index) => {
    if (String(button.type).toUpperCase() !== 'URL') return;
    const given = sentButtons.filter((c) => Number(c.index) === index);
    // A URL button's variable is always positional ({{1}} at the end of its URL).
    const expected = placeholders(button.url, 'POSITIONAL').length;
    const count = given.flatMap((c) => c.parameters ?? []).length;
    if (count !== expected) problems.push(`button ${index} takes ${expected} parameter(s), ${count} given`);
  });
  return problems.length ? problems.join('; ') : null;
}

/**
 * Meta's error codes that end a send, and the code each gives it
 * (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes).
 */
const META_CODES: Record<number, string> = {
  131047: 'outside_window',
  131026: 'undeliverable',
  131049: 'not_delivered_ecosystem_limit',
  130472: 'experiment_number',
  132000: 'template_parameters_mismatch',
  132001: 'template_not_found',
  132005: 'template_text_too_long',
  132007: 'template_policy_violation',
  132012: 'template_parameter_format_mismatch',
  132015: 'template_paused',
  132016: 'template_disabled',
  190: 'needs_reauth',
};

export function failureCode(metaCode: number | null | undefined): string {
  return (metaCode !== null && metaCode !== undefined && META_CODES[metaCode]) || 'meta_error';
}
