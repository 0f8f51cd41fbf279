// Stable JSON for the keys of Meta's webhook events, which carry no id of their own: the same body
// gives the same text whatever order its keys arrive in, so a redelivery hashes to the key it had.
// Stored keys depend on this exact text: changing it would let every old event in again.
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
