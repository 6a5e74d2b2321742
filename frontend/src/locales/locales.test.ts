import { describe, expect, it } from 'vitest'
import zh from './zh-CN'
import en from './en'
import { flatKeys } from './index'
import { groups } from '@/modules/registry'

function get(obj: any, key: string): unknown {
  return key.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj)
}
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('locales', () => {
  const zhKeys = flatKeys(zh)
  const enKeys = flatKeys(en as any)

  it('zh-CN and en have exactly the same keys', () => {
    expect(enKeys.filter((k) => !zhKeys.includes(k))).toEqual([])
    expect(zhKeys.filter((k) => !enKeys.includes(k))).toEqual([])
  })

  it('no message is empty and placeholders match', () => {
    for (const k of zhKeys) {
      const a = get(zh, k) as string
      const b = get(en, k) as string
      expect(typeof a === 'string' && a.length > 0, `zh ${k}`).toBe(true)
      expect(typeof b === 'string' && b.length > 0, `en ${k}`).toBe(true)
      expect(placeholders(b), `placeholders of ${k}`).toEqual(placeholders(a))
    }
  })

  it('English has no Chinese characters left', () => {
    for (const k of enKeys) expect(get(en, k) as string, k).not.toMatch(/[\u4e00-\u9fff]/)
  })

  it('every menu title, column label and filter label of the registry exists', () => {
    const keys: string[] = []
    for (const g of groups) {
      keys.push(g.title)
      for (const p of g.pages) {
        keys.push(p.title)
        p.list?.columns.forEach((c) => keys.push(c.label))
        p.list?.filters?.forEach((f) => {
          keys.push(f.label)
          f.options?.forEach((o) => keys.push(o.label))
        })
      }
    }
    for (const k of keys) expect(zhKeys, k).toContain(k)
  })
})
