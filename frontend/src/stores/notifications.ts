// Notification centre: alarms, 催办/督办 and assignments arriving as live
// events, newest first, with an optional sound.
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { LiveEvent } from '@/api/types'

export type NoticeKind = 'alarm' | 'urge' | 'supervise' | 'assign' | 'case' | 'message' | 'ops'

export interface Notice {
  id: string
  kind: NoticeKind
  /** i18n key of the message template, with {title}. */
  messageKey: string
  title: string
  time: string
  severity?: string
  link?: string
  read: boolean
}

/** Which live events become notifications, and how. */
export const NOTICE_EVENTS: Record<string, { kind: NoticeKind; key: string; sound: boolean }> = {
  'alarm.raised': { kind: 'alarm', key: 'notify.alarmRaised', sound: true },
  'alarm.cleared': { kind: 'alarm', key: 'notify.alarmCleared', sound: false },
  'case.urged': { kind: 'urge', key: 'notify.caseUrged', sound: true },
  'case.supervised': { kind: 'supervise', key: 'notify.caseSupervised', sound: true },
  'case.assigned': { kind: 'assign', key: 'notify.caseAssigned', sound: true },
  'duty.message': { kind: 'message', key: 'notify.dutyMessage', sound: true },
  'ops.warning': { kind: 'ops', key: 'notify.opsWarning', sound: true },
  'ops.warning_cleared': { kind: 'ops', key: 'notify.opsWarningCleared', sound: false },
}

export const MAX_NOTICES = 200

export function noticeFromEvent(e: LiveEvent): Notice | null {
  const spec = NOTICE_EVENTS[e.type]
  if (!spec) return null
  const d = (e.data ?? {}) as Record<string, any>
  const id = String(d.id ?? d.case_id ?? d.alarm_id ?? e.index ?? Math.random())
  const link = spec.kind === 'alarm' ? '/iot/alarms' : spec.kind === 'message' ? '/duty/messages' : spec.kind === 'ops' ? '/system/operations' : '/cases'
  return {
    id: `${e.type}:${id}:${e.index ?? ''}`,
    kind: spec.kind,
    messageKey: spec.key,
    title: String(d.title ?? d.name ?? d.code ?? id),
    time: e.time ?? new Date().toISOString(),
    severity: d.severity,
    link,
    read: false,
  }
}

let audioCtx: AudioContext | null = null
/** A short two-tone chime generated with WebAudio (no sound file to ship). */
export function chime(): void {
  try {
    const Ctx = (globalThis as any).AudioContext || (globalThis as any).webkitAudioContext
    if (!Ctx) return
    audioCtx ??= new Ctx() as AudioContext
    const ctx = audioCtx
    const now = ctx.currentTime
    for (const [i, f] of [880, 660].entries()) {
      const o = ctx.createOscillator()
      const g = ctx.createGain()
      o.frequency.value = f
      g.gain.setValueAtTime(0.0001, now + i * 0.18)
      g.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02)
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16)
      o.connect(g).connect(ctx.destination)
      o.start(now + i * 0.18)
      o.stop(now + i * 0.18 + 0.17)
    }
  } catch {
    /* autoplay blocked or no audio device */
  }
}

export const useNotifications = defineStore('notifications', () => {
  const items = ref<Notice[]>([])
  const unread = computed(() => items.value.filter((n) => !n.read).length)

  /** Add a notice for an event; returns whether it was added and should sound. */
  function fromEvent(e: LiveEvent): { added: boolean; sound: boolean } {
    const n = noticeFromEvent(e)
    if (!n) return { added: false, sound: false }
    if (items.value.some((x) => x.id === n.id)) return { added: false, sound: false }
    items.value.unshift(n)
    if (items.value.length > MAX_NOTICES) items.value.length = MAX_NOTICES
    return { added: true, sound: NOTICE_EVENTS[e.type].sound }
  }

  function markRead(id: string): void {
    const n = items.value.find((x) => x.id === id)
    if (n) n.read = true
  }
  function markAllRead(): void {
    items.value.forEach((n) => (n.read = true))
  }
  function clear(): void {
    items.value = []
  }

  return { items, unread, fromEvent, markRead, markAllRead, clear }
})
