import { describe, expect, it } from 'vitest'
import { buildMenu, hasPermission, menuKeys } from './menu'
import { groups } from './registry'

describe('hasPermission', () => {
  it('matches exact, module wildcard and global wildcard', () => {
    expect(hasPermission(['cases.read'], 'cases.read')).toBe(true)
    expect(hasPermission(['cases.*'], 'cases.read')).toBe(true)
    expect(hasPermission(['*'], 'audit.read')).toBe(true)
    expect(hasPermission(['cases.read'], 'cases.write')).toBe(false)
    expect(hasPermission(['cases.readonly'], 'cases.read')).toBe(false)
    expect(hasPermission([], undefined)).toBe(true)
    expect(hasPermission(undefined, 'x.read')).toBe(false)
  })
  it('accepts any one of several', () => {
    expect(hasPermission(['org.write'], ['org.read', 'org.write'])).toBe(true)
    expect(hasPermission(['iot.read'], ['org.read', 'org.write'])).toBe(false)
  })
})

describe('buildMenu', () => {
  it('admin (*) sees every group and page', () => {
    const keys = menuKeys(buildMenu(groups, ['*']))
    for (const k of ['home', 'screen-link', 'cases', 'iot', 'devices', 'rules', 'projects', 'investment', 'kb', 'duty', 'system', 'departments', 'users', 'audit']) expect(keys).toContain(k)
  })

  it('a department handler sees only the workbench, cases and the knowledge base', () => {
    const keys = menuKeys(buildMenu(groups, ['case.read', 'case.handle', 'kb.read']))
    expect(keys).toEqual(['home', 'cases', 'case-list', 'cases-overdue', 'cases-evaluation', 'kb', 'kb-search', 'kb-documents'])
    expect(keys).not.toContain('screen-link')
    expect(keys).not.toContain('system')
  })

  it('an operator sees the screen, cases, sensors (no rules) and duty, no system', () => {
    const menu = buildMenu(groups, ['dashboard.read', 'case.read', 'iot.read', 'duty.read'])
    const keys = menuKeys(menu)
    expect(keys).toContain('screen-link')
    expect(keys).toContain('alarms')
    expect(keys).not.toContain('rules')
    expect(keys).not.toContain('system')
    const iot = menu.find((m) => m.key === 'iot')!
    expect(iot.children!.map((c) => c.path)).toEqual(['/iot/devices', '/iot/map', '/iot/alarms'])
  })

  it('drops a group when no page is allowed and keeps order', () => {
    const menu = buildMenu(groups, ['audit.read'])
    expect(menu.map((m) => m.key)).toEqual(['home', 'system'])
    expect(menu[1].children!.map((c) => c.key)).toEqual(['audit'])
  })

  it('uses the permission names of app/httpapi/perms.go', () => {
    // The built-in demo roles as the server grants them (subset).
    const handler = menuKeys(buildMenu(groups, ['case.read', 'case.handle', 'iot.read', 'project.read', 'investment.read', 'kb.read', 'dashboard.read', 'org.read', 'user.read', 'live.subscribe']))
    expect(handler).toEqual(expect.arrayContaining(['screen-link', 'case-list', 'devices', 'project-list', 'enterprises', 'kb-documents', 'departments', 'grids', 'users']))
    expect(handler).not.toContain('audit')
    expect(handler).not.toContain('rules')
    const admin = menuKeys(buildMenu(groups, ['audit.read', 'system.admin', 'iot.write', 'org.write', 'user.write']))
    expect(admin).toEqual(expect.arrayContaining(['audit', 'indicators', 'rules', 'departments', 'users']))
  })

  it('paths are absolute and unique', () => {
    const paths = buildMenu(groups, ['*']).flatMap((m) => (m.children ?? [m]).map((c) => c.path!))
    expect(paths.every((p) => p.startsWith('/'))).toBe(true)
    expect(new Set(paths).size).toBe(paths.length)
  })
})
