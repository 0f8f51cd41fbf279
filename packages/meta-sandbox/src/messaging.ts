// WhatsApp itself: customers write to a business number (messages webhooks), the business answers
// through POST /{phone-number-id}/messages, and the sandbox reports delivery with status webhooks.
import { enforceSendLimits } from './limits.js';
import { createHash, randomBytes } from 'node:crypto';
import { digitsOf, wamid } from './ids.js';
import { GraphError, invalidParameter } from './errors.js';
import {
  errorsValue,
  fieldEnvelope,
  inboundMessageValue,
  messagesEnvelope,
  statusValue,
  userIdUpdateValue,
} from './payloads.js';
import {
  SERVICE_WINDOW_MS,
  type ConversationMessage,
  type Customer,
  type PhoneNumber,
  type StatusValue,
  type WhatsAppErrorDetail,
} from './model.js';
import { checkInteractive, checkMedia, checkTemplate, type TemplateLookup } from './outbound-content.js';
import type { MediaFileInput, SandboxMedia } from './media.js';
import type { WebhookMeta, WebhookRecord } from './webhooks.js';
import type { World } from './world.js';

export interface CustomerMessageInput {
  phoneNumberId: string;
  /** The customer's wa_id (digits; a leading + or spaces are dropped). */
  from: string;
  name?: string;
  /** A username: the customer's phone number is withheld from the webhook (`from` and `wa_id` omitted). */
  username?: string;
  type?: string;
  text?: string;
  reaction?: { message_id: string; emoji: string };
  location?: { latitude: number; longitude: number; name?: string; address?: string };
  interactive?: Record<string, unknown>;
  button?: { payload: string; text: string };
  image?: Record<string, unknown>;
  audio?: Record<string, unknown>;
  document?: Record<string, unknown>;
  sticker?: Record<string, unknown>;
  video?: Record<string, unknown>;
  /** The file of a media message, and what GET /{media-id} declares of it. */
  file?: MediaFileInput;
  /** type "revoke": the customer deletes one of their earlier messages. */
  revoke?: { original_message_id: string };
  /** type "edit": the customer edits an earlier message; `message` is the edited message object. */
  edit?: { original_message_id: string; message: Record<string, unknown> };
  /** type "unsupported": `{type}` names what Cloud API cannot show (send `errors` with it, as Meta does). */
  unsupported?: { type: string };
  system?: Record<string, unknown>;
  /** Meta's `errors` on the message (unsupported and system messages carry them). */
  errors?: Array<{ code: number; title: string; message: string; error_data: { details: string } }>;
  /** The group the message was written in (Meta's `group_id`). */
  groupId?: string;
  /** The business message this one replies to (quoted reply, button tap). */
  context?: { message_id: string };
  /** Seconds since the epoch; lets a test place the message in the past (outside the 24-hour window). */
  timestamp?: number;
}

export interface CustomerMessageResult {
  messageId: string;
  timestamp: string;
  webhookId: number;
}

export interface SendRecord {
  /** The phone number or, for a send through `recipient`, the BSUID it was addressed to. */
  to: string;
  addressedBy: 'to' | 'recipient';
  callbackData: string | undefined;
  waId: string;
  messageId: string;
  textBody: string | undefined;
  contextMessageId: string | undefined;
  response: Record<string, unknown>;
}

const SEND_TYPES = new Set([
  'text',
  'image',
  'audio',
  'document',
  'sticker',
  'video',
  'location',
  'contacts',
  'interactive',
  'template',
  'reaction',
]);

const REENGAGEMENT: WhatsAppErrorDetail = {
  code: 131047,
  title: 'Re-engagement message',
  message: 'Re-engagement message',
  details:
    'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
};

const MEDIA_DEFAULTS: Record<string, Record<string, unknown>> = {
  image: { mime_type: 'image/jpeg' },
  audio: { mime_type: 'audio/ogg; codecs=opus', voice: true },
  document: { mime_type: 'application/pdf', filename: 'document.pdf' },
  sticker: { mime_type: 'image/webp', animated: false },
  video: { mime_type: 'video/mp4' },
};

