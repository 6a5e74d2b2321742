import { describe, expect, it } from 'vitest'
import {
  appendLive, chartData, commandFinal, emptyRuleForm, formFieldErrors, formToInput, isAlarmEvent, mergeLatest, parseParams,
  ruleCondition, ruleToForm, telemetryQuery, type Latest, type Point,
} from './model'

describe('mergeLatest', () => {
  it('takes the device’s new values and ignores other devices and older points', () => {
    const latest: Latest = { water_level: { ts: '2026-12-05T10:00:00Z', value: 1 }, temp: { ts: '2026-12-05T10:00:00Z', value: 5 } }
    const changed = mergeLatest(latest, {
      devices: {
        d1: { water_level: { ts: '2026-12-05T10:01:00Z', value: 1.2 }, temp: { ts: '2026-12-05T09:00:00Z', value: 9 }, rain: { ts: '2026-12-05T10:01:00Z', value: 3 } },
        d2: { water_level: { ts: '2026-12-05T10:02:00Z', value: 7 } },
      },
    }, 'd1')
    expect(changed).toEqual(['rain', 'water_level'])
    expect(latest.water_level.value).toBe(1.2)
    expect(latest.temp.value).toBe(5)
    expect(latest.rain.value).toBe(3)
  })
  it('is a no-op for events without the device', () => {
    const latest: Latest = {}
    expect(mergeLatest(latest, { devices: { x: {} } }, 'd1')).toEqual([])
    expect(mergeLatest(latest, null, 'd1')).toEqual([])
    expect(latest).toEqual({})
  })
})

describe('telemetry', () => {
  it('builds the query over the last hours', () => {
    const now = Date.parse('2026-12-05T12:00:00Z')
    expect(telemetryQuery('water_level', '1m', 24, now)).toEqual({
      metric: 'water_level', res: '1m', from: '2026-12-04T12:00:00.000Z', to: '2026-12-05T12:00:00.000Z',
    })
  })
  it('turns points into series with a min–max band for rollups', () => {
    const d = chartData([
      { ts: '2026-12-05T10:00:00Z', value: 1, min: 0.5, max: 2, n: 3 },
      { ts: 'bad', value: 9 },
      { ts: '2026-12-05T10:01:00Z', value: 2 },
    ])
    expect(d.line).toEqual([[Date.parse('2026-12-05T10:00:00Z'), 1], [Date.parse('2026-12-05T10:01:00Z'), 2]])
    expect(d.min).toEqual([[Date.parse('2026-12-05T10:00:00Z'), 0.5]])
    expect(d.max).toEqual([[Date.parse('2026-12-05T10:00:00Z'), 2]])
  })
  it('appends only newer live points and keeps the limit', () => {
    const pts: Point[] = [{ ts: '2026-12-05T10:00:00Z', value: 1 }]
    expect(appendLive(pts, { ts: '2026-12-05T09:00:00Z', value: 2 })).toBe(false)
    expect(appendLive(pts, { ts: '2026-12-05T10:00:01Z', value: 3 }, 1)).toBe(true)
    expect(pts).toEqual([{ ts: '2026-12-05T10:00:01Z', value: 3 }])
  })
})

describe('rule form', () => {
  it('sends only the fields of the kind and the chosen scope', () => {
    const f = emptyRuleForm()
    Object.assign(f, { name: ' 水位超限 ', metric: 'water_level', scope: 'device', scope_value: 'wl-1', threshold: 3, low: 1, high: 9 })
    const body = formToInput(f)
    expect(body).toMatchObject({ name: '水位超限', device_id: 'wl-1', kind: 'threshold', op: 'gt', threshold: 3, enabled: true })
    expect(body).not.toHaveProperty('device_type')
    expect(body).not.toHaveProperty('low')
    expect(body).not.toHaveProperty('clear_threshold')
    f.kind = 'range'
    const r = formToInput(f)
    expect(r).toMatchObject({ low: 1, high: 9 })
    expect(r).not.toHaveProperty('threshold')
    expect(r).not.toHaveProperty('op')
  })
  it('round-trips a rule with a clear threshold', () => {
    const f = ruleToForm({
      id: 4, name: 'n', device_type: 'water', metric: 'm', kind: 'threshold', op: 'ge', threshold: 3, low: 0, high: 0,
      clear_threshold: 2.5, hysteresis: 0, duration_s: 300, debounce_s: 60, severity: 'critical', enabled: false,
    })
    expect(f.scope).toBe('type')
    expect(f.scope_value).toBe('water')
    expect(f.use_clear).toBe(true)
    expect(formToInput(f)).toMatchObject({ device_type: 'water', op: 'ge', clear_threshold: 2.5, duration_s: 300, enabled: false })
  })
  it('maps scope field errors onto the scope input', () => {
    expect(formFieldErrors({ device_type: 'x', metric: 'y' })).toEqual({ scope_value: 'x', metric: 'y' })
  })
  it('describes conditions', () => {
    const base = { threshold: 3, low: 1, high: 5, duration_s: 0 }
    expect(ruleCondition({ ...base, kind: 'threshold', op: 'gt' })).toBe('> 3')
    expect(ruleCondition({ ...base, kind: 'range', duration_s: 60 })).toBe('∉ [1, 5] · 60 s')
    expect(ruleCondition({ ...base, kind: 'rate' })).toBe('|Δ| ≥ 3/min')
    expect(ruleCondition({ ...base, kind: 'nodata', duration_s: 600 })).toBe('∅ 600 s')
  })
})

describe('commands and events', () => {
  it('parses params', () => {
    expect(parseParams('  ')).toBeUndefined()
    expect(parseParams('{"interval":30}')).toEqual({ interval: 30 })
    expect(() => parseParams('{bad')).toThrow()
  })
  it('knows final states and alarm events', () => {
    expect(commandFinal('replied')).toBe(true)
    expect(commandFinal('sent')).toBe(false)
    expect(isAlarmEvent('alarm.raised')).toBe(true)
    expect(isAlarmEvent('telemetry.latest')).toBe(false)
  })
})

import { mapPoints } from './model'
describe('mapPoints', () => {
  it('groups placed devices by status and counts the others', () => {
    const r = mapPoints([
      { id: 'a', name: 'A', status: 'online', lat: 30.1, lng: 120.2 },
      { id: 'b', name: 'B', status: 'offline', lat: 30.2, lng: 120.3 },
      { id: 'c', name: 'C', status: 'online', lat: 30.3, lng: 120.4 },
      { id: 'd', name: 'D', status: 'online' },
      { id: 'e', name: 'E', status: 'fault', lat: null, lng: null },
    ])
    expect(r.byStatus.online).toEqual([[120.2, 30.1, 'a', 'A'], [120.4, 30.3, 'c', 'C']])
    expect(r.byStatus.offline).toHaveLength(1)
    expect(r.unplaced).toBe(2)
  })
})
