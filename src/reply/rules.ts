// The rule-based auto-reply: the integration's text (or the default) for text messages, and a
// distinct answer for everything a customer can send that is not text.
import type { Reply, ReplyRequest, Responder } from './responder.js';

const NON_TEXT_ANSWERS: Record<string, string> = {
  image: 'Thanks for the image! We will take a look and get back to you.',
  video: 'Thanks for the video! We will take a look and get back to you.',
  audio: 'Thanks for the voice message! We will listen and get back to you.',
  document: 'Thanks for the document! We will review it and get back to you.',
  location: 'Thanks for sharing your location!',
  sticker: 'Thanks for the sticker!',
  contacts: 'Thanks for the contact details!',
  reaction: 'Thanks for your reaction!',
  interactive: 'Thanks, we got your choice.',
  button: 'Thanks, we got your choice.',
};
const FALLBACK = 'Thanks for your message! We can only read text, images, audio and documents here.';

export class RulesResponder implements Responder {
  readonly name = 'rules';

  constructor(
    private readonly text: string,
    /** The business's welcome text: the only answer to a welcome request, which gets none without it. */
    private readonly welcomeText?: string,
  ) {}

  async reply(request: ReplyRequest): Promise<Reply | null> {
    if (request.type === 'request_welcome') return this.welcomeText ? { type: 'text', text: this.welcomeText } : null;
    if (request.type === 'text') return { type: 'text', text: this.text };
    return { type: 'text', text: NON_TEXT_ANSWERS[request.type] ?? FALLBACK };
  }
}
