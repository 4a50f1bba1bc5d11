// What a redacted value is replaced with, in parsed values and in the raw line.
export const REDACTED = "[REDACTED]";
