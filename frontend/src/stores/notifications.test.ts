import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { MAX_NOTICES, useNotifications } from './notifications'

describe('notifications store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('turns alarms, urges, supervision and assignments into notices, newest first', () => {
    const n = useNotifications()
    expect(n.fromEvent({ type: 'alarm.raised', index: 1, data: { id: 10, title: '水位超警戒', severity: 'critical' } })).toEqual({ added: true, sound: true })
    expect(n.fromEvent({ type: 'case.supervised', index: 2, data: { id: 5, title: '占道经营' } }).added).toBe(true)
    expect(n.fromEvent({ type: 'case.assigned', index: 3, data: { id: 6, title: '路灯不亮' } }).added).toBe(true)
    expect(n.fromEvent({ type: 'alarm.cleared', index: 4, data: { id: 10, title: '水位超警戒' } })).toEqual({ added: true, sound: false })
    expect(n.fromEvent({ type: 'telemetry.latest', index: 5, data: {} }).added).toBe(false)
    expect(n.items.map((x) => x.kind)).toEqual(['alarm', 'assign', 'supervise', 'alarm'])
    expect(n.items[3]).toMatchObject({ title: '水位超警戒', severity: 'critical', link: '/iot/alarms' })
    expect(n.unread).toBe(4)
  })

  it('turns a duty message to the user\'s department into a notice linking to the inbox', () => {
    const n = useNotifications()
    expect(n.fromEvent({ type: 'duty.message', index: 7, data: { id: 3, title: '今晚有强降雨', body: '今晚有强降雨，请加强巡查' } })).toEqual({ added: true, sound: true })
    expect(n.items[0]).toMatchObject({ kind: 'message', title: '今晚有强降雨', link: '/duty/messages', messageKey: 'notify.dutyMessage' })
  })

  it('ignores a redelivered event (same type, id and index)', () => {
    const n = useNotifications()
    const e = { type: 'case.urged', index: 9, data: { id: 1, title: 'x' } }
    expect(n.fromEvent(e).added).toBe(true)
    expect(n.fromEvent(e).added).toBe(false)
    expect(n.items).toHaveLength(1)
  })

  it('marks read and caps the list', () => {
    const n = useNotifications()
    for (let i = 0; i < MAX_NOTICES + 20; i++) n.fromEvent({ type: 'alarm.raised', index: i, data: { id: i, title: `a${i}` } })
    expect(n.items).toHaveLength(MAX_NOTICES)
    expect(n.items[0].title).toBe(`a${MAX_NOTICES + 19}`)
    n.markRead(n.items[0].id)
    expect(n.unread).toBe(MAX_NOTICES - 1)
    n.markAllRead()
    expect(n.unread).toBe(0)
    n.clear()
    expect(n.items).toHaveLength(0)
  })
})
