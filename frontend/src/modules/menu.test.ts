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
    expect(hasPermission(['org.manage'], ['org.read', 'org.manage'])).toBe(true)
    expect(hasPermission(['iot.read'], ['org.read', 'org.manage'])).toBe(false)
  })
})

describe('buildMenu', () => {
  it('admin (*) sees every group and page', () => {
    const keys = menuKeys(buildMenu(groups, ['*']))
    for (const k of ['home', 'screen-link', 'cases', 'iot', 'devices', 'rules', 'projects', 'investment', 'kb', 'duty', 'system', 'departments', 'users', 'audit']) expect(keys).toContain(k)
  })

  it('a department handler sees only the workbench, cases and the knowledge base', () => {
    const keys = menuKeys(buildMenu(groups, ['cases.read', 'cases.handle', 'kb.read']))
    expect(keys).toEqual(['home', 'cases', 'case-list', 'cases-overdue', 'cases-evaluation', 'kb', 'kb-documents'])
    expect(keys).not.toContain('screen-link')
    expect(keys).not.toContain('system')
  })

  it('an operator sees the screen, cases, sensors (no rules) and duty, no system', () => {
    const menu = buildMenu(groups, ['dashboard.read', 'cases.read', 'iot.read', 'duty.read'])
    const keys = menuKeys(menu)
    expect(keys).toContain('screen-link')
    expect(keys).toContain('alarms')
    expect(keys).not.toContain('rules')
    expect(keys).not.toContain('system')
    const iot = menu.find((m) => m.key === 'iot')!
    expect(iot.children!.map((c) => c.path)).toEqual(['/iot/devices', '/iot/alarms'])
  })

  it('drops a group when no page is allowed and keeps order', () => {
    const menu = buildMenu(groups, ['audit.read'])
    expect(menu.map((m) => m.key)).toEqual(['home', 'system'])
    expect(menu[1].children!.map((c) => c.key)).toEqual(['audit'])
  })

  it('paths are absolute and unique', () => {
    const paths = buildMenu(groups, ['*']).flatMap((m) => (m.children ?? [m]).map((c) => c.path!))
    expect(paths.every((p) => p.startsWith('/'))).toBe(true)
    expect(new Set(paths).size).toBe(paths.length)
  })
})
