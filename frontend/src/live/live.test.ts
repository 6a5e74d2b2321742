import { describe, expect, it, vi } from 'vitest'
import { SSEParser, type SSEMessage } from './sse'
import { backoff, LiveClient, wailsTransport, type Timers, type Transport, type TransportCallbacks } from './live'

describe('SSEParser', () => {
  it('parses messages split across arbitrary chunks', () => {
    const got: SSEMessage[] = []
    const p = new SSEParser((m) => got.push(m))
    const text = 'retry: 3000\n: ping\n\nid: 41\nevent: alarm.raised\ndata: {"type":"alarm.raised",\ndata: "index":41}\n\r\nid: 42\r\ndata: {"type":"case.updated","index":42}\r\n\r\n'
    for (let i = 0; i < text.length; i += 3) p.feed(text.slice(i, i + 3))
    expect(got).toHaveLength(2)
    expect(got[0]).toMatchObject({ id: '41', event: 'alarm.raised', data: '{"type":"alarm.raised",\n"index":41}' })
    expect(got[1]).toMatchObject({ id: '42', event: 'message' })
    expect(JSON.parse(got[1].data).type).toBe('case.updated')
  })

  it('keeps the last id for later messages and ignores comments-only blocks', () => {
    const got: SSEMessage[] = []
    const p = new SSEParser((m) => got.push(m))
    p.feed('id: 7\ndata: a\n\n: heartbeat\n\ndata: b\n\n')
    expect(got.map((m) => [m.id, m.data])).toEqual([
      ['7', 'a'],
      ['7', 'b'],
    ])
  })
})

/** Manual timers: run() fires what is due. */
function fakeTimers() {
  let now = 0
  let seq = 0
  const pending = new Map<number, { at: number; fn: () => void }>()
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn })
      return seq
    },
    clearTimeout: (h) => pending.delete(h as number),
  }
  return {
    timers,
    advance(ms: number) {
      now += ms
      for (;;) {
        const due = [...pending.entries()].filter(([, v]) => v.at <= now).sort((a, b) => a[1].at - b[1].at)[0]
        if (!due) break
        pending.delete(due[0])
        due[1].fn()
      }
    },
    pendingDelays: () => [...pending.values()].map((v) => v.at - now),
  }
}

/** A transport driven by the test. */
function fakeTransport() {
  const starts: (string | undefined)[] = []
  let cb: TransportCallbacks | null = null
  let stopped = 0
  const t: Transport = {
    start(lastId, c) {
      starts.push(lastId)
      cb = c
      return () => {
        stopped++
      }
    },
  }
  return { t, starts, cb: () => cb!, stopped: () => stopped }
}

