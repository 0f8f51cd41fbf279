import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient } from '../src/meta/graph-client.js';
import {
  classify,
  GraphError,
  registrationCodeOf,
  scrubSecrets,
  templateRefusalMessage,
  templateRefusalOf,
} from '../src/meta/graph-errors.js';

const rejected = (status: number, code?: number, subcode?: number, type?: string) =>
  classify({
    status,
    outcome: 'rejected',
    ...(code !== undefined ? { code } : {}),
    ...(subcode !== undefined ? { subcode } : {}),
    ...(type ? { type } : {}),
  });

describe('Graph error classification', () => {
  it.each([1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131056, 131057])('retries code %i', (code) => {
    expect(rejected(400, code)).toBe('transient');
  });

  it('retries 5xx, 429 and anything that may not have reached Meta', () => {
    expect(rejected(500)).toBe('transient');
    expect(rejected(503)).toBe('transient');
    expect(rejected(429)).toBe('transient');
    expect(rejected(500, 131000)).toBe('transient');
    expect(classify({ outcome: 'not_sent' })).toBe('transient');
    expect(classify({ outcome: 'unknown' })).toBe('transient');
  });

  it('asks for re-auth on 190 whatever the subcode', () => {
    for (const subcode of [undefined, 458, 459, 460, 463, 464, 467]) expect(rejected(401, 190, subcode)).toBe('reauth');
  });

  it('separates a used code, an expired code and other bad requests', () => {
    expect(rejected(400, 100, 36009)).toBe('code_used');
    expect(rejected(400, 100, 36007)).toBe('code_expired');
    expect(rejected(400, 100, 36008)).toBe('invalid');
    expect(rejected(400, 100)).toBe('invalid');
    expect(rejected(400, 131047)).toBe('window_closed');
    expect(rejected(400, 131026)).toBe('invalid');
  });

  it('gives registration refusals their own stable codes, none of them retried', () => {
    const refusal = (code: number) =>
      new GraphError('refused', { operation: 'phone.register', status: 400, code, outcome: 'rejected' });
    expect(registrationCodeOf(refusal(133005))).toBe('pin_mismatch');
    expect(registrationCodeOf(refusal(133016))).toBe('registration_rate_limited');
    expect(registrationCodeOf(refusal(133010))).toBe('number_not_registered');
    expect(registrationCodeOf(refusal(100))).toBeUndefined();
    // 133016 is a rate limit that lasts until Meta's 72-hour window passes: retrying cannot help.
    for (const code of [133005, 133016, 133010]) expect(refusal(code).kind).toBe('invalid');
  });

  it('treats permissions and a wrong app secret as permanent', () => {
    expect(rejected(403, 10)).toBe('permission');
    expect(rejected(403, 200)).toBe('permission');
    expect(rejected(403, 299)).toBe('permission');
    expect(
      classify({ operation: 'oauth.code_exchange', status: 400, code: 1, type: 'OAuthException', outcome: 'rejected' }),
    ).toBe('invalid');
    expect(rejected(400, 101)).toBe('invalid');
  });

  it('marks rate limits so they back off longer', () => {
    expect(
      new GraphError('x', { operation: 'messages.send', status: 400, code: 130429, outcome: 'rejected' }).isRateLimit,
    ).toBe(true);
    expect(new GraphError('x', { operation: 'messages.send', status: 500, outcome: 'rejected' }).isRateLimit).toBe(
      false,
    );
  });
});

describe('scrubSecrets', () => {
  it('removes tokens, app tokens and secret query parameters', () => {
    const text =
      'bad EAAGm0PX4ZCpsBAKZC1 and 1234567|abcdefghijklmnop in ?access_token=xyz&code=AQB123&client_secret=s3cr3t&limit=5';
    const scrubbed = scrubSecrets(text, ['my-extra-secret']);
    for (const secret of ['EAAGm0PX4ZCpsBAKZC1', 'abcdefghijklmnop', 'xyz', 'AQB123', 's3cr3t'])
      expect(scrubbed).not.toContain(secret);
    expect(scrubbed).toContain('limit=5');
    expect(scrubSecrets('the my-extra-secret leaked', ['my-extra-secret'])).toBe('the [redacted] leaked');
  });

  it('scrubs the message of every GraphError', () => {
    expect(
      new GraphError('Invalid OAuth access token EAAGabcdefghijklmnop', { operation: 'x', outcome: 'rejected' })
        .message,
    ).not.toContain('EAAG');
  });
});

