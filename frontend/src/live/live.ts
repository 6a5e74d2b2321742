// One subscription API for live server events.
//
//   const live = useLive(); const off = live.on('alarm.raised', e => ...)
//
// In a browser the events arrive over Server-Sent Events (GET /api/v1/events,
// read with fetch so we can send Authorization and Last-Event-ID). Inside the
// Wails desktop shell the Go side forwards the same events as runtime events
// ('yw:event'), because the Wails asset server cannot stream. Callers never
// see the difference.

import { reactive } from 'vue'
import { authHeaders, buildUrl, notifyUnauthorized } from '@/api/client'
import type { LiveEvent } from '@/api/types'
import { SSEParser } from './sse'

export type LiveState = 'idle' | 'connecting' | 'open' | 'reconnecting'
export type Handler = (e: LiveEvent) => void

export interface Transport {
  /** Start delivering; call cb.open / cb.event / cb.error. Returns a stop function. */
  start(lastEventId: string | undefined, cb: TransportCallbacks): () => void
}
export interface TransportCallbacks {
  open(): void
  event(e: LiveEvent, id?: string): void
  /** The connection ended or failed; the client schedules a reconnect. */
  error(err?: unknown, fatal?: boolean): void
  retry?(ms: number): void
  /** The transport stays up but reports the server unreachable (desktop shell). */
  down?(): void
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(h: unknown): void
}

export interface LiveOptions {
  transport: Transport
  timers?: Timers
  minDelay?: number
  maxDelay?: number
  /** Reconnect when nothing (not even a heartbeat) arrives for this long. */
  idleTimeout?: number
}

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as number),
}

/**
 * Command-style event names some modules may emit, mapped to the names the
 * console subscribes to (docs/api-console.md). An aliased event is delivered
 * under both names.
 */
export const EVENT_ALIASES: Record<string, string> = {
  'alarm.raise': 'alarm.raised',
  'iot.alarm.raise': 'alarm.raised',
  'iot.alarm.raised': 'alarm.raised',
  'alarm.clear': 'alarm.cleared',
  'iot.alarm.clear': 'alarm.cleared',
  'iot.alarm.cleared': 'alarm.cleared',
  'alarm.ack': 'alarm.acknowledged',
  'iot.alarm.ack': 'alarm.acknowledged',
  'telemetry.batch': 'telemetry.latest',
  'iot.telemetry.batch': 'telemetry.latest',
  'case.urge': 'case.urged',
  'case.supervise': 'case.supervised',
  'case.assign': 'case.assigned',
}

/** Backoff for the n-th consecutive failure (0-based): min·2^n capped at max. */
export function backoff(n: number, min: number, max: number): number {
  return Math.min(max, min * 2 ** Math.min(n, 16))
}

export class LiveClient {
  readonly status = reactive({ state: 'idle' as LiveState, failures: 0, lastEventId: undefined as string | undefined, lastEventAt: 0 })
  private handlers = new Map<string, Set<Handler>>()
  private stopTransport: (() => void) | null = null
  private reconnectTimer: unknown = null
  private idleTimer: unknown = null
  private readonly timers: Timers
  private readonly minDelay: number
  private maxDelay: number
  private readonly idleTimeout: number
  private running = false
  private readonly transport: Transport

  constructor(opts: LiveOptions) {
    this.transport = opts.transport
    this.timers = opts.timers ?? defaultTimers
    this.minDelay = opts.minDelay ?? 1000
    this.maxDelay = opts.maxDelay ?? 15000
    this.idleTimeout = opts.idleTimeout ?? 45000
  }

  /** Subscribe to one event type, a prefix ('case.*') or everything ('*'). */
  on(type: string, fn: Handler): () => void {
    let set = this.handlers.get(type)
    if (!set) this.handlers.set(type, (set = new Set()))
    set.add(fn)
    return () => {
      set!.delete(fn)
    }
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.connect()
  }

  stop(): void {
    this.running = false
    this.timers.clearTimeout(this.reconnectTimer)
    this.timers.clearTimeout(this.idleTimer)
    this.reconnectTimer = null
    this.stopTransport?.()
    this.stopTransport = null
    this.status.state = 'idle'
  }

  /** Deliver an event to subscribers (also used by tests and local echoes). */
  emit(e: LiveEvent): void {
    const fire = (key: string) => this.handlers.get(key)?.forEach((h) => {
      try {
        h(e)
      } catch (err) {
        console.error('live handler', key, err)
      }
    })
    fire(e.type)
    const dot = e.type.indexOf('.')
    if (dot > 0) fire(e.type.slice(0, dot) + '.*')
    fire('*')
    const alias = EVENT_ALIASES[e.type]
    if (alias) this.emit({ ...e, type: alias })
  }

