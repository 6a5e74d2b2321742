import { describe, expect, it } from 'vitest'
import { parseSnippet, readerLink, routeToState, searchQuery, stateToRoute, textBeforeByte, toggleFilter, unescapeHtml } from './kb'

describe('parseSnippet', () => {
  it('keeps only <mark> as highlights and decodes entities into plain text', () => {
    expect(parseSnippet('劳动者&lt;b&gt;每日<mark>工作时间</mark>不超过 &amp; 8 小时')).toEqual([
      { text: '劳动者<b>每日', mark: false },
      { text: '工作时间', mark: true },
      { text: '不超过 & 8 小时', mark: false },
    ])
  })

  it('never turns other tags into markup: raw tags stay literal text', () => {
    const segs = parseSnippet('<img src=x onerror=alert(1)><mark>低保</mark><script>x</script>')
    expect(segs).toEqual([
      { text: '<img src=x onerror=alert(1)>', mark: false },
      { text: '低保', mark: true },
      { text: '<script>x</script>', mark: false },
    ])
  })

  it('tolerates unbalanced, upper-case and adjacent marks', () => {
    expect(parseSnippet('<MARK>a</MARK><mark>b</mark>c</mark>d<mark>e')).toEqual([
      { text: 'ab', mark: true },
      { text: 'cd', mark: false },
      { text: 'e', mark: true },
    ])
    expect(parseSnippet('')).toEqual([])
    expect(parseSnippet(undefined)).toEqual([])
  })

  it('decodes numeric entities and leaves unknown ones alone', () => {
    expect(unescapeHtml('&#39;&#x27;&quot;&foo;&#0;')).toBe(`''"&foo;&#0;`)
  })
})

describe('search query', () => {
  it('builds q, comma-joined filters, limit and offset', () => {
    expect(searchQuery({ q: '  最低生活保障 ', filters: { kind: ['政策法规'], level: ['国家', '省'], year: [] }, page: 3, size: 20 })).toEqual({
      q: '最低生活保障',
      kind: '政策法规',
      level: '国家,省',
      limit: '20',
      offset: '40',
    })
  })

  it('clamps page size and leaves offset out on the first page', () => {
    expect(searchQuery({ q: '', filters: {}, page: 0, size: 1000 })).toEqual({ limit: '100' })
  })

  it('round-trips through the URL', () => {
    const s = { q: '劳动法 第四十四条', filters: { status: ['现行有效'], issuer: ['国务院办公厅'] }, page: 2, size: 10 }
    const r = stateToRoute(s)
    expect(r).toEqual({ q: '劳动法 第四十四条', issuer: '国务院办公厅', status: '现行有效', page: '2' })
    expect(routeToState(r)).toEqual(s)
    expect(routeToState({ page: 'x', kind: ['案例'] })).toEqual({ q: '', filters: { kind: ['案例'] }, page: 1, size: 10 })
  })

  it('toggles facet values', () => {
    let f = toggleFilter({}, 'level', '省')
    expect(f).toEqual({ level: ['省'] })
    f = toggleFilter(f, 'level', '市')
    expect(f).toEqual({ level: ['省', '市'] })
    f = toggleFilter(toggleFilter(f, 'level', '省'), 'level', '市')
    expect(f).toEqual({})
  })

  it('links into the reader at an article', () => {
    expect(readerLink('d1', 'art-44')).toEqual({ path: '/kb/reader', query: { id: 'd1', art: 'art-44' } })
    expect(readerLink('d1')).toEqual({ path: '/kb/reader', query: { id: 'd1' } })
  })
})

describe('textBeforeByte', () => {
  it('cuts at a UTF-8 byte offset, not a UTF-16 index', () => {
    const text = '总则说明\n第一条 内容'
    const off = new TextEncoder().encode('总则说明\n').length
    expect(textBeforeByte(text, off)).toBe('总则说明\n')
    expect(textBeforeByte(text, 0)).toBe('')
    expect(textBeforeByte(text, 10_000)).toBe(text)
  })
})
