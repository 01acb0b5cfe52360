/**
 * The part of a WebSocket the client uses. Browsers' `WebSocket` and the `ws` package's both fit, and so
 * does the fake the unit tests inject; nothing else of either is relied on.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** Set to 'arraybuffer' when present, so binary frames can be decoded without Blob's async API. */
  binaryType?: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (event: WebSocketErrorEvent) => void): void;
}

/** Browsers give a bare Event; `ws` gives an ErrorEvent with `message` and `error`. */
export interface WebSocketErrorEvent {
  message?: string;
  error?: unknown;
}

/** `protocols` become the handshake's Sec-WebSocket-Protocol header, in both browsers and `ws`. */
export type WebSocketConstructor = new (url: string, protocols?: string[]) => WebSocketLike;

/** WebSocket.OPEN in every implementation (the constant is not on every constructor). */
export const OPEN = 1;

const decoder = new TextDecoder();

/** A frame's text: API Gateway sends text frames; binary ones are decoded as UTF-8 all the same. */
export function frameText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  return undefined;
}

/**
 * The HTTP status of a refused handshake, when the implementation reveals it. `ws` reports "Unexpected
 * server response: 401"; browsers hide the status from scripts, so there it is always undefined.
 */
export function handshakeStatus(event: WebSocketErrorEvent | undefined): number | undefined {
  if (!event) return undefined;
  const text =
    typeof event.message === 'string' && event.message
      ? event.message
      : event.error instanceof Error
        ? event.error.message
        : '';
  const match = /server response: (\d{3})\b/i.exec(text);
  return match?.[1] ? Number(match[1]) : undefined;
}
