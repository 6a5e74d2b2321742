// Permission → menu mapping. Permissions are strings like "cases.read"; a
// user's list may hold exact names, a module wildcard ("cases.*") or "*".
import type { GroupDef } from './types'
import { pagePath } from './registry'

export function hasPermission(perms: readonly string[] | undefined, required?: string | readonly string[]): boolean {
  if (!required || (Array.isArray(required) && required.length === 0)) return true
  const list = perms ?? []
  const need = typeof required === 'string' ? [required] : required
  return need.some((r) => {
    if (list.includes('*') || list.includes(r)) return true
    const dot = r.indexOf('.')
    return dot > 0 && list.includes(r.slice(0, dot) + '.*')
  })
}

export interface MenuEntry {
  key: string
  title: string
  icon?: string
  path?: string
  children?: MenuEntry[]
}

/**
 * The menu a user sees: pages they may open, grouped; groups with no visible
 * page are dropped; a group with exactly one page (and no group path of its
 * own) collapses into a single entry.
 */
export function buildMenu(groups: GroupDef[], perms: readonly string[] | undefined): MenuEntry[] {
  const out: MenuEntry[] = []
  for (const g of groups) {
    const children = g.pages
      .filter((p) => !p.hidden && hasPermission(perms, p.permission))
      .map((p) => ({ key: p.name, title: p.title, path: pagePath(g, p) }))
    if (children.length === 0) continue
    if (g.path === '') {
      // Top-level entries (workbench, screen) each get their own item.
      for (const c of children) out.push({ ...c, icon: c.key === 'screen-link' ? 'Monitor' : g.icon })
      continue
    }
    out.push({ key: g.key, title: g.title, icon: g.icon, children })
  }
  return out
}

/** Menu keys in display order, flattened (used by e2e checks and tests). */
export function menuKeys(menu: MenuEntry[]): string[] {
  return menu.flatMap((m) => (m.children ? [m.key, ...menuKeys(m.children)] : [m.key]))
}
