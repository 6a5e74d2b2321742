import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useAuth } from './auth'
import { getToken, setToken } from '@/api/client'

const me = { id: 2, username: 'operator', display_name: '王坐席', roles: ['operator'], permissions: ['dashboard.read', 'case.read'], department_id: 1, department_name: '指挥中心', scope: { level: 'all' } }

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

describe('auth store', () => {
  const fetchMock = vi.fn()
  beforeEach(() => {
    setActivePinia(createPinia())
    setToken(null)
    vi.stubGlobal('fetch', fetchMock)
    fetchMock.mockReset()
  })
  afterEach(() => vi.unstubAllGlobals())

  it('logs in, stores the token and loads /me', async () => {
    fetchMock.mockImplementation(async (url: string, init: RequestInit) => {
      if (url === '/api/v1/auth/login') {
        expect(JSON.parse(String(init.body))).toEqual({ username: 'operator', password: 'pw' })
        return json(200, { token: 'T1', user: { id: 2, username: 'operator' } })
      }
      if (url === '/api/v1/me') {
        expect((init.headers as Record<string, string>).Authorization).toBe('Bearer T1')
        return json(200, me)
      }
      return json(404, { error: { code: 'not_found' } })
    })
    const auth = useAuth()
    await auth.login('operator', 'pw')
    expect(getToken()).toBe('T1')
    expect(auth.loggedIn).toBe(true)
    expect(auth.user?.department_name).toBe('指挥中心')
    expect(auth.can('case.read')).toBe(true)
    expect(auth.can('audit.read')).toBe(false)
    expect(auth.menu.map((m) => m.key)).toEqual(['home', 'screen-link', 'cases'])
  })

  it('normalizes the app/org shape of /me (name, dept_name, scope.kind, county)', async () => {
    fetchMock.mockResolvedValue(
      json(200, { id: 5, username: 'li', name: '李处置', dept_id: 9, roles: ['handler'], permissions: ['case.read'], department: { id: 9, name: '县水利局' }, scope: { kind: 'dept_tree', dept_ids: [9, 12] }, county: { name: '示范县' }, must_change_password: true }),
    )
    const auth = useAuth()
    const u = await auth.fetchMe()
    expect(u).toMatchObject({ display_name: '李处置', department_id: 9, department_name: '县水利局', scope: { level: 'dept_tree', department_ids: [9, 12] }, county_name: '示范县', must_change_password: true })
  })

  it('setup that answers with a session signs the admin in', async () => {
    fetchMock.mockImplementation(async (url: string) => {
      if (url === '/api/setup') return json(201, { token: 'S1', user: { id: 1, username: 'admin' } })
      if (url === '/api/v1/me') return json(200, { id: 1, username: 'admin', roles: ['admin'], permissions: ['audit.read'] })
      return json(404, {})
    })
    const auth = useAuth()
    expect(await auth.runSetup('示范县', 'admin', 'longpassword')).toBe(true)
    expect(getToken()).toBe('S1')
    expect(auth.setup?.needs_setup).toBe(false)
  })

  it('reports bad credentials with the server code and stays logged out', async () => {
    fetchMock.mockResolvedValue(json(401, { error: { code: 'bad_credentials', message: 'invalid username or password' } }))
    const auth = useAuth()
    await expect(auth.login('x', 'y')).rejects.toMatchObject({ code: 'bad_credentials' })
    expect(auth.loggedIn).toBe(false)
    expect(getToken()).toBeNull()
  })

  it('fetchMe with an expired session clears the token', async () => {
    setToken('old')
    fetchMock.mockResolvedValue(json(401, { error: { code: 'unauthorized' } }))
    const auth = useAuth()
    expect(await auth.fetchMe()).toBeNull()
    expect(auth.checked).toBe(true)
    expect(getToken()).toBeNull()
  })

  it('treats a missing setup endpoint as "no setup needed"', async () => {
    fetchMock.mockResolvedValue(json(404, { error: { code: 'not_found' } }))
    const auth = useAuth()
    expect(await auth.fetchSetup()).toEqual({ needs_setup: false })
    fetchMock.mockResolvedValue(json(200, { needs_setup: true }))
    expect((await auth.fetchSetup()).needs_setup).toBe(true)
  })

  it('changes the password with the documented body', async () => {
    fetchMock.mockResolvedValue(new Response(null, { status: 204 }))
    const auth = useAuth()
    await auth.changePassword('a', 'bbbbbbbb')
    const [url, init] = fetchMock.mock.calls[0]
    expect(url).toBe('/api/v1/me/password')
    expect(init.method).toBe('POST')
    expect(JSON.parse(init.body)).toEqual({ old_password: 'a', new_password: 'bbbbbbbb' })
  })

  it('logout forgets the session even when the server is away', async () => {
    setToken('T')
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'))
    const auth = useAuth()
    await auth.logout()
    expect(getToken()).toBeNull()
    expect(auth.user).toBeNull()
  })
})
