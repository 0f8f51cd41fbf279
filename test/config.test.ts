import { describe, expect, it } from 'vitest';
import { ConfigError, listeningAt, loadConfig, parseDuration } from '../src/config.js';

const key = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/waconnect',
  CREDENTIALS_ENCRYPTION_KEY: key,
  AUTH_JWT_SECRET: 'x'.repeat(32),
  WHATSAPP_VERIFY_TOKEN: 'verify-me',
  META_APP_ID: '123',
  META_APP_SECRET: 'app-secret',
  FRONTEND_URL: 'https://app.example.com/',
  PUBLIC_URL: 'https://api.example.com',
};

function problemsOf(env: NodeJS.ProcessEnv, role: Parameters<typeof loadConfig>[1] = 'api'): string[] {
  try {
    loadConfig(env, role);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

describe('config', () => {
  it('lists every missing variable at once', () => {
    expect(problemsOf({})).toEqual([
      'DATABASE_URL: required',
      'CREDENTIALS_ENCRYPTION_KEY: required',
      'AUTH_JWT_SECRET: required',
      'WHATSAPP_VERIFY_TOKEN: required',
      'META_APP_ID: required',
      'META_APP_SECRET: required',
      'FRONTEND_URL: required',
    ]);
  });

  it('names each malformed variable with what was expected', () => {
    const problems = problemsOf({
      ...production,
      PORT: 'eighty',
      DATABASE_URL: 'mysql://db',
      AUTH_JWT_SECRET: 'short',
      META_GRAPH_API_VERSION: '21',
      TOKEN_REFRESH_INTERVAL: 'often',
      CREDENTIALS_ENCRYPTION_KEY: 'k1:dG9vIHNob3J0',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'PORT',
      'DATABASE_URL',
      'META_GRAPH_API_VERSION',
      'AUTH_JWT_SECRET',
      'TOKEN_REFRESH_INTERVAL',
    ]);
    // The keyring is checked once the rest parses.
    expect(problemsOf({ ...production, CREDENTIALS_ENCRYPTION_KEY: 'k1:dG9vIHNob3J0' })).toEqual([
      'CREDENTIALS_ENCRYPTION_KEY: key "k1" must be 32 bytes of base64 (openssl rand -base64 32)',
    ]);
  });

  it('applies documented defaults and derives URLs', () => {
    const config = loadConfig(production, 'api');
    expect(config.port).toBe(8000);
    expect(config.frontendUrl).toBe('https://app.example.com');
    expect(config.meta.redirectUri).toBe('https://api.example.com/api/integrations/whatsapp/callback');
    expect(config.meta.graphApiUrl).toBe('https://graph.facebook.com');
    expect(config.meta.oauthDialogUrl).toBe('https://www.facebook.com');
    expect(config.whatsapp.appSecret).toBe('app-secret');
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'whatsapp' });
    expect(config.auth.businessClaim).toBe('business_id');
    expect(config.tokens).toEqual({ refreshIntervalMs: 86_400_000, expiryThresholdDays: 10 });
  });

  const sandboxEnv = {
    ...production,
    NODE_ENV: 'development',
    META_SANDBOX: 'true',
    META_GRAPH_API_URL: 'http://localhost:1',
    META_OAUTH_DIALOG_URL: 'http://127.0.0.1:1',
    SANDBOX_SESSION_SECRET: 's'.repeat(32),
  };

  it('on PORT=0, gives the URLs left unset the port the API got, and keeps the ones set', () => {
    const { PUBLIC_URL: _public, FRONTEND_URL: _frontend, ...unset } = production;
    const derived = listeningAt(loadConfig({ ...unset, PORT: '0' }, 'worker'), 'http://127.0.0.1:41234', 41234);
    expect(derived.port).toBe(41234);
    expect(derived.publicUrl).toBe('http://127.0.0.1:41234');
    expect(derived.frontendUrl).toBe('http://127.0.0.1:41234');
    expect(derived.meta.redirectUri).toBe('http://127.0.0.1:41234/api/integrations/whatsapp/callback');
    const set = listeningAt(loadConfig({ ...production, PORT: '0' }, 'api'), 'http://127.0.0.1:41234', 41234);
    expect(set.publicUrl).toBe('https://api.example.com');
    expect(set.frontendUrl).toBe('https://app.example.com');
    expect(set.meta.redirectUri).toBe('https://api.example.com/api/integrations/whatsapp/callback');
    // A fixed port is what the URLs already name.
    const fixed = loadConfig({ ...unset, PORT: '8080' }, 'worker');
    expect(listeningAt(fixed, 'http://127.0.0.1:8080', 8080)).toBe(fixed);
  });

  it('allows sandbox mode only with NODE_ENV development or test', () => {
    expect(problemsOf(sandboxEnv)).toEqual([]);
    expect(problemsOf({ ...sandboxEnv, NODE_ENV: 'test', META_GRAPH_API_URL: 'http://[::1]:1' })).toEqual([]);
    for (const nodeEnv of ['production', 'staging']) {
      expect(problemsOf({ ...sandboxEnv, NODE_ENV: nodeEnv })).toEqual([
        `META_SANDBOX: sandbox mode needs NODE_ENV=development or test (is ${nodeEnv})`,
      ]);
    }
    // The default NODE_ENV is development.
    expect(problemsOf({ ...sandboxEnv, NODE_ENV: undefined })).toEqual([]);
  });

  it('allows sandbox mode only with loopback Meta URLs', () => {
    const remote = { META_GRAPH_API_URL: 'https://graph.facebook.com', META_OAUTH_DIALOG_URL: 'http://10.0.0.5:8001' };
    expect(problemsOf({ ...sandboxEnv, ...remote })).toEqual([
      'META_GRAPH_API_URL: sandbox mode needs a loopback host (127.0.0.1, ::1 or localhost)',
      'META_OAUTH_DIALOG_URL: sandbox mode needs a loopback host (127.0.0.1, ::1 or localhost)',
    ]);
    expect(problemsOf({ ...sandboxEnv, META_GRAPH_API_URL: 'http://localhost.evil.example:1' })).toHaveLength(1);
  });

  it('needs a sandbox session key of its own for the API in sandbox mode', () => {
    const withoutKey = { ...sandboxEnv, SANDBOX_SESSION_SECRET: undefined };
    expect(problemsOf(withoutKey)).toEqual(['SANDBOX_SESSION_SECRET: required']);
    expect(problemsOf({ ...sandboxEnv, SANDBOX_SESSION_SECRET: undefined }, 'worker')).toEqual([]);
    const outside = loadConfig({ ...production, SANDBOX_SESSION_SECRET: 's'.repeat(32) }, 'api');
    expect(outside.auth.sandboxSessionSecret).toBeUndefined();
  });

  it('reads the token settings with their defaults', () => {
    const config = loadConfig(production, 'api');
    expect(config.auth).toMatchObject({ maxAgeMs: 86_400_000, roleClaim: 'role' });
    expect([config.auth.issuer, config.auth.audience]).toEqual([undefined, undefined]);
    expect(Object.values(config.codec).every((value) => value === undefined)).toBe(true);
    const settings = {
      AUTH_JWT_MAX_AGE: '1h',
      AUTH_JWT_ISSUER: 'https://app',
      AUTH_JWT_AUDIENCE: 'wa',
      AUTH_ROLE_CLAIM: 'roles',
    };
    const custom = loadConfig({ ...production, ...settings }, 'api');
    expect(custom.auth).toMatchObject({ maxAgeMs: 3_600_000, issuer: 'https://app', audience: 'wa' });
    expect(custom.auth.roleClaim).toBe('roles');
  });

  it('wants operator credentials of at least 32 characters', () => {
    expect(problemsOf({ ...production, CODEC_AUTH_TOKEN: 'short-token', CODEC_JWT_SECRET: 'short' })).toEqual([
      'CODEC_AUTH_TOKEN: must be at least 32 characters',
      'CODEC_JWT_SECRET: must be at least 32 characters',
    ]);
  });

  it('needs only DATABASE_URL to migrate', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }, 'migrate').databaseUrl).toBe('postgres://db/x');
  });

  it('requires a secret for the reply webhook', () => {
    expect(problemsOf({ ...production, REPLY_WEBHOOK_URL: 'https://brain.example.com/reply' })).toEqual([
      'REPLY_WEBHOOK_SECRET: required when REPLY_WEBHOOK_URL is set',
    ]);
  });

  it('wants the reply webhook over https outside sandbox mode', () => {
    const plainHttp = { REPLY_WEBHOOK_URL: 'http://brain.example.com/reply', REPLY_WEBHOOK_SECRET: 'x' };
    expect(problemsOf({ ...production, ...plainHttp })).toEqual([
      'REPLY_WEBHOOK_URL: must be https outside sandbox mode',
    ]);
    const local = { REPLY_WEBHOOK_URL: 'http://127.0.0.1:9/reply', REPLY_WEBHOOK_SECRET: 'x' };
    expect(problemsOf({ ...sandboxEnv, ...local })).toEqual([]);
  });

  it('listens on 127.0.0.1 for npm start and everywhere for the api, unless HOST says otherwise', () => {
    expect(loadConfig(sandboxEnv, 'dev').host).toBe('127.0.0.1');
    expect(loadConfig(production, 'api').host).toBe('0.0.0.0');
    expect(loadConfig({ ...sandboxEnv, HOST: '0.0.0.0' }, 'dev').host).toBe('0.0.0.0');
  });

  it('keeps metrics off the public port by default', () => {
    expect(loadConfig(production, 'api').metrics).toEqual({ port: undefined, host: '127.0.0.1', authToken: undefined });
    expect(problemsOf({ ...production, METRICS_AUTH_TOKEN: 'short' })).toEqual([
      'METRICS_AUTH_TOKEN: must be at least 32 characters',
    ]);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('soon')).toBeUndefined();
  });
  it('keeps each kind of data for its retention setting, off keeping it forever', () => {
    const defaults = loadConfig(production, 'worker').retention;
    expect(defaults).toEqual({
      days: {
        message_text: 30,
        messages: 90,
        statuses: 30,
        media: 30,
        account_events: 365,
        oauth_states: 1,
        signup_events: 90,
        rejected_items: 30,
      },
      sweepIntervalMs: 3_600_000,
      batchSize: 1_000,
    });
    const set = loadConfig(
      { ...production, RETENTION_MESSAGES_DAYS: 'off', RETENTION_STATUSES_DAYS: '7', RETENTION_SWEEP_INTERVAL: '15m' },
      'worker',
    ).retention;
    expect(set.days).toMatchObject({ messages: null, statuses: 7 });
    expect(set.sweepIntervalMs).toBe(900_000);
    // 0 is ambiguous (nothing, or forever?); below a kind's minimum it would delete what is still needed.
    expect(
      problemsOf({ ...production, RETENTION_MESSAGE_TEXT_DAYS: '0', RETENTION_ACCOUNT_EVENTS_DAYS: '2' }, 'worker'),
    ).toEqual([
      'RETENTION_MESSAGE_TEXT_DAYS: expected whole days from 1 to 36500, or off',
      'RETENTION_ACCOUNT_EVENTS_DAYS: expected whole days from 3 to 36500, or off',
    ]);
  });

  it('reads the abuse limits: byte budget, timeouts, <requests>/<duration> rate limits or off', () => {
    expect(loadConfig(production, 'api').limits).toEqual({
      webhookBytesInFlight: 32 * 1024 * 1024,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      rates: {
        connect: { points: 20, durationSeconds: 600 },
        embedded_signup: { points: 20, durationSeconds: 600 },
        messages: { points: 6000, durationSeconds: 60 },
        erasures: { points: 10, durationSeconds: 3600 },
        reads: { points: 6000, durationSeconds: 60 },
        writes: { points: 600, durationSeconds: 60 },
      },
      oauthStatesPerBusiness: 10,
      signupEventsPerHour: 60,
    });
    const set = loadConfig({ ...production, RATE_LIMIT_MESSAGES: '50/30s', RATE_LIMIT_CONNECT: 'off' }, 'api').limits;
    expect(set.rates).toMatchObject({ messages: { points: 50, durationSeconds: 30 }, connect: null });
    expect(
      problemsOf({
        ...production,
        RATE_LIMIT_ERASURES: '10/500ms',
        RATE_LIMIT_MESSAGES: 'lots',
        WEBHOOK_MAX_BYTES_IN_FLIGHT: '1000',
        HTTP_HEADERS_TIMEOUT: '1m',
      }),
    ).toEqual([
      'WEBHOOK_MAX_BYTES_IN_FLIGHT: Too small: expected number to be >=4194304',
      'RATE_LIMIT_MESSAGES: expected <requests>/<duration> such as 20/10m (whole seconds), or off',
      'RATE_LIMIT_ERASURES: expected <requests>/<duration> such as 20/10m (whole seconds), or off',
    ]);
    expect(problemsOf({ ...production, HTTP_HEADERS_TIMEOUT: '1m' })).toEqual([
      'HTTP_HEADERS_TIMEOUT: must not be longer than HTTP_REQUEST_TIMEOUT',
    ]);
  });
});
