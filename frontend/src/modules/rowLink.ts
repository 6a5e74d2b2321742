/** The route of a list row: '{prop}' placeholders take the row's values (URL-encoded). */
export function rowLinkPath(template: string, row: Record<string, unknown>): string {
  return template.replace(/\{([\w.]+)\}/g, (_, k: string) => encodeURIComponent(String(row[k] ?? '')))
}
