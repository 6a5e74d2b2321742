import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { useNotifications } from './notifications'

// app/ops publishes disk and backup warnings as transient live events
// (index 0) with {id, title, kind, message, since}.
describe('operations warnings in the notification centre', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('a disk warning sounds and links to the operations page; its end is silent', () => {
    const n = useNotifications()
    const data = { id: 'disk:2026-12-05T22:00:00Z', kind: 'disk', title: 'the disk of the data directory /var/lib/yiwang is 93.0% full', since: '2026-12-05T22:00:00Z' }
    expect(n.fromEvent({ type: 'ops.warning', index: 0, data })).toEqual({ added: true, sound: true })
    expect(n.items[0]).toMatchObject({ kind: 'ops', messageKey: 'notify.opsWarning', link: '/system/operations', title: data.title })
    expect(n.fromEvent({ type: 'ops.warning_cleared', index: 0, data })).toEqual({ added: true, sound: false })
    expect(n.items.map((x) => x.messageKey)).toEqual(['notify.opsWarningCleared', 'notify.opsWarning'])
  })
})
