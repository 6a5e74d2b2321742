import { describe, expect, it } from 'vitest'
import { rowLinkPath } from './rowLink'

describe('rowLinkPath', () => {
  it('fills placeholders from the row', () => {
    expect(rowLinkPath('/cases/detail?id={id}', { id: 42 })).toBe('/cases/detail?id=42')
    expect(rowLinkPath('/x?c={code}&n={missing}', { code: 'a b' })).toBe('/x?c=a%20b&n=')
  })
})
