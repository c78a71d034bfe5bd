/** Every failure the SDK reports carries a stable `code` (the server's error codes, or the SDK's own). */
export class ImError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message?: string, details: Record<string, unknown> = {}) {
    super(message ?? code);
    this.name = "ImError";
    this.code = code;
    this.details = details;
  }
}

/** Codes with which the server refuses a login: the SDK stops reconnecting after them. */
export const AUTH_FAILURE_CODES: ReadonlySet<string> = new Set([
  "unknown_app",
  "bad_credentials",
  "blocked",
  "invalid_field",
]);
