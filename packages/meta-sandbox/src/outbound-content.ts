// How Meta checks what a business sends besides text: templates (known to the WABA, approved,
// parameters matching), interactive messages (buttons, lists, CTA URLs) and media by link. The
// common mistakes get Meta's documented answers:
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/template-messages
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-reply-buttons-messages
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/interactive-list-messages
// https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/image-messages
// https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
import { GraphError, invalidParameter } from './errors.js';

/** A template as the sandbox knows it; `components` (Meta's definition) only once someone gave them. */
export interface KnownTemplate {
  name: string;
  language: string;
  status: string;
  components?: unknown[];
}

export type TemplateLookup = (wabaId: string, name: string, language: string) => KnownTemplate | undefined;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function checkTemplate(content: Obj, wabaId: string, lookup: TemplateLookup): void {
  const name = str(content.name);
  if (!name) throw invalidParameter("The parameter template['name'] is required.");
  const language = isObj(content.language) ? str(content.language.code) : undefined;
  if (!language) throw invalidParameter("The parameter template['language']['code'] is required.");
  const template = lookup(wabaId, name, language);
  if (!template || template.status !== 'APPROVED') {
    throw new GraphError({
      status: 400,
      code: 132001,
      message: '(#132001) Template name does not exist in the translation',
      details: `template name (${name}) does not exist in ${language}`,
    });
  }
  if (!template.components) return;
  const sent = Array.isArray(content.components) ? content.components.filter(isObj) : [];
  for (const part of ['header', 'body'] as const) {
    const defined = template.components.filter(isObj).find((c) => str(c.type)?.toLowerCase() === part);
    const text = str(defined?.text) ?? '';
    const expected = new Set([...text.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((m) => m[1])).size;
    const given = sent
      .filter((c) => str(c.type)?.toLowerCase() === part)
      .flatMap((c) => (Array.isArray(c.parameters) ? c.parameters : [])).length;
    const media = part === 'header' && defined && str(defined.format) && defined.format !== 'TEXT';
    if (!media && given !== expected) {
      throw new GraphError({
        status: 400,
        code: 132000,
        message: '(#132000) Number of parameters does not match the expected number of params',
        details: `${part}: number of localizable_params (${given}) does not match the expected number of params (${expected})`,
      });
    }
  }
}

const INTERACTIVE_TYPES = new Set([
  'button',
  'list',
  'cta_url',
  'product',
  'product_list',
  'flow',
  'location_request_message',
  'address_message',
  'call_permission_request',
]);

function tooLong(path: string, value: unknown, max: number): void {
  if (typeof value !== 'string' || value.length === 0) throw invalidParameter(`The parameter ${path} is required.`);
  if (value.length > max) throw invalidParameter(`Param ${path} must be at most ${max} characters long.`);
}

export function checkInteractive(content: Obj): void {
  const type = str(content.type);
  if (!type) throw invalidParameter("The parameter interactive['type'] is required.");
  if (!INTERACTIVE_TYPES.has(type))
    throw invalidParameter(
      `Param interactive['type'] must be one of {${[...INTERACTIVE_TYPES].join(', ').toUpperCase()}}`,
    );
  const action = content.action;
  if (!isObj(action)) throw invalidParameter("The parameter interactive['action'] is required.");
  if (type === 'button' || type === 'list' || type === 'cta_url') {
    const body = content.body;
    tooLong("interactive['body']['text']", isObj(body) ? body.text : undefined, 1024);
  }
  if (type === 'button') {
    const buttons = Array.isArray(action.buttons) ? action.buttons : [];
    if (buttons.length < 1 || buttons.length > 3)
      throw invalidParameter("Param interactive['action']['buttons'] must have between 1 and 3 elements.");
    const ids = new Set<string>();
    buttons.forEach((button, i) => {
      const reply = isObj(button) && button.type === 'reply' && isObj(button.reply) ? button.reply : undefined;
      if (!reply) throw invalidParameter(`Param interactive['action']['buttons'][${i}]['type'] must be REPLY.`);
      tooLong(`interactive['action']['buttons'][${i}]['reply']['title']`, reply.title, 20);
      tooLong(`interactive['action']['buttons'][${i}]['reply']['id']`, reply.id, 256);
      if (ids.has(String(reply.id))) throw invalidParameter('Button ids must be unique.');
      ids.add(String(reply.id));
    });
  }
  if (type === 'list') {
    tooLong("interactive['action']['button']", action.button, 20);
    const sections = Array.isArray(action.sections) ? action.sections.filter(isObj) : [];
    if (sections.length < 1 || sections.length > 10)
      throw invalidParameter("Param interactive['action']['sections'] must have between 1 and 10 elements.");
    let rows = 0;
    sections.forEach((section, s) => {
      if (sections.length > 1) tooLong(`interactive['action']['sections'][${s}]['title']`, section.title, 24);
      const items = Array.isArray(section.rows) ? section.rows.filter(isObj) : [];
      items.forEach((row, r) => {
        tooLong(`interactive['action']['sections'][${s}]['rows'][${r}]['title']`, row.title, 24);
        tooLong(`interactive['action']['sections'][${s}]['rows'][${r}]['id']`, row.id, 200);
        if (row.description !== undefined)
          tooLong(`interactive['action']['sections'][${s}]['rows'][${r}]['description']`, row.description, 72);
      });
      rows += items.length;
    });
    if (rows < 1 || rows > 10) throw invalidParameter('Total row count exceed max allowed count: 10');
  }
  if (type === 'cta_url') {
    const parameters = isObj(action.parameters) ? action.parameters : {};
    if (action.name !== 'cta_url') throw invalidParameter("Param interactive['action']['name'] must be cta_url.");
    tooLong("interactive['action']['parameters']['display_text']", parameters.display_text, 20);
    tooLong("interactive['action']['parameters']['url']", parameters.url, 2000);
  }
}

const MEDIA_FIELDS: Record<string, string[]> = {
  image: ['id', 'link', 'caption'],
  video: ['id', 'link', 'caption'],
  document: ['id', 'link', 'caption', 'filename'],
  audio: ['id', 'link'],
  sticker: ['id', 'link'],
};

export function checkMedia(type: string, content: Obj): void {
  const fields = MEDIA_FIELDS[type];
  if (!fields) return;
  for (const key of Object.keys(content))
    if (!fields.includes(key)) throw invalidParameter(`Param ${type}['${key}'] is not a valid parameter.`);
  if ((content.id === undefined) === (content.link === undefined))
    throw invalidParameter(`Please specify exactly one of ${type}['id'] or ${type}['link'].`);
  if (content.link !== undefined && !/^https?:\/\/[^\s]+$/.test(String(content.link)))
    throw invalidParameter(`Param ${type}['link'] must be a valid URL.`);
  if (content.caption !== undefined) tooLong(`${type}['caption']`, content.caption, 1024);
}
