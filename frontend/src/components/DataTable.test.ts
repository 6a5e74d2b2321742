import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createRouter, createMemoryHistory } from 'vue-router'
import { i18n } from '@/locales'
import DataTable from './DataTable.vue'
import type { ListConfig } from '@/modules/types'

const config: ListConfig = {
  endpoint: '/api/v1/users',
  columns: [
    { prop: 'username', label: 'fields.username', sortable: true },
    { prop: 'name', label: 'fields.displayName', fallback: ['display_name'] },
    { prop: 'roles', label: 'fields.roles', kind: 'roles' },
    { prop: 'error.code', label: 'fields.result', kind: 'tag' },
  ],
  filters: [{ key: 'q', label: 'fields.keyword', kind: 'text' }],
  pageSize: 10,
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

async function mountTable(path = '/system/users') {
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:p(.*)*', component: { template: '<div/>' } }] })
  router.push(path)
  await router.isReady()
  const w = mount(DataTable, { props: { config }, global: { plugins: [router, i18n] } })
  await flushPromises()
  return { w, router }
}

describe('DataTable', () => {
  const fetchMock = vi.fn()
  beforeEach(() => {
    vi.stubGlobal('fetch', fetchMock)
    fetchMock.mockReset()
    ;(i18n.global.locale as unknown as { value: string }).value = 'zh-CN'
  })
  afterEach(() => vi.unstubAllGlobals())

  it('asks for the first page with limit/offset and the filters from the URL, then renders rows', async () => {
    fetchMock.mockResolvedValue(json(200, { items: [{ id: 1, username: 'li', display_name: '李四', roles: ['handler', 'grid_worker'], error: { code: 'forbidden' } }], total: 31 }))
    const { w } = await mountTable('/system/users?q=li')
    const url = new URL(fetchMock.mock.calls[0][0], 'http://x')
    expect(url.pathname).toBe('/api/v1/users')
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: '10', offset: '0', q: 'li' })
    const text = w.text()
    expect(text).toContain('李四') // fallback prop
    expect(text).toContain('部门处置人员、网格员') // roles translated
    expect(text).toContain('forbidden') // nested prop as a tag
    expect(text).toContain('31')
  })

  it('says the module is not enabled when the endpoint is missing (404)', async () => {
    fetchMock.mockResolvedValue(json(404, { error: { code: 'not_found', message: 'no route' } }))
    const { w } = await mountTable()
    expect(w.find('[data-testid=module-unavailable]').exists()).toBe(true)
    expect(w.text()).toContain('该模块尚未启用')
  })

  it('shows a localized error for other failures', async () => {
    fetchMock.mockResolvedValue(json(403, { error: { code: 'forbidden', message: 'permission denied' } }))
    const { w } = await mountTable()
    expect(w.text()).toContain('没有权限执行此操作')
  })
})
