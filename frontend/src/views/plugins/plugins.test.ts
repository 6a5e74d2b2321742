import { describe, expect, it } from 'vitest'
import { buildInstallRequest, canInstall, formatNs, isTrusted, newApprovalForm, toBase64, type Inspection } from './plugins'

const ins = (signed: boolean): Inspection => ({
  manifest: { name: 'x', version: '1.0.0', abi: 1, permissions: ['devices.decode', 'http'], hosts: ['a.example', 'b.example:8080'], settings: { k: 'v' } },
  digest: 'd', signed, signer_key_id: signed ? 'k1' : undefined,
})

describe('plugin approval', () => {
  it('ticks every declared host and leaves the unsigned override off', () => {
    const f = newApprovalForm(ins(false))
    expect(f).toEqual({ hosts: { 'a.example': true, 'b.example:8080': true }, allowUnsigned: false })
    expect(canInstall(false, f)).toBe(false)
    expect(canInstall(true, f)).toBe(true)
    f.allowUnsigned = true
    expect(canInstall(false, f)).toBe(true)
  })
  it('trusts only a signer among the trusted keys', () => {
    expect(isTrusted(ins(true), ['k0', 'k1'])).toBe(true)
    expect(isTrusted(ins(true), ['k0'])).toBe(false)
    expect(isTrusted(ins(false), ['k1'])).toBe(false)
  })
  it('builds the install request from the form', () => {
    const i = ins(false)
    const f = newApprovalForm(i)
    f.hosts['a.example'] = false
    f.allowUnsigned = true
    expect(buildInstallRequest('QUJD', i, f, false)).toEqual({
      package: 'QUJD',
      approval: { permissions: ['devices.decode', 'http'], hosts: ['b.example:8080'], settings: { k: 'v' }, allow_unsigned: true },
    })
  })
  it('never sends allow_unsigned for a trusted package and omits empty hosts', () => {
    const i = ins(true)
    const f = newApprovalForm(i)
    f.hosts = {}
    f.allowUnsigned = true
    expect(buildInstallRequest('', i, f, true).approval).toEqual({ permissions: ['devices.decode', 'http'], settings: { k: 'v' } })
  })
  it('encodes bytes and durations', () => {
    expect(toBase64(new Uint8Array([65, 66, 67]))).toBe('QUJD')
    expect(formatNs(0)).toBe('0')
    expect(formatNs(12_300_000)).toBe('12.3 ms')
    expect(formatNs(850_000)).toBe('850.0 µs')
  })
})
