/** A comma-separated setting (secret rotation lists, key lists, provider names): trimmed entries, empty ones dropped. */
export function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
