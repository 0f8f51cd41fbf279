// Request validation with zod: one rule for every route, a 400 `invalid_request` naming what is wrong,
// and validate(), which gives a route's handler its input parsed and typed.
import type { RouterContext, RouterMiddleware } from '@koa/router';
import type { Next } from 'koa';
import { z } from 'zod';
import { readJson } from './body.js';
import { HttpError } from './errors.js';
import type { AppState } from './state.js';

/** The value the schema makes of the input, or a 400 that says which field and why. */
function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'invalid_request', z.prettifyError(result.error));
  return result.data;
}

type Part = 'headers' | 'params' | 'query' | 'body';

/** A route's input, parsed in this order: headers, each path parameter, the query string, the JSON body. */
export interface InputSchemas {
  /** Parsed against the request's headers (names in lower case). */
  headers?: z.ZodType;
  /** One schema per path parameter, by name. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodType;
  /** Given: the body is read as JSON (at most `bodyLimit` bytes, 64 KiB by default) and parsed. */
  body?: z.ZodType;
  bodyLimit?: number;
  /**
   * A part that fails its schema is refused with this error instead of the 400 naming the field,
   * e.g. a path id that cannot exist names nothing (404).
   */
  refuse?: Partial<Record<Part, (value: unknown) => Error>>;
}

type Outputs<T> = { [K in keyof T]: z.output<T[K]> };

/** What the schemas make of the request: each given part, with its schema's output type. */
export type Input<S extends InputSchemas> = {
  [K in Part & keyof S]: K extends 'params' ? Outputs<S[K]> : z.output<S[K]>;
};

export type ValidatedContext<S extends InputSchemas> = RouterContext<AppState & { input: Input<S> }>;

function parsePart(schemas: InputSchemas, part: Part, schema: z.ZodType, value: unknown): unknown {
  const refuse = schemas.refuse?.[part];
  if (!refuse) return parse(schema, value);
  const result = schema.safeParse(value);
  if (!result.success) throw refuse(value);
  return result.data;
}

/**
 * The route's handler, run once its input parsed: `ctx.state.input` holds each part as its schema
 * typed it, so the handler neither reads the body nor parses anything itself.
 */
export function validate<S extends InputSchemas>(
  schemas: S,
  handler: (ctx: ValidatedContext<S>, next: Next) => unknown,
): RouterMiddleware<AppState> {
  return async (ctx, next) => {
    const input: Partial<Record<Part, unknown>> = {};
    if (schemas.headers) input.headers = parsePart(schemas, 'headers', schemas.headers, ctx.headers);
    if (schemas.params)
      input.params = Object.fromEntries(
        Object.entries(schemas.params).map(([name, schema]) => [
          name,
          parsePart(schemas, 'params', schema, ctx.params[name]),
        ]),
      );
    if (schemas.query) input.query = parsePart(schemas, 'query', schemas.query, ctx.query);
    if (schemas.body) input.body = parsePart(schemas, 'body', schemas.body, await readJson(ctx, schemas.bodyLimit));
    // Each part above was parsed by the schema its type names.
    const validated = ctx as ValidatedContext<S>;
    validated.state.input = input as Input<S>;
    await handler(validated, next);
  };
}
