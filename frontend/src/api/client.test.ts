import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError, buildUrl, errorMessage, fieldMessages, request, setToken, setUnauthorizedHandler, toApiError } from './client'
import zh from '@/locales/zh-CN'
import en from '@/locales/en'

function translator(messages: any) {
  const get = (k: string) => k.split('.').reduce((o: any, p) => (o == null ? undefined : o[p]), messages)
  return { t: (k: string) => String(get(k) ?? k), te: (k: string) => typeof get(k) === 'string' }
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

describe('API error mapping', () => {
  it('parses the error envelope', async () => {
    const e = await toApiError(jsonResponse(409, { error: { code: 'conflict', message: 'case moved on', fields: { status: 'invalid' } } }))
    expect(e).toBeInstanceOf(ApiError)
    expect(e.status).toBe(409)
    expect(e.code).toBe('conflict')
    expect(e.serverMessage).toBe('case moved on')
    expect(e.fields).toEqual({ status: 'invalid' })
  })

  it('derives a code from the status when the body is not an envelope', async () => {
    expect((await toApiError(new Response('<html>bad gateway</html>', { status: 502 }))).code).toBe('server_error')
    expect((await toApiError(new Response('', { status: 403 }))).code).toBe('forbidden')
    expect((await toApiError(jsonResponse(404, { message: 'x' }))).code).toBe('not_found')
  })

  it('maps codes to localized messages in both languages', () => {
    const err = new ApiError(401, 'bad_credentials', 'invalid username or password')
    const z = translator(zh)
    const e = translator(en)
    expect(errorMessage(err, z.t, z.te)).toBe('用户名或密码错误')
    expect(errorMessage(err, e.t, e.te)).toBe('Wrong username or password')
  })

  it('falls back to the server message, then to a generic text', () => {
    const z = translator(zh)
    expect(errorMessage(new ApiError(400, 'case_not_dispatchable', '案件不可派遣'), z.t, z.te)).toBe('案件不可派遣')
    expect(errorMessage(new ApiError(400, 'weird'), z.t, z.te)).toBe(zh.errors.unknown)
    expect(errorMessage(new Error('boom'), z.t, z.te)).toBe(zh.errors.unknown)
  })

  it('localizes field errors', () => {
    const z = translator(zh)
    expect(fieldMessages(new ApiError(400, 'invalid', '', { name: 'required', code: 'odd' }), z.t, z.te)).toEqual({ name: '必填', code: 'odd' })
  })
})

describe('request', () => {
  const fetchMock = vi.fn()
  beforeEach(() => {
    vi.stubGlobal('fetch', fetchMock)
    fetchMock.mockReset()
    setToken(null)
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    setUnauthorizedHandler(null)
  })

  it('builds query strings, skipping empty values', () => {
    expect(buildUrl('/api/v1/cases', { limit: 20, offset: 0, q: '', status: undefined, sort: '-created_at' })).toBe('/api/v1/cases?limit=20&offset=0&sort=-created_at')
  })

  it('sends the bearer token and JSON body', async () => {
    setToken('tok123')
    fetchMock.mockResolvedValue(jsonResponse(201, { id: 7 }))
    const res = await request<{ id: number }>('/api/v1/departments', { method: 'POST', body: { name: 'x' } })
    expect(res.id).toBe(7)
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/v1/departments')
    expect(init.headers.Authorization).toBe('Bearer tok123')
    expect(init.headers['Content-Type']).toBe('application/json')
    expect(JSON.parse(init.body)).toEqual({ name: 'x' })
    expect(localStorage.getItem('yw_token')).toBe('tok123')
  })

  it('calls the unauthorized handler on 401 unless told not to', async () => {
    const onUnauth = vi.fn()
    setUnauthorizedHandler(onUnauth)
    fetchMock.mockResolvedValue(jsonResponse(401, { error: { code: 'unauthorized', message: 'no session' } }))
    await expect(request('/api/v1/cases')).rejects.toMatchObject({ status: 401, code: 'unauthorized' })
    expect(onUnauth).toHaveBeenCalledTimes(1)
    await expect(request('/api/v1/me', { skipAuthRedirect: true })).rejects.toBeInstanceOf(ApiError)
    expect(onUnauth).toHaveBeenCalledTimes(1)
  })

  it('turns network failures into code "network"', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'))
    await expect(request('/api/v1/cases')).rejects.toMatchObject({ status: 0, code: 'network' })
  })

  it('handles 204 with no body', async () => {
    fetchMock.mockResolvedValue(new Response(null, { status: 204 }))
    await expect(request('/api/v1/me/password', { method: 'POST', body: {} })).resolves.toBeUndefined()
  })
})
