// A small Server-Sent Events parser (WHATWG rules for the fields we use:
// id, event, data, retry, comments). It is fed text chunks in any split and
// calls onMessage for each complete message.

export interface SSEMessage {
  id?: string
  event: string
  data: string
  retry?: number
}

export class SSEParser {
  private buf = ''
  private data: string[] = []
  private event = ''
  private id: string | undefined
  private retry: number | undefined
  constructor(private readonly onMessage: (m: SSEMessage) => void) {}

  feed(chunk: string): void {
    this.buf += chunk
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf)
      if (!m) return
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) return
      const line = this.buf.slice(0, m.index)
      this.buf = this.buf.slice(m.index + m[0].length)
      this.line(line)
    }
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch()
      return
    }
    if (line.startsWith(':')) return // comment / heartbeat
    const i = line.indexOf(':')
    const field = i < 0 ? line : line.slice(0, i)
    let value = i < 0 ? '' : line.slice(i + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'data':
        this.data.push(value)
        break
      case 'event':
        this.event = value
        break
      case 'id':
        if (!value.includes('\0')) this.id = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value)
        break
    }
  }

  private dispatch(): void {
    if (this.data.length === 0) {
      this.event = ''
      return
    }
    const msg: SSEMessage = { event: this.event || 'message', data: this.data.join('\n'), id: this.id }
    if (this.retry !== undefined) msg.retry = this.retry
    this.data = []
    this.event = ''
    this.retry = undefined
    this.onMessage(msg)
  }
}