export class Messaging {
  private readonly customers = new Map<string, Customer>();
  private readonly conversationIds = new Map<string, string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly deps: {
      world: World;
      /** Where customers' media files are kept (and served from). */
      media?: SandboxMedia;
      now: () => number;
      statusDelayMs: number;
      post: (meta: WebhookMeta, payload: unknown) => WebhookRecord;
      /** The WABA's templates, for template sends. */
      templates?: TemplateLookup;
    },
  ) {}

  receive(input: CustomerMessageInput): CustomerMessageResult {
    return this.receiveBatch([input])[0]!;
  }

  /** Several messages to one number in a single webhook POST, as Meta sometimes batches them. */
  receiveBatch(inputs: CustomerMessageInput[]): CustomerMessageResult[] {
    const { number, payload, messageIds, timestamps } = this.compose(inputs);
    const record = this.deps.post(
      { field: 'messages', wabaId: number.wabaId, phoneNumberId: number.id, messageId: messageIds[0]!, messageIds },
      payload,
    );
    return messageIds.map((id, i) => ({ messageId: id, timestamp: timestamps[i]!, webhookId: record.webhookId }));
  }

  /**
   * Records messages as received by Meta and returns the webhook body without posting it: for a
   * load generator or a chaos driver that delivers (and redelivers) webhooks itself.
   */
  compose(inputs: CustomerMessageInput[]): {
    number: PhoneNumber;
    payload: unknown;
    messageIds: string[];
    timestamps: string[];
  } {
    const first = inputs[0];
    if (!first) throw new Error('no messages given');
    const number = this.number(first.phoneNumberId);
    if (inputs.some((i) => i.phoneNumberId !== number.id)) throw new Error('a batch goes to one phone number');
    const contacts = new Map<string, { name: string; waId: string; bsuid: string; username: string | undefined }>();
    const messages: Array<Record<string, unknown>> = [];
    for (const input of inputs) {
      const waId = digitsOf(input.from);
      if (!waId) throw new Error('from must be a phone number (digits)');
      const customer = this.customer(number.id, waId, input.name);
      if (input.username !== undefined) customer.username = input.username;
      contacts.set(waId, { name: customer.name, waId, bsuid: customer.bsuid, username: customer.username });
      messages.push(this.inbound(number, customer, input));
    }
    const payload = messagesEnvelope(number.wabaId, inboundMessageValue(number, [...contacts.values()], messages));
    return {
      number,
      payload,
      messageIds: messages.map((m) => String(m.id)),
      timestamps: messages.map((m) => String(m.timestamp)),
    };
  }

  private inbound(number: PhoneNumber, customer: Customer, input: CustomerMessageInput): Record<string, unknown> {
    const type = input.type ?? 'text';
    const id = wamid(customer.waId);
    const timestamp = String(input.timestamp ?? Math.floor(this.deps.now() / 1000));
    const described = contentOf(type, input);
    const content =
      MEDIA_DEFAULTS[type] && this.deps.media ? this.deps.media.register(number.id, described, input.file) : described;
    const message: Record<string, unknown> = {
      ...(customer.username ? {} : { from: customer.waId }),
      from_user_id: customer.bsuid,
      ...(input.groupId ? { group_id: input.groupId } : {}),
      id,
      timestamp,
      ...(input.errors ? { errors: input.errors } : {}),
      type,
      // Meta's request_welcome webhook carries the type alone, no object of that name.
      ...(type === 'request_welcome' ? {} : { [type]: content }),
    };
    if (input.context) message.context = { from: digitsOf(number.displayPhoneNumber), id: input.context.message_id };
    customer.lastInboundAt = Math.max(customer.lastInboundAt ?? 0, Number(timestamp) * 1000);
    customer.messages.push({
      direction: 'inbound',
      id,
      type,
      timestamp,
      text: textOf(type, content),
      contextMessageId: input.context?.message_id,
      content,
      status: undefined,
      statusHistory: [],
      readAt: undefined,
    });
    return message;
  }

  /** POST /{phone-number-id}/messages with a message: validates like Meta, records it, schedules statuses. */
  send(number: PhoneNumber, body: Record<string, unknown>): SendRecord {
    if (body.messaging_product !== 'whatsapp') throw invalidParameter('The parameter messaging_product is required.');
    const to = typeof body.to === 'string' || typeof body.to === 'number' ? String(body.to) : '';
    const recipient = typeof body.recipient === 'string' ? body.recipient : '';
    // `to` (a phone number) takes precedence; `recipient` addresses a BSUID.
    const byBsuid = !to && recipient ? this.byBsuid(number.id, recipient) : undefined;
    if (!to && !recipient) throw invalidParameter('The parameter to is required.');
    if (!to && !byBsuid)
      throw invalidParameter('Invalid parameter', `The parameter recipient is not a known user id: ${recipient}`);
    const waId = byBsuid ? byBsuid.waId : digitsOf(to);
    if (waId.length < 6 || waId.length > 15)
      throw invalidParameter('Invalid parameter', `The parameter to is not a valid phone number: ${to}`);
    const type = typeof body.type === 'string' ? body.type : 'text';
    if (!SEND_TYPES.has(type))
      throw invalidParameter(`Param type must be one of {${[...SEND_TYPES].join(', ').toUpperCase()}}`);
    const content = body[type];
    if (typeof content !== 'object' || content === null) throw invalidParameter(`The parameter ${type} is required.`);
    const textBody = type === 'text' ? (content as Record<string, unknown>).body : undefined;
    if (type === 'text' && (typeof textBody !== 'string' || textBody.length === 0))
      throw invalidParameter("The parameter text['body'] is required.");
    if (typeof textBody === 'string' && textBody.length > 4096)
      throw invalidParameter("Param text['body'] must be at most 4096 characters long.");
    const object = content as Record<string, unknown>;
    if (type === 'template') checkTemplate(object, number.wabaId, this.deps.templates ?? (() => undefined));
    if (type === 'interactive') checkInteractive(object);
    checkMedia(type, object);
    if (number.platformType !== 'CLOUD_API') {
      throw new GraphError({
        status: 400,
        code: 133010,
        message: '(#133010) Account not registered',
        details: 'Account not registered',
      });
    }
    enforceSendLimits(number, waId, this.deps.now());
    const customer = this.customer(number.id, waId, undefined);
    const outsideWindow =
      type !== 'template' &&
      (customer.lastInboundAt === undefined || this.deps.now() - customer.lastInboundAt > SERVICE_WINDOW_MS);
    if (outsideWindow && number.statusMode.windowError === 'response') {
      throw new GraphError({
        status: 400,
        code: REENGAGEMENT.code,
        message: `(#131047) ${REENGAGEMENT.title}`,
        details: REENGAGEMENT.details,
      });
    }
    const callbackData = typeof body.biz_opaque_callback_data === 'string' ? body.biz_opaque_callback_data : undefined;
    const context = body.context as { message_id?: unknown } | undefined;
    const contextMessageId = typeof context?.message_id === 'string' ? context.message_id : undefined;
    const id = wamid(waId);
    const message: ConversationMessage = {
      direction: 'outbound',
      id,
      type,
      timestamp: String(Math.floor(this.deps.now() / 1000)),
      text: typeof textBody === 'string' ? textBody : textOf(type, content as Record<string, unknown>),
      contextMessageId,
      content: content as Record<string, unknown>,
      status: 'accepted',
      statusHistory: [],
      readAt: undefined,
      send: { byBsuid: Boolean(byBsuid), callbackData },
    };
    customer.messages.push(message);
    this.scheduleStatuses(number, customer, message, outsideWindow ? REENGAGEMENT : number.statusMode.fail, {
      byBsuid: Boolean(byBsuid),
      callbackData,
    });
    return {
      to: byBsuid ? recipient : to,
      addressedBy: byBsuid ? 'recipient' : 'to',
      callbackData,
      waId,
      messageId: id,
      textBody: message.text,
      contextMessageId,
      response: {
        messaging_product: 'whatsapp',
        contacts: [byBsuid ? { input: recipient, user_id: customer.bsuid } : { input: to, wa_id: waId }],
        messages: [{ id }],
      },
    };
  }

  /**
   * The customer's BSUID changes: later messages carry the new one, and a user_id_update webhook
   * reports it. Only this number's view of the customer moves (the sandbox keeps one per number).
   */
  changeUserId(
    phoneNumberId: string,
    from: string,
    userId?: string,
  ): { previous: string; current: string; webhookId: number } {
    const number = this.number(phoneNumberId);
    const waId = digitsOf(from);
    const customer = this.customers.get(`${number.id}:${waId}`);
    if (!customer) throw Object.assign(new Error(`no customer ${waId} on ${number.id}`), { status: 404 });
    const previous = customer.bsuid;
    const current = userId ?? `US.${BigInt(`0x${randomBytes(7).toString('hex')}`).toString()}`;
    customer.bsuid = current;
    const now = Math.floor(this.deps.now() / 1000);
    const value = userIdUpdateValue(number, customer, { previous, current }, String(now));
    const record = this.deps.post(
      { field: 'user_id_update', wabaId: number.wabaId, phoneNumberId: number.id },
      fieldEnvelope(number.wabaId, 'user_id_update', value, now),
    );
    return { previous, current, webhookId: record.webhookId };
  }

  /**
   * Reports one more status for a message the business sent, as Meta does on its own schedule
   * (`played` when the customer first plays a voice message).
   */
  reportStatus(phoneNumberId: string, messageId: string, status: StatusValue): WebhookRecord {
    const number = this.number(phoneNumberId);
    for (const customer of this.customers.values()) {
      if (customer.phoneNumberId !== number.id) continue;
      const message = customer.messages.find((m) => m.direction === 'outbound' && m.id === messageId);
      if (message)
        return this.emitStatus(
          number,
          customer,
          message,
          status,
          undefined,
          message.send ?? { byBsuid: false, callbackData: undefined },
        );
    }
    throw Object.assign(new Error(`no message ${messageId} sent from ${number.id}`), { status: 404 });
  }

  /** Meta's errors webhook: problems reported for the number as a whole. */
  reportErrors(phoneNumberId: string, errors: WhatsAppErrorDetail[]): WebhookRecord {
    const number = this.number(phoneNumberId);
    return this.deps.post(
      { field: 'messages', wabaId: number.wabaId, phoneNumberId: number.id },
      messagesEnvelope(number.wabaId, errorsValue(number, errors)),
    );
  }

  /** POST /{phone-number-id}/messages with status "read": marks an inbound message read. */
  markRead(number: PhoneNumber, body: Record<string, unknown>): string {
    if (body.messaging_product !== 'whatsapp') throw invalidParameter('The parameter messaging_product is required.');
    if (typeof body.message_id !== 'string') throw invalidParameter('The parameter message_id is required.');
    const typing = body.typing_indicator as { type?: unknown } | undefined;
    if (typing !== undefined && (typeof typing !== 'object' || typing === null || typing.type !== 'text'))
      throw invalidParameter('Invalid parameter', 'typing_indicator.type must be "text".');
    for (const customer of this.customers.values()) {
      if (customer.phoneNumberId !== number.id) continue;
      const message = customer.messages.find((m) => m.direction === 'inbound' && m.id === body.message_id);
      if (message) {
        message.readAt ??= new Date(this.deps.now()).toISOString();
        return message.id;
      }
    }
    throw invalidParameter('Invalid parameter', `Message with id ${body.message_id} not found for this phone number.`);
  }

  conversation(phoneNumberId: string, customer: string): ConversationMessage[] {
    const found = this.customers.get(`${phoneNumberId}:${digitsOf(customer)}`);
    return found ? structuredClone(found.messages) : [];
  }

  customerList(): Array<{
    phoneNumberId: string;
    waId: string;
    bsuid: string;
    username: string | undefined;
    name: string;
    messages: number;
  }> {
    return [...this.customers.values()].map((c) => ({
      phoneNumberId: c.phoneNumberId,
      waId: c.waId,
      bsuid: c.bsuid,
      username: c.username,
      name: c.name,
      messages: c.messages.length,
    }));
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private scheduleStatuses(
    number: PhoneNumber,
    customer: Customer,
    message: ConversationMessage,
    failure: WhatsAppErrorDetail | undefined,
    send: { byBsuid: boolean; callbackData: string | undefined },
  ): void {
    const steps: StatusValue[] = failure
      ? ['failed']
      : (['sent', 'delivered', 'read'] as const).slice(
          0,
          ['sent', 'delivered', 'read'].indexOf(number.statusMode.stopAt) + 1,
        );
    steps.forEach((status, i) => {
      const timer = setTimeout(
        () => {
          this.timers.delete(timer);
          this.emitStatus(number, customer, message, status, failure, send);
        },
        this.deps.statusDelayMs * (i + 1),
      );
      this.timers.add(timer);
    });
  }

  private emitStatus(
    number: PhoneNumber,
    customer: Customer,
    message: ConversationMessage,
    status: StatusValue,
    failure: WhatsAppErrorDetail | undefined,
    send: { byBsuid: boolean; callbackData: string | undefined },
  ): WebhookRecord {
    const now = this.deps.now();
    message.status = status;
    message.statusHistory.push({ status, at: new Date(now).toISOString() });
    const key = `${number.id}:${customer.waId}`;
    let conversationId = this.conversationIds.get(key);
    if (!conversationId) {
      conversationId = randomBytes(16).toString('hex');
      this.conversationIds.set(key, conversationId);
    }
    const value = statusValue(number, {
      messageId: message.id,
      status,
      timestamp: String(Math.floor(now / 1000)),
      // A message sent to a BSUID of a username user reports no phone number.
      recipientId: send.byBsuid && customer.username ? '' : customer.waId,
      recipientUserId: customer.bsuid,
      callbackData: send.callbackData,
      conversationId,
      conversationExpiresAt: String(Math.floor((customer.lastInboundAt ?? now) / 1000) + SERVICE_WINDOW_MS / 1000),
      ...(failure ? { error: failure } : {}),
    });
    return this.deps.post(
      { field: 'messages', wabaId: number.wabaId, phoneNumberId: number.id, messageId: message.id, status },
      messagesEnvelope(number.wabaId, value),
    );
  }

  private number(phoneNumberId: string): PhoneNumber {
    const number = this.deps.world.numbers.get(phoneNumberId);
    if (!number) throw new Error(`no phone number ${phoneNumberId}`);
    return number;
  }

  private byBsuid(phoneNumberId: string, bsuid: string): Customer | undefined {
    for (const customer of this.customers.values())
      if (customer.phoneNumberId === phoneNumberId && customer.bsuid === bsuid) return customer;
    return undefined;
  }

  private customer(phoneNumberId: string, waId: string, name: string | undefined): Customer {
    const key = `${phoneNumberId}:${waId}`;
    let customer = this.customers.get(key);
    if (!customer) {
      // Scoped to the business portfolio that owns the number's WABA, as Meta scopes it: every number
      // of one portfolio knows the person by the same id; never the phone itself.
      const number = this.number(phoneNumberId);
      const portfolio = this.deps.world.wabas.get(number.wabaId)?.ownerBusinessId ?? number.wabaId;
      const bsuid = `US.${BigInt(`0x${createHash('sha256').update(`${portfolio}:${waId}`).digest('hex').slice(0, 15)}`).toString()}`;
      customer = {
        phoneNumberId,
        waId,
        bsuid,
        username: undefined,
        name: name ?? `Customer ${waId.slice(-4)}`,
        lastInboundAt: undefined,
        messages: [],
      };
      this.customers.set(key, customer);
    } else if (name) {
      customer.name = name;
    }
    return customer;
  }
}

