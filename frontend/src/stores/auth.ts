import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, ApiError, getToken, request, setToken } from '@/api/client'
import { normalizeUser, type LoginResponse, type SetupStatus, type User } from '@/api/types'
import { buildMenu, hasPermission } from '@/modules/menu'
import { groups } from '@/modules/registry'

export const useAuth = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const token = ref<string | null>(getToken())
  /** True once we asked the server who we are (successfully or not). */
  const checked = ref(false)
  const setup = ref<SetupStatus | null>(null)

  const permissions = computed(() => user.value?.permissions ?? [])
  const menu = computed(() => buildMenu(groups, permissions.value))
  const loggedIn = computed(() => user.value !== null)

  function can(required?: string | readonly string[]): boolean {
    return hasPermission(permissions.value, required)
  }

  async function login(username: string, password: string): Promise<User> {
    const res = await api.post<LoginResponse>('/api/v1/auth/login', { username, password }, { skipAuthRedirect: true })
    setToken(res.token ?? null)
    token.value = res.token ?? null
    // The login answer may carry the user; /me is authoritative (permissions, scope).
    user.value = res.user ? normalizeUser(res.user as unknown as Record<string, unknown>) : null
    await fetchMe()
    if (!user.value) throw new ApiError(401, 'unauthorized')
    return user.value
  }

  /** Ask the server who we are (token or cookie). Returns null when not signed in. */
  async function fetchMe(): Promise<User | null> {
    try {
      user.value = normalizeUser(await request<Record<string, unknown>>('/api/v1/me', { skipAuthRedirect: true }))
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        user.value = null
        setToken(null)
        token.value = null
      } else {
        checked.value = true
        throw e
      }
    }
    checked.value = true
    return user.value
  }

  async function logout(): Promise<void> {
    try {
      await request('/api/v1/auth/logout', { method: 'POST', body: {}, skipAuthRedirect: true })
    } catch {
      /* best effort: the local session is dropped anyway */
    }
    clear()
  }

  /** Forget the local session (after a 401 or logout). */
  function clear(): void {
    setToken(null)
    token.value = null
    user.value = null
  }

  async function changePassword(oldPassword: string, newPassword: string): Promise<void> {
    await api.post('/api/v1/me/password', { old_password: oldPassword, new_password: newPassword })
    passwordChanged()
  }

  /** GET /api/setup/status; a server without the endpoint needs no setup. */
  async function fetchSetup(): Promise<SetupStatus> {
    try {
      setup.value = await request<SetupStatus>('/api/setup/status', { skipAuthRedirect: true })
    } catch (e) {
      if (e instanceof ApiError && e.status === 0) throw e
      setup.value = { needs_setup: false }
    }
    return setup.value
  }

  /** First-run setup; when the server answers with a session, we are signed in. */
  async function runSetup(countyName: string, username: string, password: string): Promise<boolean> {
    const res = await request<Partial<LoginResponse> | undefined>('/api/setup', { method: 'POST', body: { county_name: countyName, username, password }, skipAuthRedirect: true })
    setup.value = { needs_setup: false, county_name: countyName }
    if (res?.token) {
      setToken(res.token)
      token.value = res.token
      await fetchMe()
      return user.value !== null
    }
    return false
  }

  /** The password was changed: the server revoked other sessions, not this one. */
  function passwordChanged(): void {
    if (user.value) user.value.must_change_password = false
  }

  return { user, token, checked, setup, permissions, menu, loggedIn, can, login, fetchMe, logout, clear, changePassword, fetchSetup, runSetup, passwordChanged }
})
