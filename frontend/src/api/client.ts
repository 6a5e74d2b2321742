// Fetch wrapper for the yiwang HTTP API.
//
// Errors come back as {"error":{"code","message","fields"}}; they are turned
// into ApiError so pages can show a localized message chosen by code
// (see errorMessage). A 401 calls the unauthorized handler (the auth store
// sends the user back to the login page).

export interface ErrorEnvelope {
  error: { code: string; message?: string; fields?: Record<string, string> }
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly fields: Record<string, string>
  readonly serverMessage: string
  constructor(status: number, code: string, serverMessage = '', fields: Record<string, string> = {}) {
    super(serverMessage || code)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = fields
    this.serverMessage = serverMessage
  }
}

export interface Page<T> {
  /** true when the server stopped counting at `total` (very large lists) */
  total_capped?: boolean
  items: T[]
  total: number
}

export type Query = Record<string, string | number | boolean | undefined | null>

export interface RequestOptions {
  method?: string
  query?: Query
  body?: unknown
  signal?: AbortSignal
  /** Do not call the unauthorized handler on 401 (login, setup, /me probe). */
  skipAuthRedirect?: boolean
}

const TOKEN_KEY = 'yw_token'
let token: string | null = safeGet(TOKEN_KEY)
let onUnauthorized: (() => void) | null = null
let onNetwork: ((ok: boolean) => void) | null = null

function safeGet(key: string): string | null {
  try {
    return globalThis.localStorage?.getItem(key) ?? null
  } catch {
    return null
  }
}

export function getToken(): string | null {
  return token
}

export function setToken(t: string | null): void {
  token = t
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t)
    else localStorage.removeItem(TOKEN_KEY)
  } catch {
    /* storage unavailable (private mode); the HttpOnly cookie still works */
  }
}

export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn
}

/** Report a 401 seen outside request() (the event stream): back to login. */
export function notifyUnauthorized(): void {
  onUnauthorized?.()
}

/** Called with false when the server cannot be reached, true when it answers. */
export function setNetworkHandler(fn: ((ok: boolean) => void) | null): void {
  onNetwork = fn
}

/** Base URL of the server: empty (same origin) unless the desktop shell sets one. */
export function apiBase(): string {
  const w = globalThis as unknown as { __YW_API_BASE__?: string }
  return (w.__YW_API_BASE__ ?? '').replace(/\/$/, '')
}

export function buildUrl(path: string, query?: Query): string {
  let url = apiBase() + path
  if (query) {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue
      params.append(k, String(v))
    }
    const s = params.toString()
    if (s) url += (url.includes('?') ? '&' : '?') + s
  }
  return url
}

export function authHeaders(): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {}
}

/** Parse an error response body into an ApiError, whatever shape it has. */
export async function toApiError(res: Response): Promise<ApiError> {
  let code = httpCode(res.status)
  let message = ''
  let fields: Record<string, string> = {}
  try {
    const text = await res.text()
    if (text) {
      const body = JSON.parse(text) as Partial<ErrorEnvelope>
      if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
        code = body.error.code || code
        message = body.error.message || ''
        fields = body.error.fields || {}
      }
    }
  } catch {
    /* not JSON: keep the status-derived code */
  }
  return new ApiError(res.status, code, message, fields)
}

export function httpCode(status: number): string {
  switch (status) {
    case 400:
      return 'invalid'
    case 401:
      return 'unauthorized'
    case 403:
      return 'forbidden'
    case 404:
      return 'not_found'
    case 409:
      return 'conflict'
    case 413:
      return 'too_large'
    case 423:
      return 'locked'
    case 429:
      return 'rate_limited'
    default:
      return status >= 500 ? 'server_error' : 'unknown'
  }
}

export async function request<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() }
  let body: BodyInit | undefined
  if (opts.body !== undefined) {
    if (opts.body instanceof FormData) body = opts.body
    else {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(opts.body)
    }
  }
  let res: Response
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method: opts.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      signal: opts.signal,
      credentials: 'same-origin',
    })
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e
    onNetwork?.(false)
    throw new ApiError(0, 'network', (e as Error)?.message ?? '')
  }
  onNetwork?.(true)
  if (!res.ok) {
    const err = await toApiError(res)
    if (res.status === 401 && !opts.skipAuthRedirect) onUnauthorized?.()
    throw err
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  if (!text) return undefined as T
  return JSON.parse(text) as T
}

export const api = {
  get: <T>(path: string, query?: Query, signal?: AbortSignal) => request<T>(path, { query, signal }),
  post: <T>(path: string, body?: unknown, opts: RequestOptions = {}) => request<T>(path, { ...opts, method: 'POST', body: body ?? {} }),
  put: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PUT', body: body ?? {} }),
  patch: <T>(path: string, body?: unknown) => request<T>(path, { method: 'PATCH', body: body ?? {} }),
  del: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
}

type Translate = (key: string, named?: Record<string, unknown>) => string
type HasKey = (key: string) => boolean

/**
 * A localized, user-facing message for any thrown value. Known error codes
 * map to errors.<code>; unknown codes fall back to the server's message, then
 * to a generic text.
 */
export function errorMessage(err: unknown, t: Translate, te: HasKey): string {
  if (err instanceof ApiError) {
    const key = `errors.${err.code}`
    if (te(key)) return t(key)
    if (err.serverMessage) return err.serverMessage
    return t('errors.unknown')
  }
  return t('errors.unknown')
}

/** Localized messages for per-field validation errors (fields map). */
export function fieldMessages(err: unknown, t: Translate, te: HasKey): Record<string, string> {
  if (!(err instanceof ApiError)) return {}
  const out: Record<string, string> = {}
  for (const [field, code] of Object.entries(err.fields)) {
    const key = `errors.field.${code}`
    out[field] = te(key) ? t(key) : code
  }
  return out
}
