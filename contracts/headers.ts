/**
 * A header's value, its name matched in any case: HTTP API (payload 2.0) lower-cases header names, other
 * callers (tests, the local stack, API Gateway's REST payloads) may not.
 */
export function headerValue(
  headers: Readonly<Record<string, string | undefined>> | null | undefined,
  lowerCaseName: string,
): string | undefined {
  const name = Object.keys(headers ?? {}).find((key) => key.toLowerCase() === lowerCaseName);
  return name === undefined ? undefined : headers?.[name];
}