  private connect(): void {
    if (!this.running) return
    this.status.state = this.status.failures > 0 ? 'reconnecting' : 'connecting'
    let done = false
    const cb: TransportCallbacks = {
      open: () => {
        if (done) return
        this.status.state = 'open'
        this.status.failures = 0
        this.touch()
      },
      event: (e, id) => {
        if (done) return
        if (id) this.status.lastEventId = id
        else if (e.index !== undefined) this.status.lastEventId = String(e.index)
        this.touch()
        if (e.type) this.emit(e)
      },
      error: () => {
        if (done) return
        done = true
        this.stopTransport?.()
        this.stopTransport = null
        this.scheduleReconnect()
      },
      down: () => {
        if (done) return
        this.status.state = 'reconnecting'
        this.status.failures++
      },
      retry: (ms) => {
        if (ms > 0) this.maxDelay = Math.max(ms, this.minDelay)
      },
    }
    this.stopTransport = this.transport.start(this.status.lastEventId, cb)
  }

  /** Something arrived (event or heartbeat): reset the idle watchdog. */
  touch(): void {
    this.status.lastEventAt = Date.now()
    this.timers.clearTimeout(this.idleTimer)
    if (this.idleTimeout > 0 && this.running) {
      this.idleTimer = this.timers.setTimeout(() => {
        // Silent connection: treat as dead.
        this.stopTransport?.()
        this.stopTransport = null
        this.scheduleReconnect()
      }, this.idleTimeout)
    }
  }

  private scheduleReconnect(): void {
    if (!this.running) return
    this.timers.clearTimeout(this.idleTimer)
    const delay = backoff(this.status.failures, this.minDelay, this.maxDelay)
    this.status.failures++
    this.status.state = 'reconnecting'
    this.timers.clearTimeout(this.reconnectTimer)
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null
      this.connect()
    }, delay)
  }
}

function parseEvent(data: string, fallbackType: string): LiveEvent | null {
  try {
    const v = JSON.parse(data) as LiveEvent
    if (!v || typeof v !== 'object') return null
    if (!v.type) v.type = fallbackType
    return v
  } catch {
    return null
  }
}

/** SSE over fetch: sends Authorization and Last-Event-ID headers. */
export function sseTransport(path = '/api/v1/events'): Transport {
  return {
    start(lastEventId, cb) {
      const ctrl = new AbortController()
      const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeaders() }
      if (lastEventId) headers['Last-Event-ID'] = lastEventId
      const parser = new SSEParser((m) => {
        if (m.retry !== undefined) cb.retry?.(m.retry)
        const e = parseEvent(m.data, m.event)
        if (e) cb.event(e, m.id)
      })
      ;(async () => {
        const res = await fetch(buildUrl(path), { headers, signal: ctrl.signal, credentials: 'same-origin', cache: 'no-store' })
        if (res.status === 401) notifyUnauthorized()
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`)
        cb.open()
        const reader = res.body.getReader()
        const dec = new TextDecoder()
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          // Any bytes (including ': ping' comments) prove the link is alive.
          cb.open()
          parser.feed(dec.decode(value, { stream: true }))
        }
        throw new Error('events: stream ended')
      })().catch((err) => {
        if (!ctrl.signal.aborted) cb.error(err)
      })
      return () => ctrl.abort()
    },
  }
}

interface WailsRuntime {
  EventsOn(name: string, cb: (...args: any[]) => void): () => void
}

export function wailsRuntime(): WailsRuntime | null {
  const w = globalThis as unknown as { runtime?: WailsRuntime; go?: unknown }
  if (w.runtime && typeof w.runtime.EventsOn === 'function') return w.runtime
  return null
}

/**
 * Wails runtime events: the Go shell emits 'yw:event' with a LiveEvent and
 * 'yw:connection' with {state:'open'|'down'} when its link to the server
 * changes (client mode).
 */
export function wailsTransport(rt: WailsRuntime): Transport {
  return {
    start(_lastEventId, cb) {
      const offEvent = rt.EventsOn('yw:event', (payload: unknown) => {
        const e = typeof payload === 'string' ? parseEvent(payload, 'message') : (payload as LiveEvent)
        if (e && e.type) cb.event(e)
      })
      const offConn = rt.EventsOn('yw:connection', (p: { state?: string }) => {
        if (p?.state === 'open') cb.open()
        else if (p?.state === 'down') cb.down?.()
      })
      cb.open()
      return () => {
        offEvent?.()
        offConn?.()
      }
    },
  }
}

let singleton: LiveClient | null = null

export function useLive(): LiveClient {
  if (!singleton) {
    const rt = wailsRuntime()
    // The desktop shell has no idle heartbeats; SSE sends one every 15 s.
    singleton = rt ? new LiveClient({ transport: wailsTransport(rt), idleTimeout: 0 }) : new LiveClient({ transport: sseTransport() })
  }
  return singleton
}

/** For tests. */
export function _resetLive(c: LiveClient | null = null): void {
  singleton?.stop()
  singleton = c
}