describe('LiveClient', () => {
  it('delivers events to exact, prefix and catch-all subscribers', () => {
    const ft = fakeTransport()
    const c = new LiveClient({ transport: ft.t, timers: fakeTimers().timers })
    const exact = vi.fn()
    const prefix = vi.fn()
    const all = vi.fn()
    const other = vi.fn()
    c.on('alarm.raised', exact)
    c.on('alarm.*', prefix)
    c.on('*', all)
    const off = c.on('case.updated', other)
    c.start()
    ft.cb().open()
    ft.cb().event({ type: 'alarm.raised', index: 5, data: { id: 1 } })
    off()
    ft.cb().event({ type: 'case.updated', index: 6, data: {} })
    expect(exact).toHaveBeenCalledTimes(1)
    expect(prefix).toHaveBeenCalledTimes(1)
    expect(all).toHaveBeenCalledTimes(2)
    expect(other).not.toHaveBeenCalled()
  })

  it('reconnects with backoff and resumes from the last event id', () => {
    const ft = fakeTransport()
    const fk = fakeTimers()
    const c = new LiveClient({ transport: ft.t, timers: fk.timers, minDelay: 1000, maxDelay: 8000, idleTimeout: 0 })
    c.start()
    expect(c.status.state).toBe('connecting')
    ft.cb().open()
    expect(c.status.state).toBe('open')
    ft.cb().event({ type: 'telemetry.latest', index: 41, data: {} }, '41')
    ft.cb().error(new Error('gone'))
    expect(c.status.state).toBe('reconnecting')
    expect(fk.pendingDelays()).toEqual([1000])
    fk.advance(1000)
    expect(ft.starts).toEqual([undefined, '41'])
    // Fails again before opening: the delay doubles, capped at maxDelay.
    ft.cb().error()
    expect(fk.pendingDelays()).toEqual([2000])
    fk.advance(2000)
    ft.cb().error()
    fk.advance(4000)
    ft.cb().error()
    expect(fk.pendingDelays()).toEqual([8000])
    fk.advance(8000)
    ft.cb().error()
    expect(fk.pendingDelays()).toEqual([8000])
    fk.advance(8000)
    // Success resets the failure count.
    ft.cb().open()
    expect(c.status.failures).toBe(0)
    expect(c.status.state).toBe('open')
    ft.cb().error()
    expect(fk.pendingDelays()).toEqual([1000])
    expect(ft.starts.at(-1)).toBe('41')
  })

  it('uses the event index as the resume point when the SSE id is absent', () => {
    const ft = fakeTransport()
    const fk = fakeTimers()
    const c = new LiveClient({ transport: ft.t, timers: fk.timers, idleTimeout: 0 })
    c.start()
    ft.cb().open()
    ft.cb().event({ type: 'case.updated', index: 99, data: {} })
    ft.cb().error()
    fk.advance(1000)
    expect(ft.starts).toEqual([undefined, '99'])
  })

  it('treats a silent connection as dead after the idle timeout', () => {
    const ft = fakeTransport()
    const fk = fakeTimers()
    const c = new LiveClient({ transport: ft.t, timers: fk.timers, idleTimeout: 45000, minDelay: 1000 })
    c.start()
    ft.cb().open()
    fk.advance(30000)
    ft.cb().open() // heartbeat bytes
    fk.advance(30000)
    expect(ft.stopped()).toBe(0)
    fk.advance(15000)
    expect(ft.stopped()).toBe(1)
    expect(c.status.state).toBe('reconnecting')
    fk.advance(1000)
    expect(ft.starts).toHaveLength(2)
  })

  it('ignores callbacks from a transport it already dropped, and stop() cancels reconnects', () => {
    const ft = fakeTransport()
    const fk = fakeTimers()
    const c = new LiveClient({ transport: ft.t, timers: fk.timers, idleTimeout: 0 })
    const all = vi.fn()
    c.on('*', all)
    c.start()
    const first = ft.cb()
    first.error()
    first.event({ type: 'late', data: {} })
    first.error()
    expect(all).not.toHaveBeenCalled()
    expect(fk.pendingDelays()).toHaveLength(1)
    c.stop()
    expect(fk.pendingDelays()).toHaveLength(0)
    expect(c.status.state).toBe('idle')
  })

  it('delivers command-style names under the documented name too', () => {
    const ft = fakeTransport()
    const c = new LiveClient({ transport: ft.t, timers: fakeTimers().timers, idleTimeout: 0 })
    const raised = vi.fn()
    const raw = vi.fn()
    c.on('alarm.raised', raised)
    c.on('iot.alarm.raise', raw)
    c.start()
    ft.cb().event({ type: 'iot.alarm.raise', index: 1, data: { id: 3 } })
    expect(raw).toHaveBeenCalledTimes(1)
    expect(raised).toHaveBeenCalledTimes(1)
    expect(raised.mock.calls[0][0]).toMatchObject({ type: 'alarm.raised', index: 1, data: { id: 3 } })
  })

  it('backoff grows exponentially and is capped', () => {
    expect([0, 1, 2, 3, 4, 10, 100].map((n) => backoff(n, 500, 15000))).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000])
  })
})

describe('wailsTransport', () => {
  it('turns runtime events into live events and link state', () => {
    const handlers: Record<string, (p: any) => void> = {}
    const rt = { EventsOn: (name: string, fn: (p: any) => void) => ((handlers[name] = fn), () => delete handlers[name]) }
    const c = new LiveClient({ transport: wailsTransport(rt), timers: fakeTimers().timers, idleTimeout: 0 })
    const got = vi.fn()
    c.on('alarm.raised', got)
    c.start()
    expect(c.status.state).toBe('open')
    handlers['yw:event']({ type: 'alarm.raised', index: 3, data: { id: 1 } })
    handlers['yw:event']('{"type":"alarm.raised","index":4,"data":{}}')
    expect(got).toHaveBeenCalledTimes(2)
    handlers['yw:connection']({ state: 'down' })
    expect(c.status.state).toBe('reconnecting')
    handlers['yw:connection']({ state: 'open' })
    expect(c.status.state).toBe('open')
    c.stop()
    expect(Object.keys(handlers)).toEqual([])
  })
})
