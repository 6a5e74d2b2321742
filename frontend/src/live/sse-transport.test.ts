import { afterEach, describe, expect, it, vi } from 'vitest'
import { setToken, setUnauthorizedHandler } from '@/api/client'
import { LiveClient, sseTransport } from './live'

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder()
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch))
      c.close()
    },
  })
}

describe('sseTransport over fetch', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    setToken(null)
    setUnauthorizedHandler(null)
  })

  it('sends the bearer token, parses events, and resumes with Last-Event-ID after the stream ends', async () => {
    setToken('T9')
    const calls: Record<string, string>[] = []
    const fetchMock = vi.fn(async (_url: string, init: RequestInit) => {
      calls.push({ ...(init.headers as Record<string, string>) })
      if (calls.length === 1)
        return new Response(streamOf(['retry: 3000\n: connected\n\n', 'id: 41\nevent: alarm.raised\ndata: {"type":"alarm.raised","index":41,', '"data":{"id":7}}\n\n']), { status: 200 })
      return new Response(streamOf([': ping\n\n']), { status: 200 })
    })
    vi.stubGlobal('fetch', fetchMock)
    const c = new LiveClient({ transport: sseTransport(), minDelay: 5, maxDelay: 10, idleTimeout: 0 })
    const got = vi.fn()
    c.on('alarm.raised', got)
    c.start()
    await vi.waitFor(() => expect(calls.length).toBeGreaterThanOrEqual(2), { timeout: 2000 })
    c.stop()
    expect(got).toHaveBeenCalledTimes(1)
    expect(got.mock.calls[0][0]).toMatchObject({ type: 'alarm.raised', index: 41, data: { id: 7 } })
    expect(calls[0].Authorization).toBe('Bearer T9')
    expect(calls[0]['Last-Event-ID']).toBeUndefined()
    expect(calls[1]['Last-Event-ID']).toBe('41')
  })

  it('a 401 on the stream calls the unauthorized handler', async () => {
    const onUnauth = vi.fn()
    setUnauthorizedHandler(onUnauth)
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"error":{"code":"unauthorized"}}', { status: 401 })))
    const c = new LiveClient({ transport: sseTransport(), minDelay: 1000, idleTimeout: 0 })
    c.start()
    await vi.waitFor(() => expect(onUnauth).toHaveBeenCalled(), { timeout: 2000 })
    expect(c.status.state).toBe('reconnecting')
    c.stop()
  })
})