function contentOf(type: string, input: CustomerMessageInput): Record<string, unknown> {
  const given = (input as unknown as Record<string, unknown>)[type];
  const object = typeof given === 'object' && given !== null ? (given as Record<string, unknown>) : {};
  switch (type) {
    case 'text':
      return { body: input.text ?? '' };
    case 'interactive':
      return Object.keys(object).length
        ? object
        : { type: 'button_reply', button_reply: { id: 'reply-1', title: input.text ?? 'OK' } };
    case 'button':
      return Object.keys(object).length ? object : { payload: input.text ?? 'OK', text: input.text ?? 'OK' };
    case 'location':
      return Object.keys(object).length ? object : { latitude: 52.52, longitude: 13.405 };
    default: {
      const defaults = MEDIA_DEFAULTS[type];
      if (!defaults) return object;
      const caption = input.text !== undefined && type !== 'audio' && type !== 'sticker' ? { caption: input.text } : {};
      return {
        ...defaults,
        ...caption,
        id: String(10n ** 15n + BigInt(`0x${randomBytes(6).toString('hex')}`)),
        ...object,
      };
    }
  }
}

/** The human-readable text of a message, for the conversation view and the call log. */
function textOf(type: string, content: Record<string, unknown>): string | undefined {
  if (type === 'text') return typeof content.body === 'string' ? content.body : undefined;
  if (typeof content.caption === 'string') return content.caption;
  if (type === 'reaction') return typeof content.emoji === 'string' ? content.emoji : undefined;
  if (type === 'button') return typeof content.text === 'string' ? content.text : undefined;
  if (type === 'interactive') {
    const reply = (content.button_reply ?? content.list_reply) as { title?: unknown } | undefined;
    if (typeof reply?.title === 'string') return reply.title;
    const body = content.body as { text?: unknown } | undefined;
    return typeof body?.text === 'string' ? body.text : undefined;
  }
  return undefined;
}
