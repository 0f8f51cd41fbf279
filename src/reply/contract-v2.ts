// Version 2 of the AI brain's contract (opt-in per integration, setting `brainVersion: 2`). One
// zod schema per direction is the rule: the HTTP responder parses answers with it, tests check the
// requests we post against it, and `npm run schemas` writes the JSON Schemas in docs/brain/ from it.
//
// The request carries the turn (every waiting message, the one answered last), the conversation's
// last messages before it, the customer, media as short-lived signed URLs, and how long the
// customer service window stays open. The answer is a list of messages sent in order (each exactly
// once, as the turn's ordinals), optionally a handoff to a person; an empty list sends nothing.
import { z } from 'zod';
import { messageContent, type SendContent } from '../meta/outbound-message.js';

const BRAIN_VERSION = 2;

/** The most messages one answer may send: a turn is answered, not flooded. */
const MAX_ANSWER_MESSAGES = 5;

const mediaRef = z
  .strictObject({
    id: z.string().describe('our media id'),
    mimeType: z.string(),
    size: z.number().int().nonnegative().describe('bytes'),
    url: z.url().describe('a signed URL, valid for a few minutes; GET it without credentials'),
  })
  .describe('media the customer sent, once stored');

const turnMessage = z.strictObject({
  messageId: z.string().describe("Meta's message id (wamid)"),
  type: z.string().describe("Meta's message type: text, image, interactive, ..."),
  text: z.string().nullable().describe('the text, caption or chosen reply; null when there is none'),
  timestamp: z.number().int().describe('epoch milliseconds, when the customer sent it'),
  media: mediaRef.optional(),
});

const historyMessage = z.strictObject({
  direction: z.enum(['inbound', 'outbound']),
  type: z.string(),
  text: z.string().nullable(),
  timestamp: z.number().int().describe('epoch milliseconds'),
  origin: z
    .string()
    .nullable()
    .describe('outbound only: reply, api, template, agent, business_app, history; null for inbound'),
});

export const brainRequestV2 = z
  .strictObject({
    version: z.literal(BRAIN_VERSION),
    businessId: z.string(),
    integrationId: z.string(),
    phoneNumberId: z.string(),
    conversationId: z.string(),
    turnId: z.string(),
    customer: z.strictObject({
      id: z.string().describe('our customer id'),
      phone: z.string().optional(),
      bsuid: z.string().optional().describe("Meta's business-scoped user id"),
      username: z.string().optional(),
      name: z.string().optional().describe('the profile name the customer set'),
    }),
    messages: z.array(turnMessage).min(1).describe('the turn: every waiting message in order, the answered one last'),
    history: z
      .array(historyMessage)
      .describe('the conversation before the turn, oldest first (the setting brainHistoryMessages, default 10)'),
    window: z.strictObject({
      expiresAt: z.iso.datetime().describe("when Meta's 24-hour customer service window closes"),
      remainingMs: z.number().int().describe('milliseconds until then, when the request was built'),
    }),
  })
  .describe('POST body to the AI brain, signed X-Waconnect-Signature-256: sha256=<hex HMAC of the body>');

export type BrainRequestV2 = z.infer<typeof brainRequestV2>;

const handoff = z.strictObject({
  note: z.string().min(1).max(1000).optional().describe('for the agent who takes over'),
  expiresAt: z.iso.datetime({ offset: true }).optional().describe('when the bot resumes; default 24 h'),
});

export const brainAnswerV2 = z
  .strictObject({
    version: z.literal(BRAIN_VERSION).optional(),
    messages: z
      .array(messageContent)
      .max(MAX_ANSWER_MESSAGES)
      .describe(
        'sent in this order, each once: {text}, {interactive}, {template}, {image|video|audio|document: {link, caption?}}',
      ),
    handoff: handoff.optional().describe('hand the conversation to a person after the messages'),
  })
  .describe('The AI brain\'s answer; {"messages": []} sends nothing');

export type BrainHandoff = z.infer<typeof handoff>;

/** What a responder decided for a turn, whichever contract it speaks. */
export interface Answer {
  messages: SendContent[];
  handoff?: BrainHandoff | undefined;
}

/** Where the JSON Schemas of both directions live, and what they hold (written by `npm run schemas`). */
export function brainSchemas(): Record<string, unknown> {
  const schema = (type: z.ZodType, id: string) => ({
    $id: `https://waconnect.dev/brain/${id}`,
    ...z.toJSONSchema(type, { target: 'draft-2020-12', io: 'input' }),
  });
  return {
    'docs/brain/v2-request.schema.json': schema(brainRequestV2, 'v2-request.schema.json'),
    'docs/brain/v2-answer.schema.json': schema(brainAnswerV2, 'v2-answer.schema.json'),
  };
}
