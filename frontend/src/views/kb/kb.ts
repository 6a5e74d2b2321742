// Helpers of the knowledge-base pages (检索, 阅读, 导入, 同义词):
// snippet parsing without v-html, search query building and the URL state.

/** One piece of a highlighted snippet: text to show, marked or not. */
export interface Segment {
  text: string
  mark: boolean
}

const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' }

/** Decode the HTML entities the server's escaping produces (&lt; &#39; &#x27; …). */
export function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : m
    }
    return entities[e.toLowerCase()] ?? m
  })
}

/**
 * Split a server snippet (HTML-escaped text with <mark>…</mark>) into
 * segments rendered as text nodes: only the <mark> tags become elements;
 * any other markup shows as literal text, so nothing in a document can
 * inject HTML. Unbalanced tags are tolerated.
 */
export function parseSnippet(html: string | undefined | null): Segment[] {
  const out: Segment[] = []
  if (!html) return out
  let mark = false
  for (const part of html.split(/(<\/?mark>)/i)) {
    const tag = part.toLowerCase()
    if (tag === '<mark>') {
      mark = true
      continue
    }
    if (tag === '</mark>') {
      mark = false
      continue
    }
    if (!part) continue
    const text = unescapeHtml(part)
    const last = out[out.length - 1]
    if (last && last.mark === mark) last.text += text
    else out.push({ text, mark })
  }
  return out
}

/** Facet fields the search page offers as filters, in display order. */
export const facetFields = ['kind', 'level', 'issuer', 'year', 'status'] as const
export type FacetField = (typeof facetFields)[number]

export interface SearchState {
  q: string
  filters: Partial<Record<FacetField, string[]>>
  page: number
  size: number
}

/** Query parameters of GET /api/v1/kb/search for a state. */
export function searchQuery(s: SearchState): Record<string, string> {
  const out: Record<string, string> = {}
  const q = s.q.trim()
  if (q) out.q = q
  for (const f of facetFields) {
    const vs = (s.filters[f] ?? []).filter((v) => v !== '')
    if (vs.length) out[f] = vs.join(',')
  }
  const size = Math.min(100, Math.max(1, s.size || 10))
  const page = Math.max(1, s.page || 1)
  out.limit = String(size)
  if (page > 1) out.offset = String(Math.min(10000, (page - 1) * size))
  return out
}

/** The page's URL query (q, filters, page) for a state: shareable and restored on reload. */
export function stateToRoute(s: SearchState): Record<string, string> {
  const out: Record<string, string> = {}
  if (s.q.trim()) out.q = s.q.trim()
  for (const f of facetFields) {
    const vs = s.filters[f] ?? []
    if (vs.length) out[f] = vs.join(',')
  }
  if (s.page > 1) out.page = String(s.page)
  return out
}

/** Read a state back from the URL query. */
export function routeToState(query: Record<string, unknown>, size = 10): SearchState {
  const str = (v: unknown): string => (Array.isArray(v) ? String(v[0] ?? '') : v == null ? '' : String(v))
  const filters: SearchState['filters'] = {}
  for (const f of facetFields) {
    const vs = str(query[f]).split(',').map((x) => x.trim()).filter(Boolean)
    if (vs.length) filters[f] = vs
  }
  const page = parseInt(str(query.page), 10)
  return { q: str(query.q), filters, page: page > 0 ? page : 1, size }
}

/** Toggle one facet value in a state's filters (returns a new filters object). */
export function toggleFilter(filters: SearchState['filters'], field: FacetField, value: string): SearchState['filters'] {
  const cur = filters[field] ?? []
  const next = cur.includes(value) ? cur.filter((v) => v !== value) : [...cur, value]
  const out = { ...filters }
  if (next.length) out[field] = next
  else delete out[field]
  return out
}

/** A document reader route location (optionally at an article anchor). */
export function readerLink(id: string, anchor?: string): { path: string; query: Record<string, string> } {
  const query: Record<string, string> = { id }
  if (anchor) query.art = anchor
  return { path: '/kb/reader', query }
}

/** The text before a UTF-8 byte offset (the server's article offsets are bytes). */
export function textBeforeByte(text: string, offset: number): string {
  if (offset <= 0) return ''
  const bytes = new TextEncoder().encode(text)
  return new TextDecoder().decode(bytes.slice(0, Math.min(offset, bytes.length)))
}
