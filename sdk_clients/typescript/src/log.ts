import type { Clock } from "./clock.js";

export type LogLevel = "debug" | "info" | "warning" | "error";

export interface LogEntry {
  /** Unix time in seconds (as in the Python SDK). */
  ts: number;
  level: LogLevel;
  event: string;
  [field: string]: unknown;
}

/** The last `capacity` structured entries, kept for `dumpLog()` (attach it to a support ticket). */
export class LogRing {
  private readonly entries: LogEntry[] = [];
  private start = 0;

  constructor(
    private readonly capacity: number,
    private readonly clock: Clock,
  ) {}

  add(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (this.capacity <= 0) return;
    const entry: LogEntry = { ts: this.clock.now() / 1000, level, event };
    for (const [key, value] of Object.entries(fields)) entry[key] = plain(value);
    if (this.entries.length < this.capacity) {
      this.entries.push(entry);
    } else {
      this.entries[this.start] = entry;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first; JSON-serialisable. */
  dump(): LogEntry[] {
    return [...this.entries.slice(this.start), ...this.entries.slice(0, this.start)].map((e) => ({ ...e }));
  }
}

function plain(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (Array.isArray(value)) return value.map(plain);
  return value;
}
