import { describe, expect, it } from 'vitest'
import type { ScreenData } from '@/api/types'
import { applyEvent, groupIndicators, MAX_FEED, onlineRatio, screenFromGrids, statusOf } from './model'

function data(): ScreenData {
  return {
    indicators: [
      { key: 'river_level', name: '水位', category: 'water', value: 2.5, unit: 'm', threshold: { warning: 2.8, critical: 3.0, direction: 'above' }, status: 'normal', trend: [2.4, 2.5] },
      { key: 'aqi', name: 'AQI', category: 'environment', value: 50, status: 'normal', trend: [] },
    ],
    alarms: [{ id: 1, severity: 'minor', title: 'old', time: '2026-01-01T00:00:00Z', state: 'active' }],
    grids: { type: 'FeatureCollection', features: [] },
    funnel: { reported: 1, accepted: 1, dispatched: 1, handled: 1, closed: 1 },
    overdue: [],
    projects: { green: 0, yellow: 0, red: 0, items: [] },
    devices: { online: 9, total: 10 },
  }
}

describe('screen model', () => {
  it('statusOf honours direction and levels', () => {
    const above = { warning: 2.8, critical: 3.0, direction: 'above' as const }
    expect(statusOf(2.5, above)).toBe('normal')
    expect(statusOf(2.8, above)).toBe('warning')
    expect(statusOf(3.2, above)).toBe('critical')
    const below = { warning: 0.2, critical: 0.15, direction: 'below' as const }
    expect(statusOf(0.3, below)).toBe('normal')
    expect(statusOf(0.18, below)).toBe('warning')
    expect(statusOf(0.1, below)).toBe('critical')
    expect(statusOf(null, above)).toBe('nodata')
    expect(statusOf(5)).toBe('normal')
  })

  it('indicator.updated patches value, status and trend', () => {
    const d = data()
    expect(applyEvent(d, { type: 'indicator.updated', time: 't', data: { key: 'river_level', value: 3.1 } })).toBe('patched')
    expect(d.indicators[0]).toMatchObject({ value: 3.1, status: 'critical', trend: [2.4, 2.5, 3.1], updated_at: 't' })
    expect(applyEvent(d, { type: 'indicator.updated', data: { key: 'unknown', value: 1 } })).toBe('refetch')
  })

  it('trend length is bounded', () => {
    const d = data()
    for (let i = 0; i < 100; i++) applyEvent(d, { type: 'indicator.updated', data: { key: 'aqi', value: i } }, 10)
    expect(d.indicators[1].trend).toHaveLength(10)
    expect(d.indicators[1].trend!.at(-1)).toBe(99)
  })

  it('alarm.raised goes on top of the feed (deduplicated, bounded) and asks for a refetch', () => {
    const d = data()
    expect(applyEvent(d, { type: 'alarm.raised', index: 7, time: 'now', data: { id: 2, severity: 'critical', title: '水位超警戒', device_name: '水位计' } })).toBe('refetch')
    expect(d.alarms[0]).toMatchObject({ id: 2, title: '水位超警戒', state: 'active', time: 'now' })
    applyEvent(d, { type: 'alarm.raised', data: { id: 2, title: 'again' } })
    expect(d.alarms.filter((a) => a.id === 2)).toHaveLength(1)
    for (let i = 0; i < 100; i++) applyEvent(d, { type: 'alarm.raised', data: { id: 100 + i, title: 'x' } })
    expect(d.alarms).toHaveLength(MAX_FEED)
  })

  it('alarm.cleared marks the feed item', () => {
    const d = data()
    applyEvent(d, { type: 'alarm.cleared', data: { id: 1 } })
    expect(d.alarms[0].state).toBe('cleared')
  })

  it('aggregate-changing events request a refetch, others are ignored', () => {
    const d = data()
    for (const t of ['telemetry.latest', 'case.updated', 'case.created', 'project.updated', 'device.online']) expect(applyEvent(d, { type: t, data: {} })).toBe('refetch')
    expect(applyEvent(d, { type: 'user.login', data: {} })).toBe('ignored')
  })

  it('groups indicators by category in the standard order, unknown categories last', () => {
    const g = groupIndicators([...data().indicators, { key: 'x', name: 'x', category: 'energy', value: 1 }])
    expect(g.map((x) => x.category)).toEqual(['environment', 'water', 'energy'])
  })

  it('online ratio handles zero devices', () => {
    expect(onlineRatio({ online: 9, total: 10 })).toBe(0.9)
    expect(onlineRatio({ online: 0, total: 0 })).toBe(0)
  })

  it('builds a map-only screen from grid rows, skipping grids without polygons', () => {
    const sq = { type: 'Polygon' as const, coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] }
    const d = screenFromGrids([
      { code: '139999001', name: '城关镇', level: 2, geometry: sq },
      { code: '139999002', name: '东城街道', level: 2, geometry: null },
    ], '示范县')
    expect(d.county_name).toBe('示范县')
    expect(d.grids.features).toHaveLength(1)
    expect(d.grids.features[0].properties).toEqual({ code: '139999001', name: '城关镇', open_cases: 0 })
    expect(d.indicators).toEqual([])
  })
})
