// Request validation with zod: one rule for every route, a 400 `invalid_request` naming what is wrong.
import { z } from 'zod';
import { HttpError } from './errors.js';

/** The value the schema makes of the input, or a 400 that says which field and why. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new HttpError(400, 'invalid_request', z.prettifyError(result.error));
  return result.data;
}
