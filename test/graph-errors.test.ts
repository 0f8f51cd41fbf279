import { describe, expect, it } from 'vitest';
import { classify, GraphError, scrubSecrets } from '../src/meta/graph-errors.js';

const rejected = (status: number, code?: number, subcode?: number, type?: string) =>
  classify({
    status,
    outcome: 'rejected',
    ...(code !== undefined ? { code } : {}),
    ...(subcode !== undefined ? { subcode } : {}),
    ...(type ? { type } : {}),
  });

describe('Graph error classification', () => {
  it.each([1, 2, 4, 17, 32, 341, 613, 80007, 130429, 131056])('retries code %i', (code) => {
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

  it('treats permissions and a wrong app secret as permanent', () => {
    expect(rejected(403, 10)).toBe('permission');
    expect(rejected(403, 200)).toBe('permission');
    expect(rejected(403, 299)).toBe('permission');
    expect(rejected(400, 1, undefined, 'OAuthException')).toBe('invalid');
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