// Bodies in the shape of Meta's "Error response syntax" (WhatsApp error codes page): message, type,
// code, error_data {messaging_product, details}, error_subcode, fbtrace_id. The titles and details
// are the ones Meta's code table gives for each code.
describe('documented Graph error bodies, through the client', () => {
  let server: Server;
  let answer: { status: number; body: unknown } = { status: 500, body: {} };
  let client: GraphClient;
  const token = 'EAAGm0PX4ZCpsBAKZC1toktoktok';

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () =>
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body)),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new GraphClient({
      graphApiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      graphApiVersion: 'v24.0',
      appId: '1234567890',
      appSecret: 'app-secret-for-graph-error-tests',
    });
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const send = () => client.sendText(token, '106540352242922', { to: '16505551234', body: 'hi' });
  const failure = async () => {
    try {
      await send();
    } catch (error) {
      return error as GraphError;
    }
    throw new Error('the send did not fail');
  };

  it('retries 131057 (account in maintenance mode) and keeps its details in the summary', async () => {
    answer = {
      status: 500,
      body: {
        error: {
          message: '(#131057) Account in maintenance mode',
          type: 'OAuthException',
          code: 131057,
          error_data: {
            messaging_product: 'whatsapp',
            details:
              'WhatsApp Business Account is in maintenance mode. One reason for this could be that the account is undergoing a throughput upgrade.',
          },
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    };
    const error = await failure();
    expect(error.kind).toBe('transient');
    expect(error.code).toBe(131057);
    expect(error.summary).toContain('throughput upgrade');
    // Rejected outright (a 4xx with the same code) it is still only a pause, not a refusal.
    expect(classify({ status: 400, code: 131057, outcome: 'rejected' })).toBe('transient');
  });

  it('retries code 1 on a send even as an OAuthException, and scrubs tokens out of its details', async () => {
    answer = {
      status: 400,
      body: {
        error: {
          message: '(#1) Invalid request or possible server error.',
          type: 'OAuthException',
          code: 1,
          error_data: { messaging_product: 'whatsapp', details: `Request with access_token=${token} failed` },
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    };
    const error = await failure();
    expect(error.kind).toBe('transient');
    expect(error.details).toContain('access_token=[redacted]');
    expect(error.summary).toContain('access_token=[redacted]');
    expect(error.summary).not.toContain(token);
  });

  it('keeps a permanent error permanent, with its details', async () => {
    answer = {
      status: 400,
      body: {
        error: {
          message: '(#131026) Message undeliverable',
          type: 'OAuthException',
          code: 131026,
          error_data: { messaging_product: 'whatsapp', details: 'Message Undeliverable.' },
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    };
    const error = await failure();
    expect(error.kind).toBe('invalid');
    expect(error.summary).toBe(
      'messages.send failed, HTTP 400, code 131026: (#131026) Message undeliverable (Message Undeliverable.)',
    );
  });

  const createTemplate = async () => {
    try {
      await client.createMessageTemplate(token, '102290129340398', {
        name: 'seasonal_promotion',
        language: 'en_US',
        category: 'MARKETING',
        components: [{ type: 'BODY', text: 'Hi' }],
      });
    } catch (error) {
      return error as GraphError;
    }
    throw new Error('the create did not fail');
  };

  it('tells a duplicate template from an invalid one, in Meta’s words for the person, scrubbed', async () => {
    answer = {
      status: 400,
      body: {
        error: {
          message: 'Invalid parameter',
          type: 'OAuthException',
          code: 100,
          error_subcode: 2388024,
          is_transient: false,
          error_user_title: 'Content in This Language Already Exists',
          error_user_msg: "There's already English (US) content for this template.",
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    };
    const duplicate = await createTemplate();
    expect(templateRefusalOf(duplicate)).toBe('template_exists');
    expect(templateRefusalMessage(duplicate)).toBe(
      "Content in This Language Already Exists: There's already English (US) content for this template.",
    );

    answer = {
      status: 400,
      body: {
        error: {
          message: 'Invalid parameter',
          type: 'OAuthException',
          code: 100,
          error_user_title: 'Invalid template name',
          error_user_msg: `Names are lowercase (request access_token=${token})`,
          fbtrace_id: 'AbCdEfGhIjK',
        },
      },
    };
    const invalid = await createTemplate();
    expect(templateRefusalOf(invalid)).toBe('template_invalid');
    expect(templateRefusalMessage(invalid)).toContain('access_token=[redacted]');
    expect(templateRefusalMessage(invalid)).not.toContain(token);
  });
});
