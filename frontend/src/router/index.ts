import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { groups, pagePath } from '@/modules/registry'
import { useAuth } from '@/stores/auth'

/** Routes for every registered page, children of the main layout. */
export function pageRoutes(): RouteRecordRaw[] {
  const out: RouteRecordRaw[] = []
  for (const g of groups) {
    for (const p of g.pages) {
      if (!p.component && !p.list) continue // a menu link to a route defined elsewhere
      out.push({
        path: pagePath(g, p),
        name: p.name,
        component: p.component ?? (() => import('@/views/ListPage.vue')),
        props: p.list ? { config: p.list, title: p.title } : { title: p.title },
        meta: { title: p.title, group: g.path ? g.title : undefined, permission: p.permission },
      })
    }
  }
  return out
}

export const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/views/Login.vue'), meta: { public: true } },
  { path: '/setup', name: 'setup', component: () => import('@/views/Setup.vue'), meta: { public: true } },
  { path: '/screen', name: 'screen', component: () => import('@/views/Screen.vue'), meta: { title: 'menu.screen', permission: 'dashboard.read' } },
  {
    path: '/',
    component: () => import('@/layouts/MainLayout.vue'),
    children: [
      ...pageRoutes(),
      { path: '/settings', name: 'settings', component: () => import('@/views/Settings.vue'), meta: { title: 'menu.settings' } },
      { path: '/forbidden', name: 'forbidden', component: () => import('@/views/Forbidden.vue'), meta: { title: 'forbidden.title' } },
      { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/views/NotFound.vue'), meta: { title: 'notFound.title' } },
    ],
  },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach(async (to) => {
  const auth = useAuth()
  if (auth.setup === null) {
    try {
      await auth.fetchSetup()
    } catch {
      /* server unreachable: carry on, the banner will say so */
    }
  }
  if (auth.setup?.needs_setup) return to.name === 'setup' ? true : { name: 'setup' }
  if (to.name === 'setup') return { name: 'login' }
  if (to.meta.public) return true
  if (!auth.checked || !auth.user) {
    try {
      await auth.fetchMe()
    } catch {
      /* network error: treated as signed out below */
    }
  }
  if (!auth.user) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  const perm = to.meta.permission as string | string[] | undefined
  if (perm && !auth.can(perm)) return { name: 'forbidden' }
  return true
})
